"""Read the add-on's configuration from splunkd: accounts, proxy, TLS, log level, the
response actions' audit index, and who the invoking Splunk user is.

All access goes through solnlib's ConfManager, which also decrypts the fields UCC keeps
in storage/passwords. Only this module knows the conf file and stanza names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import quote, urlsplit

from solnlib import conf_manager, splunk_rest_client
from splunklib import binding, client

from mde_alerts.clouds import Cloud, cloud_for
from mde_alerts.constants import ACCOUNT_CONF, APP, SETTINGS_CONF, credential_realm
from mde_alerts.defender_api import ConfigError, Connection, Credential


class Splunkd:
    """splunkd's REST API as the add-on uses it: one client, few calls.

    Every splunkd call is paid for every tenant at every interval, so conf files are
    opened without solnlib's existence check (`properties/<file>`: one call each) and
    the KV store is read and written by key without solnlib's collection discovery
    (two or three calls); the collection is declared in collections.conf and is looked
    for only when a document is missing.
    """

    def __init__(self, session_key: str, scheme: str, host: str, port: int) -> None:
        self.session_key = session_key
        self.scheme = scheme
        self.host = host
        self.port = port
        self._rest: Any = None

    @classmethod
    def from_server_uri(cls, server_uri: str, session_key: str) -> Splunkd:
        parts = urlsplit(server_uri)
        return cls(session_key, parts.scheme or "https", parts.hostname or "127.0.0.1", parts.port or 8089)

    def rest(self) -> Any:
        if self._rest is None:
            self._rest = splunk_rest_client.SplunkRestClient(
                self.session_key,
                APP,
                owner="nobody",
                scheme=self.scheme,
                host=self.host,
                port=self.port,
                max_retries=1,  # a disabled KV store answers 503: say so now, not after a minute
            )
        return self._rest

    def conf_file(self, conf_name: str) -> conf_manager.ConfFile:
        """A conf file with UCC's encrypted fields decrypted on read."""
        conf = client.ConfigurationFile(self.rest(), client.PATH_CONF % conf_name, state={"title": conf_name})
        return conf_manager.ConfFile(
            conf_name,
            conf,
            self.session_key,
            APP,
            "nobody",
            self.scheme,
            self.host,
            self.port,
            credential_realm(conf_name),
        )

    def current_user(self) -> tuple[str, list[str], list[str]]:
        """(name, roles, capabilities) of the session's user, as splunkd answers them."""
        response = self.rest().get("authentication/current-context", output_mode="json")
        content = json.loads(response.body.read())["entry"][0]["content"]
        return (
            str(content.get("username") or ""),
            [str(role) for role in content.get("roles") or []],
            [str(capability) for capability in content.get("capabilities") or []],
        )

    def kv_collection_exists(self, collection: str) -> bool:
        try:
            self.rest().get(f"storage/collections/config/{quote(collection, safe='')}", output_mode="json")
        except binding.HTTPError as error:
            if error.status == 404:
                return False
            raise
        return True

    def kv_create_collection(self, collection: str, fields: dict[str, str]) -> None:
        """What solnlib's KVStoreCheckpointer does for a missing collection (collections.conf's fields too)."""
        self.rest().post(
            "storage/collections/config",
            name=collection,
            output_mode="json",
            **{f"field.{name}": kind for name, kind in fields.items()},
        )

    def kv_get(self, collection: str, key: str) -> Optional[dict[str, Any]]:
        """The document, or None when splunkd answers 404 (no such key, or no such collection)."""
        try:
            response = self.rest().get(
                f"storage/collections/data/{collection}/{quote(key, safe='')}", output_mode="json"
            )
        except binding.HTTPError as error:
            if error.status == 404:
                return None
            raise
        record: dict[str, Any] = json.loads(response.body.read())
        return record

    def kv_save(self, collection: str, record: dict[str, Any]) -> None:
        self.rest().post(
            f"storage/collections/data/{collection}/batch_save",
            headers=[("Content-Type", "application/json")],
            body=json.dumps([record]),
        )

    def kv_delete(self, collection: str, key: str) -> None:
        try:
            self.rest().delete(f"storage/collections/data/{collection}/{quote(key, safe='')}")
        except binding.HTTPError as error:
            if error.status != 404:
                raise


@dataclass(frozen=True)
class Account:
    name: str
    tenant_id: str
    cloud: Cloud
    credential: Credential

    def __repr__(self) -> str:
        return f"Account({self.name!r}, tenant={self.tenant_id!r}, cloud={self.cloud.key!r})"


def account_from_fields(name: str, fields: dict[str, Any]) -> Account:
    """Build an Account from a conf stanza or a REST payload, saying what is missing."""
    tenant_id = str(fields.get("tenant_id") or "").strip()
    client_id = str(fields.get("client_id") or "").strip()
    if not tenant_id or not client_id:
        raise ConfigError(f"Account {name!r} has no tenant ID or client ID: edit it under Configuration > Accounts.")
    try:
        cloud = cloud_for(str(fields.get("cloud") or "commercial"))
    except ValueError as error:
        raise ConfigError(f"Account {name!r}: {error}") from None
    auth_type = str(fields.get("auth_type") or "client_secret")
    if auth_type == "certificate":
        key = str(fields.get("certificate_private_key") or "")
        thumbprint = str(fields.get("certificate_thumbprint") or "")
        if not key or not thumbprint:
            raise ConfigError(
                f"Account {name!r} uses a certificate but lacks its private key or thumbprint: edit the account."
            )
        credential = Credential(client_id, private_key=key, thumbprint=thumbprint)
    else:
        secret = str(fields.get("client_secret") or "")
        if not secret:
            raise ConfigError(f"Account {name!r} has no client secret: edit the account and paste the secret's Value.")
        credential = Credential(client_id, client_secret=secret)
    return Account(name, tenant_id, cloud, credential)


def read_account(splunkd: Splunkd, name: str) -> Account:
    try:
        stanza = splunkd.conf_file(ACCOUNT_CONF).get(name)
    except conf_manager.ConfStanzaNotExistException:
        raise ConfigError(
            f"Account {name!r} no longer exists: edit the input and pick an existing account, or disable the input."
        ) from None
    except conf_manager.ConfManagerException:
        raise ConfigError("No account is configured yet: add one under Configuration > Accounts.") from None
    return account_from_fields(name, stanza)


def read_accounts(splunkd: Splunkd) -> dict[str, Account]:
    """Every account, for the response actions to pick the one of a result's tenant.

    An account that cannot be used is left out: the tenant it would serve then has no
    account, which the action reports with the fix.
    """
    try:
        stanzas = splunkd.conf_file(ACCOUNT_CONF).get_all(only_current_app=True)
    except conf_manager.ConfManagerException:
        return {}
    accounts: dict[str, Account] = {}
    for name, fields in stanzas.items():
        try:
            accounts[name] = account_from_fields(name, fields)
        except ConfigError:
            continue
    return accounts


def proxy_url(fields: dict[str, Any]) -> Optional[str]:
    if str(fields.get("proxy_enabled") or "0").strip().lower() not in ("1", "true"):
        return None
    host = str(fields.get("proxy_url") or "").strip()
    port = str(fields.get("proxy_port") or "").strip()
    if not host or not port.isdigit():
        raise ConfigError("The proxy is enabled but its host or port is missing: complete the Proxy tab.")
    scheme = str(fields.get("proxy_type") or "http").strip()
    if scheme not in ("http", "https", "socks5h"):
        raise ConfigError(f"Proxy type {scheme!r} is not supported: pick http, https or socks5h.")
    user = str(fields.get("proxy_username") or "")
    password = str(fields.get("proxy_password") or "")
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
    return f"{scheme}://{credentials}{host}:{port}"


@dataclass(frozen=True)
class Settings:
    connection: Connection
    log_level: str
    audit_index: str = "main"  # Configuration > Response actions


def read_settings(splunkd: Splunkd) -> Settings:
    try:
        stanzas = splunkd.conf_file(SETTINGS_CONF).get_all(only_current_app=True)
    except conf_manager.ConfManagerException:
        stanzas = {}
    proxy = proxy_url(stanzas.get("proxy", {}))
    ca_bundle = str(stanzas.get("tls", {}).get("ca_bundle_path") or "").strip() or None
    log_level = str(stanzas.get("logging", {}).get("loglevel") or "INFO").upper()
    audit_index = str(stanzas.get("response", {}).get("audit_index") or "main").strip()
    return Settings(Connection(proxy_url=proxy, ca_bundle=ca_bundle), log_level, audit_index)
