"""Fixtures for the knowledge tests: the add-on's knowledge objects as the offline Splunk model reads them."""

from __future__ import annotations

import pytest

from tests.knowledge.alert_samples import REPO_ROOT
from tests.knowledge.splunk_search_time import Knowledge


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    """The add-on's knowledge, read from package/default and package/lookups."""
    return Knowledge.from_app(REPO_ROOT / "package" / "default", REPO_ROOT / "package" / "lookups")
