"""Read the project's locks and compare them with what is really installed.

Two locks, both written by `make lock` (uv) and installed with hashes checked:
`requirements-dev.txt` for the tools in `.venv`, and `package/lib/requirements.txt`
for the libraries ucc-gen bundles under the package's `lib/`. A lock only protects a
build if what is installed is exactly what it names, so these functions list every
installed distribution that the lock does not pin, or pins at another version.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Optional

from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements-dev.txt"
LIB_LOCK = ROOT / "package" / "lib" / "requirements.txt"
DEV_INPUT = ROOT / "requirements-dev.in"
LIB_INPUT = ROOT / "requirements-lib.in"
LIB_EXCLUDES = ROOT / "package" / "lib" / "exclude.txt"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?\s*$")
_INPUT_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([^\s;#]+))?")


def canonical(name: str) -> str:
    """PEP 503 name: `PyJWT`, `pyjwt` and `py_jwt` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    marker: Optional[str]
    hashes: int
    line: int

    def applies(self, environment: Optional[Mapping[str, str]] = None) -> bool:
        return self.marker is None or Marker(self.marker).evaluate(dict(environment) if environment else None)


def read_lock(path: Path) -> list[Pin]:
    """Every `name==version [; marker]` entry of a lock, with how many `--hash` lines follow it."""
    pins: list[Pin] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("--hash="):
            if pins:
                last = pins[-1]
                pins[-1] = Pin(last.name, last.version, last.marker, last.hashes + 1, last.line)
            continue
        match = _PIN.match(line)
        if match:
            name, version, marker = match.groups()
            pins.append(Pin(canonical(name), version, marker or None, 0, number))
    return pins


def read_inputs(path: Path) -> dict[str, Optional[str]]:
    """Direct requirements of a `requirements-*.in` file: name -> pinned version (None if unpinned)."""
    found: dict[str, Optional[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _INPUT_PIN.match(line)
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def read_excludes(path: Path = LIB_EXCLUDES) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(canonical(line))
    return names


def _name_version(metadata: str) -> tuple[str, str]:
    headers = HeaderParser().parsestr(metadata, headersonly=True)
    return canonical(str(headers["Name"])), str(headers["Version"])


def installed_in(directory: Path) -> dict[str, str]:
    """Distributions installed in a site-packages or lib/ folder: canonical name -> version."""
    found: dict[str, str] = {}
    for meta in sorted(directory.glob("*.dist-info/METADATA")) + sorted(directory.glob("*.egg-info/PKG-INFO")):
        name, version = _name_version(meta.read_text(encoding="utf-8", errors="replace"))
        found[name] = version
    return found


def installed_in_package(package: Path) -> dict[str, str]:
    """Distributions under the built package's `lib/`, read from the .tar.gz without unpacking it."""
    found: dict[str, str] = {}
    with tarfile.open(package) as archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if len(parts) == 4 and parts[1] == "lib" and parts[2].endswith(".dist-info") and parts[3] == "METADATA":
                handle = archive.extractfile(member)
                if handle is not None:
                    name, version = _name_version(handle.read().decode("utf-8", errors="replace"))
                    found[name] = version
    return found


def unpinned_or_different(
    installed: Mapping[str, str],
    lock: Iterable[Pin],
    lock_name: str,
    environment: Optional[Mapping[str, str]] = None,
) -> list[str]:
    """One sentence per installed distribution the lock does not pin at its installed version."""
    applicable: dict[str, str] = {}
    for pin in lock:
        if pin.applies(environment):
            applicable[pin.name] = pin.version
    problems = []
    for name, version in sorted(installed.items()):
        locked = applicable.get(name)
        if locked is None:
            problems.append(f"{name} {version} is installed but {lock_name} does not pin it")
        elif locked != version:
            problems.append(f"{name} {version} is installed but {lock_name} pins {locked}")
    return problems


def missing(
    installed: Mapping[str, str],
    lock: Iterable[Pin],
    lock_name: str,
    allowed_missing: Iterable[str] = (),
    environment: Optional[Mapping[str, str]] = None,
) -> list[str]:
    """One sentence per pin that applies here but is not installed."""
    skip = {canonical(name) for name in allowed_missing}
    return [
        f"{pin.name} {pin.version} is pinned in {lock_name} but not installed"
        for pin in lock
        if pin.applies(environment) and pin.name not in installed and pin.name not in skip
    ]


def lock_defects(lock: Iterable[Pin], lock_name: str) -> list[str]:
    """Entries that pip's --require-hashes would refuse, or that pin one name twice for one environment."""
    problems = []
    seen: dict[tuple[str, Optional[str]], str] = {}
    for pin in lock:
        if pin.hashes == 0:
            problems.append(f"{pin.name} {pin.version} (line {pin.line} of {lock_name}) has no --hash")
        earlier = seen.setdefault((pin.name, pin.marker), pin.version)
        if earlier != pin.version:
            problems.append(f"{pin.name} is pinned twice in {lock_name}: {earlier} and {pin.version}")
    return problems


def inputs_not_locked(inputs: Mapping[str, Optional[str]], lock: Iterable[Pin], lock_name: str) -> list[str]:
    """Direct requirements the lock lacks, or locks at another version than the .in file pins."""
    versions: dict[str, set[str]] = {}
    for pin in lock:
        versions.setdefault(pin.name, set()).add(pin.version)
    problems = []
    for name, wanted in sorted(inputs.items()):
        if name not in versions:
            problems.append(f"{name} is a direct requirement but {lock_name} lacks it: run `make lock`")
        elif wanted is not None and versions[name] != {wanted}:
            found = ", ".join(sorted(versions[name]))
            problems.append(f"{name}: the .in file asks for {wanted}, {lock_name} pins {found}: run `make lock`")
    return problems
