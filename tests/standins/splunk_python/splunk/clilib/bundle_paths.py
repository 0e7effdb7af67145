"""`splunk.clilib.bundle_paths.make_splunkhome_path`: a path under $SPLUNK_HOME."""

from __future__ import annotations

import os


def make_splunkhome_path(parts: list[str]) -> str:
    return os.path.join(os.environ["SPLUNK_HOME"], *parts)
