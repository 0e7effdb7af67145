"""`splunk.clilib` (stand-in)."""
