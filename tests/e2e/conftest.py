"""End-to-end fixtures: the packaged add-on, unpacked as Splunk would install it, and Splunk's Python."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tests.pythons import find_python

SPLUNK_PYTHONS = ("3.9", "3.13")  # Splunk 9.4/10.x default, and 10.x's newer one


@pytest.fixture(scope="session")
def app_dir(package_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    apps = tmp_path_factory.mktemp("etc_apps")
    with tarfile.open(package_path) as archive:
        archive.extractall(apps, filter="data")
    (app,) = [path for path in apps.iterdir() if path.is_dir()]
    return Path(app)


@pytest.fixture(scope="session")
def splunk_python() -> str:
    """The interpreter splunkd would use: Python 3.9 if present, else 3.13."""
    for version in SPLUNK_PYTHONS:
        python = find_python(version)
        if python:
            return python
    pytest.fail("neither Python 3.9 nor 3.13 is installed: the packaged input can only run under Splunk's Python")
    raise AssertionError("unreachable: pytest.fail raises")
