"""Fixtures for the stand-ins' own tests: TLS material, in-process hostmap, clients.

Why this file exists: the stand-ins are test infrastructure that other tests will trust,
so they get tests of their own. These fixtures keep them quick (one CA per session, a
fresh Microsoft stand-in with a hand-moved clock per test) and hermetic: inside this
process Microsoft's hostnames are resolved to the stand-in by the same code the child
processes use, and ``REQUESTS_CA_BUNDLE`` is cleared because requests lets it override
an explicit ``verify=`` (so MSAL's ``verify=`` would be ignored).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.standins.hostmap.sitecustomize import install  # noqa: E402
from tests.standins.microsoft import ALL_HOSTS, ManualClock, MicrosoftStandin  # noqa: E402
from tests.standins.splunkd import SplunkdStandin  # noqa: E402
from tests.standins.tls import TlsPaths, make_tls_material  # noqa: E402


@pytest.fixture(autouse=True)
def _no_env_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsPaths:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def ms(tls: TlsPaths, clock: ManualClock) -> Iterator[MicrosoftStandin]:
    standin = MicrosoftStandin(str(tls.cert), str(tls.key), clock=clock).start()
    undo = install({h: f"127.0.0.1:{standin.port}" for h in ALL_HOSTS})
    try:
        yield standin
    finally:
        undo()
        standin.stop()


@pytest.fixture
def http(tls: TlsPaths) -> Iterator[requests.Session]:
    s = requests.Session()
    s.trust_env = False
    s.verify = str(tls.ca)
    yield s
    s.close()


@pytest.fixture
def splunkd(tls: TlsPaths) -> Iterator[SplunkdStandin]:
    standin = SplunkdStandin(str(tls.cert), str(tls.key), session_key="test-session-key").start()
    try:
        yield standin
    finally:
        standin.stop()
