"""Microsoft Defender for Endpoint alerts for Splunk: the add-on's own code.

Modules: `collector` decides what to ask Defender and what is new (pure); `defender_api`
is the only HTTP client; `timeutil` does the time arithmetic; `modinput` is the Splunk
glue that runs one input; `splunk_config` and `checkpoint_store` talk to splunkd.
"""
