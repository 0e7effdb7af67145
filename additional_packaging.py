"""Post-processing that ucc-gen runs on the built add-on (its `cleanup_output_files` hook).

Why this exists: ucc-gen installs `package/lib/requirements.txt` with the build machine's
pip, so compiled libraries arrive built for *this* machine (CPython 3.11, glibc 2.34+).
Splunk runs the add-on with its own Python 3.9 or 3.13 on Linux x86_64, Linux aarch64
(RHEL 8: glibc 2.28) and Windows x64, none of which can load those files. This hook
replaces them with wheels chosen for that matrix, one folder per platform under
`lib/3rdparty/`, which `mde_alerts.platform_libs` puts on `sys.path` at run time.
UCC's own `os-dependentLibraries` cannot express this: it selects by OS and Python
version, not by CPU architecture, and an abi3 module has the same file name on x86_64
and aarch64.

It also removes what the add-on never uses and would only cost AppInspect warnings:
excluded packages' leftovers, pip's console scripts, and optional mypyc accelerators.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (folder under lib/3rdparty, pip --platform tags in preference order). The folder names
# are what `mde_alerts.platform_libs.platform_folder()` computes on each platform.
PLATFORMS: dict[str, list[str]] = {
    "linux_x86_64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "linux_aarch64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"],
    "windows_amd64": ["win_amd64"],
}
# Distributions whose compiled code is replaced, with the Splunk Python versions each is
# fetched for. cryptography is abi3: one wheel for the oldest version loads on every
# later one, and a second download would overwrite it with a cp311-abi3 build that 3.9
# cannot load. cffi is built per version; its files carry the version in their names.
COMPILED_DISTRIBUTIONS = {"cryptography": ["3.9.18"], "cffi": ["3.9.18", "3.13.0"]}
# Compiled modules that have a pure-Python twin in the same package (mypyc builds).
OPTIONAL_ACCELERATORS = ["charset_normalizer"]
# Leftovers of packages excluded in package/lib/exclude.txt that pip cannot uninstall
# by name (namespace packages), and console scripts pip put under lib/bin.
LEFTOVERS = ["opentelemetry", "opentelemetry_*.dist-info", "bin", "google", "grpc"]
COMPILED_SUFFIXES = (".so", ".pyd", ".dll", ".dylib")


def pinned_versions() -> dict[str, str]:
    """Versions from package/lib/requirements.txt: the one place they are pinned."""
    pins: dict[str, str] = {}
    for line in (HERE / "package" / "lib" / "requirements.txt").read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def wheel_cache() -> Path:
    path = Path(os.environ.get("MDE_WHEEL_CACHE", HERE / ".work" / "wheels"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def download_wheels(name: str, version: str, platform_tags: list[str], python_version: str) -> list[Path]:
    """Fetch the binary wheel pip would choose for that interpreter and platform."""
    dest = Path(tempfile.mkdtemp(prefix="wheels-", dir=wheel_cache()))
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--dest",
        str(dest),
    ]
    for tag in platform_tags:
        command += ["--platform", tag]
    command.append(f"{name}=={version}")
    subprocess.run(command, check=True)
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"pip found no wheel of {name}=={version} for {platform_tags} / Python {python_version}")
    return wheels


def remove_distribution(lib: Path, name: str) -> None:
    """Remove an installed distribution from lib/ using its RECORD."""
    normalized = name.replace("-", "_").lower()
    for dist_info in lib.glob("*.dist-info"):
        if dist_info.name.split("-")[0].lower() != normalized:
            continue
        record = dist_info / "RECORD"
        for line in record.read_text().splitlines():
            relative = line.split(",")[0]
            target = lib / relative
            if target.is_file():
                target.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
    for path in sorted(lib.rglob("*"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def install_platform_libraries(lib: Path) -> None:
    pins = pinned_versions()
    for distribution in COMPILED_DISTRIBUTIONS:
        remove_distribution(lib, distribution)
    for folder, platform_tags in PLATFORMS.items():
        target = lib / "3rdparty" / folder
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for distribution, python_versions in COMPILED_DISTRIBUTIONS.items():
            for python_version in python_versions:
                for wheel in download_wheels(distribution, pins[distribution], platform_tags, python_version):
                    with zipfile.ZipFile(wheel) as archive:
                        archive.extractall(target)


def remove_optional_accelerators(lib: Path) -> None:
    for package in OPTIONAL_ACCELERATORS:
        for path in (lib / package).rglob("*"):
            if path.suffix in COMPILED_SUFFIXES:
                path.unlink()


def normalize_modes(app: Path) -> None:
    """Files 0644, folders 0755: what AppInspect and Splunk Cloud expect."""
    for path in app.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    app.chmod(0o755)


def cleanup_output_files(output_path: str, ta_name: str) -> None:
    app = Path(output_path) / ta_name
    lib = app / "lib"
    for pattern in LEFTOVERS:
        for leftover in lib.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)
    for stray in ("requirements.txt", "exclude.txt"):
        (lib / stray).unlink(missing_ok=True)
    remove_optional_accelerators(lib)
    install_platform_libraries(lib)
    for cache in app.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    normalize_modes(app)


def additional_packaging(ta_name: str) -> None:
    """Nothing to do here: all post-processing needs the output path (see above)."""
