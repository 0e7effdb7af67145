"""Everything installed, in `.venv` and in the built package's `lib/`, is exactly what the locks pin.

A release on PyPI must never change what a commit builds or whether it passes: these
tests fail, naming the distribution, when anything installed is unpinned or differs
from its lock, and when a lock entry could be installed without a hash check.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from tests.lock.locks import (
    DEV_INPUT,
    DEV_LOCK,
    LIB_INPUT,
    LIB_LOCK,
    ROOT,
    Pin,
    inputs_not_locked,
    installed_in,
    installed_in_package,
    lock_defects,
    missing,
    read_excludes,
    read_inputs,
    read_lock,
    unpinned_or_different,
)

# Removed from lib/ after ucc-gen installed it (additional_packaging.py: its RECORD
# names a console script ucc-gen's exclusion cannot delete).
REMOVED_AFTER_INSTALL = {"cffi"}


def _site_packages() -> list[Path]:
    paths = sysconfig.get_paths()
    return sorted({Path(paths["purelib"]), Path(paths["platlib"])})


def test_both_locks_pin_every_entry_with_hashes() -> None:
    assert lock_defects(read_lock(DEV_LOCK), DEV_LOCK.name) == []
    assert lock_defects(read_lock(LIB_LOCK), "package/lib/requirements.txt") == []


def test_the_locks_hold_every_direct_requirement_at_its_version() -> None:
    lib_inputs = read_inputs(LIB_INPUT)
    assert inputs_not_locked(lib_inputs, read_lock(LIB_LOCK), "package/lib/requirements.txt") == []
    assert inputs_not_locked({**read_inputs(DEV_INPUT), **lib_inputs}, read_lock(DEV_LOCK), DEV_LOCK.name) == []


def test_the_tools_test_against_the_library_versions_the_package_ships() -> None:
    lib = {pin.name: pin.version for pin in read_lock(LIB_LOCK)}
    differ = [
        f"{pin.name}: {DEV_LOCK.name} pins {pin.version}, the lib lock {lib[pin.name]}"
        for pin in read_lock(DEV_LOCK)
        if pin.name in lib and pin.version != lib[pin.name]
    ]
    assert differ == []


def test_the_venv_holds_exactly_the_dev_lock() -> None:
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.fail(f"run the tests with {ROOT / '.venv/bin/python'} (`make test`), not {sys.executable}")
    lock = read_lock(DEV_LOCK)
    installed: dict[str, str] = {}
    for directory in _site_packages():
        installed.update(installed_in(directory))
    assert installed, f"no distributions found in {_site_packages()}"
    problems = unpinned_or_different(installed, lock, DEV_LOCK.name) + missing(installed, lock, DEV_LOCK.name)
    assert problems == []


def test_the_package_lib_holds_exactly_the_lib_lock(package_path: Path) -> None:
    lock = read_lock(LIB_LOCK)
    shipped = installed_in_package(package_path)
    assert "solnlib" in shipped and "msal" in shipped, f"no lib/*.dist-info read from {package_path}"
    not_shipped = read_excludes() | REMOVED_AFTER_INSTALL
    problems = unpinned_or_different(shipped, lock, "package/lib/requirements.txt")
    problems += missing(shipped, lock, "package/lib/requirements.txt", allowed_missing=not_shipped)
    problems += [f"{name} is excluded from lib/ but was shipped" for name in sorted(not_shipped & set(shipped))]
    assert problems == []


# The checks themselves, on synthetic installs: they must fail, and name the distribution.


def _dist_info(site: Path, name: str, version: str) -> None:
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")


def _lock(tmp_path: Path, text: str) -> list[Pin]:
    path = tmp_path / "lock.txt"
    path.write_text(text)
    return read_lock(path)


LOCK_TEXT = (
    "requests==2.32.5 \\\n    --hash=sha256:aaaa\n    # via -r in\n"
    "PyJWT==2.10.1 \\\n    --hash=sha256:bbbb \\\n    --hash=sha256:cccc\n"
    "tomli==2.5.0 ; python_full_version < '3.0' \\\n    --hash=sha256:dddd\n"
)


def test_an_unpinned_dist_info_is_named(tmp_path: Path) -> None:
    lock = _lock(tmp_path, LOCK_TEXT)
    site = tmp_path / "site"
    _dist_info(site, "requests", "2.32.5")
    _dist_info(site, "PyJWT", "2.10.1")
    assert unpinned_or_different(installed_in(site), lock, "lock.txt") == []
    _dist_info(site, "sneaky-lib", "9.9")
    assert unpinned_or_different(installed_in(site), lock, "lock.txt") == [
        "sneaky-lib 9.9 is installed but lock.txt does not pin it"
    ]


def test_a_version_other_than_the_lock_is_named(tmp_path: Path) -> None:
    lock = _lock(tmp_path, LOCK_TEXT.replace("requests==2.32.5", "requests==2.32.4"))  # a pin edited by hand
    site = tmp_path / "site"
    _dist_info(site, "requests", "2.32.5")
    assert unpinned_or_different(installed_in(site), lock, "lock.txt") == [
        "requests 2.32.5 is installed but lock.txt pins 2.32.4"
    ]


def test_a_pin_whose_marker_does_not_apply_does_not_count(tmp_path: Path) -> None:
    lock = _lock(tmp_path, LOCK_TEXT)
    site = tmp_path / "site"
    _dist_info(site, "tomli", "2.5.0")  # pinned only for Python < 3.0
    assert unpinned_or_different(installed_in(site), lock, "lock.txt") == [
        "tomli 2.5.0 is installed but lock.txt does not pin it"
    ]
    assert missing({}, lock, "lock.txt") == [
        "requests 2.32.5 is pinned in lock.txt but not installed",
        "pyjwt 2.10.1 is pinned in lock.txt but not installed",
    ]


def test_a_lock_entry_without_a_hash_or_pinned_twice_is_named(tmp_path: Path) -> None:
    lock = _lock(tmp_path, LOCK_TEXT + "idna==3.20\nrequests==2.31.0 \\\n    --hash=sha256:eeee\n")
    assert lock_defects(lock, "lock.txt") == [
        "idna 3.20 (line 9 of lock.txt) has no --hash",
        "requests is pinned twice in lock.txt: 2.32.5 and 2.31.0",
    ]


def test_a_direct_requirement_missing_from_the_lock_is_named(tmp_path: Path) -> None:
    lock = _lock(tmp_path, LOCK_TEXT)
    assert inputs_not_locked({"requests": "2.32.6", "msal": "1.39.0", "pyjwt": None}, lock, "lock.txt") == [
        "msal is a direct requirement but lock.txt lacks it: run `make lock`",
        "requests: the .in file asks for 2.32.6, lock.txt pins 2.32.5: run `make lock`",
    ]
