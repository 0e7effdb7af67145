"""Shared pytest options: the built package that package-level tests inspect and run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "package" / "bin"))  # the add-on's own modules, for unit tests
sys.path.insert(0, str(ROOT))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--package", default=None, help="dist/<app>-<version>.tar.gz built by `make package`")
    parser.addoption("--screenshots", default=None, help="browser tests write their screenshots here (docs/images)")


@pytest.fixture(scope="session")
def package_path(request: pytest.FixtureRequest) -> Path:
    option = request.config.getoption("--package")
    if option:
        path = Path(option)
    else:
        built = sorted((ROOT / "dist").glob("*.tar.gz"))
        if not built:
            pytest.fail("no package in dist/: run `make package` first, or pass --package")
        path = built[-1]
    if not path.is_file():
        pytest.fail(f"package {path} does not exist: run `make package`")
    return path.resolve()
