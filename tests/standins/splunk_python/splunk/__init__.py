"""Stand-in for the `splunk` Python package that splunkd's own Python provides.

Why it exists: splunktaucclib's alert action base (`alert_actions_base`, `cim_actions`)
imports `splunk.rest`, `splunk.util` and `splunk.clilib`, which ship with Splunk Enterprise
(`$SPLUNK_HOME/lib/python3.*/site-packages/splunk`), not with the add-on. The e2e tests put
this directory on the alert script's PYTHONPATH, as splunkd's Python has the real one; only
the functions those modules call are here, with Splunk's behaviour. It is never packaged.
"""
