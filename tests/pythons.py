"""Find the Python interpreters Splunk itself uses (3.9, 3.13) on this machine.

The packaged input is run with these, not with the test runner's Python, because its
compiled libraries are built for them. pyenv's shims answer for versions that are not
selected, so each candidate is asked its version before it is used.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from functools import cache


@cache
def find_python(version: str) -> str | None:
    candidates = [os.environ.get(f"PYTHON{version.replace('.', '')}", "")]
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python3")), reverse=True)
    candidates += [shutil.which(f"python{version}") or ""]
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        try:
            answer = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    return None
