"""``splunk.clilib.bundle_paths.make_splunkhome_path``: solnlib 8 builds every path under
``$SPLUNK_HOME`` with it (log files, the modular inputs' checkpoint directory)."""

from __future__ import annotations

import os
from collections.abc import Sequence


def make_splunkhome_path(parts: Sequence[str]) -> str:
    home = os.path.normpath(os.environ["SPLUNK_HOME"])
    path = os.path.normpath(os.path.join(home, *parts))
    if os.path.commonpath([home, path]) != home:
        raise ValueError(f"Illegal escape from parent directory {home!r}: {path!r}")
    return path
