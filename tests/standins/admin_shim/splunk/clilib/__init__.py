"""``splunk.clilib``: only ``bundle_paths``, which solnlib's ``splunkenv`` imports."""
