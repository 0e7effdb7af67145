"""`splunk.clilib.cli_common.getConfKeyValue`: only server.conf's serverName is modelled."""

from __future__ import annotations

import os


def getConfKeyValue(conf: str, stanza: str, key: str) -> str:  # noqa: N802
    if (conf, stanza, key) == ("server", "general", "serverName"):
        return os.environ.get("MDE_STANDIN_SERVER_NAME", "standin-sh")
    raise KeyError(f"{conf}.conf [{stanza}] {key} is not modelled by the stand-in")
