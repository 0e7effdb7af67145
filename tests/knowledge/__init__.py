"""Knowledge tests: the add-on's props/transforms/eventtypes/tags checked offline and, with SPLUNK_HOST, live."""
