"""Put this platform's compiled libraries on ``sys.path``.

The package ships cryptography and cffi once per platform under
``lib/3rdparty/<platform>/`` (see ``additional_packaging.py``): abi3 modules have the
same file name on x86_64 and aarch64, so they cannot share one folder. This module
picks the folder for the running interpreter before anything imports msal.
"""

from __future__ import annotations

import os
import platform
import sys

_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def platform_folder(system: str = sys.platform, machine: str = platform.machine()) -> str:
    arch = _MACHINES.get(machine.lower(), machine.lower())
    if system.startswith("win"):
        return "windows_amd64" if arch == "x86_64" else f"windows_{arch}"
    if system.startswith("linux"):
        return f"linux_{arch}"
    return f"{system}_{arch}"


def add_to_sys_path(lib_dir: str) -> str:
    folder = os.path.join(lib_dir, "3rdparty", platform_folder())
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.insert(0, folder)
    return folder
