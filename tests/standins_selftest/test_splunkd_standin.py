"""The splunkd stand-in answers solnlib and splunklib the way splunkd does.

Why this file exists: the add-on never talks to splunkd directly; solnlib and splunklib
do. These tests drive the stand-in *through those libraries* (so the formats are the
ones they really ask for and parse) and pin the parts that bite: encrypted account
fields stored as chunked JSON in storage/passwords and decrypted on read, the KV store
checkpointer, a clear failure when the KV store is down, 401 for a bad session key,
splunkd's 30-entry default page, the batch_save limit, and recording of unknown paths.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from solnlib import conf_manager
from solnlib.modular_input import checkpointer
from splunklib import binding, client

from tests.standins.splunkd import (
    ACCOUNT_CONF,
    APP_ID,
    SETTINGS_CONF,
    SplunkdStandin,
    credential_realm,
    password_name,
)
from tests.standins.tls import TlsPaths

LONG_KEY = "-----BEGIN PRIVATE KEY-----\n" + "A" * 1200 + "\n-----END PRIVATE KEY-----\n"


def cfm(sp: SplunkdStandin, conf: str, key: str | None = None) -> conf_manager.ConfManager:
    return conf_manager.ConfManager(
        key or sp.session_key, APP_ID, realm=credential_realm(conf), scheme="https", host="127.0.0.1", port=sp.port
    )


CA: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _trust(tls: TlsPaths) -> None:
    CA["path"] = str(tls.ca)


def raw(sp: SplunkdStandin, method: str, path: str, key: str | None = None, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Splunk {key or sp.session_key}", **kw.pop("headers", {})}
    return requests.request(method, sp.server_uri + path, headers=headers, verify=CA["path"], timeout=30, **kw)


@pytest.mark.parametrize("method", ["solnlib", "direct"])
def test_seeded_account_reads_back_decrypted(splunkd: SplunkdStandin, method: str) -> None:
    splunkd.seed_account(
        "prod",
        "tid-1",
        "cid-1",
        "commercial_eu",
        "certificate",
        private_key=LONG_KEY,
        thumbprint="AB" * 20,
        method=method,
    )
    splunkd.seed_account("other", "tid-2", "cid-2", client_secret="s3cr3t", method=method)
    # on disk: placeholders in the conf, chunked JSON in passwords
    stored = splunkd.stanza(ACCOUNT_CONF, "prod")
    assert stored is not None and stored["certificate_private_key"] == "******"
    sep = "``splunk_cred_sep``"
    names = sorted(n for n in splunkd.passwords() if f":prod{sep}" in n)
    assert len(names) == 7  # ceil(len(json)/255) chunks + the end mark
    assert names[0] == password_name(credential_realm(ACCOUNT_CONF), f"prod{sep}1")
    # read through solnlib, as the add-on will
    acct = cfm(splunkd, ACCOUNT_CONF).get_conf(ACCOUNT_CONF).get("prod")
    assert acct["certificate_private_key"] == LONG_KEY
    assert (acct["tenant_id"], acct["client_id"], acct["cloud"], acct["auth_type"]) == (
        "tid-1",
        "cid-1",
        "commercial_eu",
        "certificate",
    )
    assert acct["certificate_thumbprint"] == "AB" * 20
    everything = cfm(splunkd, ACCOUNT_CONF).get_conf(ACCOUNT_CONF).get_all()
    assert everything["other"]["client_secret"] == "s3cr3t"
    assert splunkd.unknown_requests == []


def test_settings_stanzas(splunkd: SplunkdStandin) -> None:
    splunkd.seed_settings(
        loglevel="DEBUG",
        ca_bundle_path="/opt/ca.pem",
        proxy={
            "proxy_enabled": "1",
            "proxy_type": "http",
            "proxy_url": "proxy.local",
            "proxy_port": "3128",
            "proxy_username": "u",
            "proxy_password": "p@ss",
        },
    )
    conf = cfm(splunkd, SETTINGS_CONF).get_conf(SETTINGS_CONF)
    assert conf.get("logging")["loglevel"] == "DEBUG"
    assert conf.get("tls")["ca_bundle_path"] == "/opt/ca.pem"
    assert conf.get("proxy")["proxy_password"] == "p@ss"
    assert splunkd.stanza(SETTINGS_CONF, "proxy")["proxy_password"] == "******"  # type: ignore[index]
    with pytest.raises(conf_manager.ConfStanzaNotExistException):
        conf.get("nope")


def test_missing_conf_file_is_reported_by_solnlib(splunkd: SplunkdStandin) -> None:
    with pytest.raises(conf_manager.ConfManagerException):
        cfm(splunkd, ACCOUNT_CONF).get_conf(ACCOUNT_CONF)


def test_app_default_dir_is_the_default_layer(tls: TlsPaths, tmp_path: Any) -> None:
    (tmp_path / f"{SETTINGS_CONF}.conf").write_text("[logging]\nloglevel = INFO\n\n[tls]\nca_bundle_path =\n")
    with SplunkdStandin(str(tls.cert), str(tls.key), app_default_dir=tmp_path) as sp:
        conf = cfm(sp, SETTINGS_CONF).get_conf(SETTINGS_CONF)
        assert conf.get("logging")["loglevel"] == "INFO"
        sp.seed_settings(loglevel="WARNING")  # local overrides default
        assert cfm(sp, SETTINGS_CONF).get_conf(SETTINGS_CONF).get("logging")["loglevel"] == "WARNING"


def test_bad_session_key_is_401(splunkd: SplunkdStandin) -> None:
    r = raw(splunkd, "GET", f"/servicesNS/nobody/{APP_ID}/configs/conf-{ACCOUNT_CONF}", key="wrong")
    assert r.status_code == 401 and "call not properly authenticated" in r.text
    r = requests.get(splunkd.server_uri + "/services/server/info", verify=CA["path"], timeout=30)
    assert r.status_code == 401
    service = client.Service(
        scheme="https", host="127.0.0.1", port=splunkd.port, token="wrong", app=APP_ID, owner="nobody", autologin=True
    )
    with pytest.raises(binding.AuthenticationError):
        service.confs[ACCOUNT_CONF]


def test_kvstore_checkpointer(splunkd: SplunkdStandin) -> None:
    ck = checkpointer.KVStoreCheckpointer(
        "ta_defender_endpoint_alerts_checkpointer",
        splunkd.session_key,
        APP_ID,
        scheme="https",
        host="127.0.0.1",
        port=splunkd.port,
    )
    assert ck.get("prod") is None
    ck.update("prod", {"since": "2024-01-01T00:00:00.1234567Z", "ids": ["a", "b"]})
    assert ck.get("prod") == {"since": "2024-01-01T00:00:00.1234567Z", "ids": ["a", "b"]}
    ck.update("prod", {"since": "2024-01-02T00:00:00Z", "ids": []})
    assert ck.get("prod") == {"since": "2024-01-02T00:00:00Z", "ids": []}
    ck.batch_update([{"_key": "k1", "state": 1}, {"_key": "k2", "state": 2}])
    assert (ck.get("k1"), ck.get("k2")) == (1, 2)
    ck.delete("prod")
    assert ck.get("prod") is None
    assert set(splunkd.kv_documents("ta_defender_endpoint_alerts_checkpointer")) == {"k1", "k2"}
    endpoints = {r.endpoint for r in splunkd.requests}
    assert endpoints == {"kv-config", "kv-data"}


def test_kvstore_down_fails_clearly(splunkd: SplunkdStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    import solnlib.utils

    # solnlib retries every HTTPError 3 more times with 1+2+4 s sleeps, and its requests
    # adapter retries 503 five times: ~44 s per call with the defaults. Skip the waiting.
    monkeypatch.setattr(solnlib.utils.time, "sleep", lambda _s: None)
    splunkd.set_kvstore_state("disabled")
    with pytest.raises(binding.HTTPError) as info:
        checkpointer.KVStoreCheckpointer(
            "cp", splunkd.session_key, APP_ID, scheme="https", host="127.0.0.1", port=splunkd.port, max_retries=0
        )
    assert info.value.status == 503
    assert "KV Store is disabled." in str(info.value)
    assert splunkd.count("kv-config", status=503) == 4  # 1 + solnlib's 3 retries
    r = raw(splunkd, "GET", "/services/server/info", params={"output_mode": "json"})
    assert r.json()["entry"][0]["content"]["kvStoreStatus"] == "disabled"
    splunkd.set_kvstore_state("ready")
    ck = checkpointer.KVStoreCheckpointer(
        "cp", splunkd.session_key, APP_ID, scheme="https", host="127.0.0.1", port=splunkd.port
    )
    ck.update("x", 1)
    splunkd.set_kvstore_state("initializing")
    with pytest.raises(binding.HTTPError) as info2:
        ck.get("x")
    assert info2.value.status == 503 and "initializing" in str(info2.value)


def test_batch_save_limit(splunkd: SplunkdStandin) -> None:
    base = f"/servicesNS/nobody/{APP_ID}/storage/collections"
    assert raw(splunkd, "POST", f"{base}/config", data={"name": "c"}).status_code == 201
    docs = [{"_key": str(i), "v": i} for i in range(1001)]
    r = raw(
        splunkd,
        "POST",
        f"{base}/data/c/batch_save",
        data=json.dumps(docs),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400


def test_default_page_of_30_and_json_output(splunkd: SplunkdStandin) -> None:
    for i in range(35):
        splunkd.set_stanza("many", f"s{i:02d}", {"k": i})
    path = f"/servicesNS/nobody/{APP_ID}/configs/conf-many"
    assert raw(splunkd, "GET", path).text.count("<entry>") == 30
    assert raw(splunkd, "GET", path, params={"count": "0"}).text.count("<entry>") == 35
    body = raw(splunkd, "GET", path, params={"output_mode": "json", "count": "-1"}).json()
    assert len(body["entry"]) == 35 and body["entry"][0]["content"]["k"] == "0"
    assert body["entry"][0]["acl"]["app"] == APP_ID
    service = client.Service(
        scheme="https", host="127.0.0.1", port=splunkd.port, token=splunkd.session_key, app=APP_ID, owner="nobody"
    )
    assert len(service.confs["many"].list()) == 35  # splunklib asks count=-1


def test_unknown_paths_are_404_and_recorded(splunkd: SplunkdStandin) -> None:
    r = raw(splunkd, "GET", f"/servicesNS/nobody/{APP_ID}/data/inputs/defender_endpoint_alerts")
    assert r.status_code == 404 and '<msg type="ERROR">' in r.text
    assert [u.path for u in splunkd.unknown_requests] == [
        f"/servicesNS/nobody/{APP_ID}/data/inputs/defender_endpoint_alerts"
    ]


def test_splunklib_server_info(splunkd: SplunkdStandin) -> None:
    service = client.Service(scheme="https", host="127.0.0.1", port=splunkd.port, token=splunkd.session_key)
    info = service.info
    assert info["version"].startswith("9.") and info["kvStoreStatus"] == "ready"
