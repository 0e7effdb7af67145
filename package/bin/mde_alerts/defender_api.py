"""The one place that talks HTTP to Microsoft: tokens from Entra ID, alerts from Defender,
and the response actions' calls to Defender and Microsoft Graph.

Callers see alert pages, `Answer`s and `ConfigError`s whose messages name the fix; retries,
throttling, token refresh and the translation of Microsoft's error codes stay in here.
Writes (POST, PATCH) are never resent after an answer that may have been lost: the caller
gets `WriteUncertain` and checks what Defender did first. Secrets never leave this module:
they are handed to MSAL and never formatted into a message.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import msal
import requests

from mde_alerts.clouds import Cloud
from mde_alerts.collector import CHUNK_BYTES, BadPage, PageReader, Query

ALERTS_PATH = "/api/alerts"
CONNECT_TIMEOUT = 15
READ_TIMEOUT = 180
MAX_ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 30
USER_AGENT = "TA-defender-endpoint-alerts"

# AADSTS codes (Entra ID) -> what the admin should do. Source: Microsoft's AADSTS
# error code reference; the codes below are the ones a misconfigured account produces.
AADSTS_FIXES: dict[int, str] = {
    90002: "Tenant not found: check the account's Tenant ID (a GUID or a verified domain) and its cloud.",
    900023: "Tenant ID is malformed or unknown: copy the Directory (tenant) ID from the app registration.",
    7000215: "The client secret is wrong: paste the secret's Value (not its Secret ID) again.",
    7000222: "The client secret has expired: create a new secret in the app registration and update the account.",
    700016: (
        "The application (client ID) was not found in this tenant: check the Client ID, "
        "or have a tenant administrator consent to the app in that tenant."
    ),
    700027: (
        "The certificate was not accepted: check the thumbprint, and that the certificate is uploaded "
        "to the app registration."
    ),
    90038: "The tenant belongs to another national cloud: change the account's cloud/region.",
    900382: "The tenant belongs to another national cloud: change the account's cloud/region.",
    500011: (
        "The Defender API is not consented in this tenant: a tenant administrator must grant "
        "admin consent to the app's WindowsDefenderATP permissions."
    ),
    7000112: "The application is disabled in this tenant: enable it or use another app registration.",
}


class ConfigError(Exception):
    """Something only the Splunk admin can fix; the message says what to do."""


class TransientError(Exception):
    """Microsoft or the network kept failing after retries; the next run tries again."""


class BudgetExhausted(Exception):
    """Throttled for longer than the run may wait; the next run resumes."""


class WriteUncertain(TransientError):
    """A POST or PATCH got no usable answer: Microsoft may or may not have applied it."""


@dataclass(frozen=True)
class Answer:
    """A response action's answer: the status, the JSON body (None if empty), Microsoft's error text."""

    status: int
    body: Any
    error: str = ""


DEFENDER_API = "WindowsDefenderATP"
GRAPH_API = "Microsoft Graph"
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Credential:
    client_id: str
    client_secret: Optional[str] = None
    private_key: Optional[str] = None
    thumbprint: Optional[str] = None

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug logs
        return f"Credential(client_id={self.client_id!r}, kind={'certificate' if self.private_key else 'secret'})"


@dataclass
class Connection:
    proxy_url: Optional[str] = None  # scheme://[user:password@]host:port
    ca_bundle: Optional[str] = None

    def __repr__(self) -> str:
        return f"Connection(proxy={'on' if self.proxy_url else 'off'}, ca_bundle={self.ca_bundle!r})"


@dataclass
class Stats:
    api_calls: int = 0
    token_requests: int = 0
    retries: int = 0
    throttled: int = 0


class _Session(requests.Session):
    """A session whose configured proxy and CA bundle win over the environment.

    requests lets REQUESTS_CA_BUNDLE and HTTPS_PROXY override a session's own `verify`
    and `proxies`; an admin's explicit setting must win instead. Without one, the
    standard variables apply: REQUESTS_CA_BUNDLE (requests' own), then SSL_CERT_FILE.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.headers["User-Agent"] = USER_AGENT
        self._proxy = connection.proxy_url
        self._ca_bundle = connection.ca_bundle
        if not self._ca_bundle and not os.environ.get("REQUESTS_CA_BUNDLE"):
            self._ca_bundle = os.environ.get("SSL_CERT_FILE") or None

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self._ca_bundle:
            settings["verify"] = self._ca_bundle
        if self._proxy:
            settings["proxies"] = {"http": self._proxy, "https": self._proxy}
        return settings


def _error_text(body: bytes) -> str:
    """Defender's `{"error": {"code", "message"}}`, or the start of whatever came instead."""
    try:
        error = json.loads(body).get("error", {})
        if isinstance(error, dict):
            return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        pass
    return body[:200].decode("utf-8", "replace")


class DefenderClient:
    """Token and alert pages for one account; keep one per account for the process."""

    def __init__(
        self,
        cloud: Cloud,
        tenant: str,
        credential: Credential,
        connection: Connection,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_call: Optional[Callable[[], None]] = None,
    ) -> None:
        self.cloud = cloud
        self.tenant = tenant
        self._credential = credential
        self._session = _Session(connection)
        self._sleep = sleep
        self.on_call = on_call  # told of every API call, for the caller's rate budget
        self._app: Optional[msal.ConfidentialClientApplication] = None
        self.stats = Stats()
        self.deadline: Optional[float] = None  # monotonic time after which no wait may end

    # -- tokens -------------------------------------------------------------------------

    def _msal_app(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._credential.client_id,
                    client_credential=self._msal_credential(),
                    authority=f"{self.cloud.login_base}/{self.tenant}",
                    http_client=self._session,
                    azure_region=False,  # MSAL_FORCE_REGION in the environment must not redirect us
                    instance_discovery=False,  # the authority is one of Microsoft's own hosts
                )
            except ValueError as error:
                # MSAL validates the authority (tenant) and the certificate on construction.
                raise ConfigError(self._authority_problem(error)) from None
            except requests.RequestException as error:
                raise self._network_problem(error, self.cloud.login_base) from None
        return self._app

    def _msal_credential(self) -> Any:
        credential = self._credential
        if not credential.private_key:
            return credential.client_secret
        from mde_alerts.client_assertion import CertificateAssertion  # only certificate accounts pay its import

        try:
            assertion = CertificateAssertion(credential.client_id, credential.private_key, credential.thumbprint or "")
        except Exception as error:  # noqa: BLE001 (ValueError, or pyasn1's and rsa's own errors for a bad key)
            raise ConfigError(f"The certificate credential cannot be used: {error}. Edit the account.") from None

        def sign() -> str:  # MSAL asks for a fresh assertion at each token request
            assert self._app is not None
            return assertion.sign(audience=self._app.authority.token_endpoint)

        return {"client_assertion": sign}

    def _authority_problem(self, error: Exception) -> str:
        text = str(error)
        if "tenant" in text.lower() or "authority" in text.lower():
            return (
                f"Tenant {self.tenant!r} was not found at {self.cloud.login_base}: check the Tenant ID "
                f"and the cloud/region of the account."
            )
        if "key" in text.lower() or "certificate" in text.lower() or "thumbprint" in text.lower():
            return "The certificate private key could not be read: paste an unencrypted PEM private key."
        return f"Microsoft Entra ID rejected the account settings ({text[:200]}): check tenant, client ID and cloud."

    def token(self, scope: Optional[str] = None) -> str:
        """An access token for Defender, or for `scope` (Microsoft Graph) from the same MSAL app."""
        app = self._msal_app()
        try:
            result = app.acquire_token_for_client(scopes=[scope or self.cloud.scope])
        except requests.RequestException as error:
            raise self._network_problem(error, self.cloud.login_base) from None
        except ValueError as error:
            raise ConfigError(self._authority_problem(error)) from None
        if result.get("token_source") != "cache":
            self.stats.token_requests += 1
        if "access_token" in result:
            return str(result["access_token"])
        codes = result.get("error_codes") or []
        for code in codes:
            if code in AADSTS_FIXES:
                raise ConfigError(f"Token request refused (AADSTS{code}). {AADSTS_FIXES[code]}")
        description = str(result.get("error_description", "")).split("\r\n")[0][:300]
        raise ConfigError(
            f"Token request refused ({result.get('error', 'unknown error')}): {description} "
            "Check the account's tenant, client ID, credential and cloud."
        )

    def tenant_guid(self) -> str:
        """The tenant's directory id, also for an account that names its tenant by domain.

        Entra ID's OIDC document (which MSAL reads when the app is built) names the token
        endpoint by the tenant's GUID.
        """
        endpoint = str(self._msal_app().authority.token_endpoint)
        parts = [part for part in urlsplit(endpoint).path.split("/") if part]
        return (parts[0] if parts else self.tenant).lower()

    def _forget_token(self) -> None:
        if self._app is not None:
            cache = self._app.token_cache
            for item in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(item)

    # -- alerts -------------------------------------------------------------------------

    def alerts_page(
        self, query: Query, expand_evidence: bool, time_field: str, take: Callable[[PageReader], object]
    ) -> None:
        """Stream one page of `GET /api/alerts` into `take`, asking again through transient faults.

        `take` consumes the page as it arrives (writing events as it goes). If the answer
        breaks off midway or turns out not to be JSON, the same query is asked again and
        `take` gets the new answer; the collector drops the states it already has.
        """
        if query.link:
            # Never send the token anywhere but the tenant's own API host.
            if urlsplit(query.link).netloc != urlsplit(self.cloud.api_base).netloc:
                raise BadPage(f"@odata.nextLink points to another host ({urlsplit(query.link).netloc}); not followed")
            url, params = query.link, None
        else:
            url = self.cloud.api_base + ALERTS_PATH
            params = {"$filter": query.filter, "$orderby": "lastUpdateTime asc", "$top": query.top}
            if query.skip:
                params["$skip"] = query.skip
            if expand_evidence:
                params["$expand"] = "evidence"
        attempt = 0
        while True:
            attempt += 1
            response = self.open(url, params)
            try:
                take(PageReader(response.iter_content(CHUNK_BYTES), time_field))
                return
            except (ValueError, requests.RequestException) as error:  # cut short, reset, or not JSON
                self._retry_or_fail(attempt, f"an answer cut short or not JSON ({type(error).__name__})")
            finally:
                response.close()

    def open(self, url: str, params: Optional[dict[str, Any]]) -> requests.Response:
        """GET until Defender answers 200; the body is left to stream. Retries, throttling
        and one token refresh happen here; anything else becomes a ConfigError."""
        return self._exchange("GET", url, params=params, stream=True)

    def call(
        self,
        method: str,
        url: str,
        *,
        params: Optional[dict[str, Any]] = None,
        body: Optional[dict[str, Any]] = None,
        scope: Optional[str] = None,
        permission: str = "",
        api: str = DEFENDER_API,
        answer_on: tuple[int, ...] = (400, 404),
        headers: Optional[dict[str, str]] = None,
    ) -> Answer:
        """One response-action call. 2xx and the statuses in `answer_on` come back as an
        Answer for the caller to judge; a 403 names `permission`; a write that may have been
        applied without an answer raises WriteUncertain instead of being sent again."""
        response = self._exchange(
            method,
            url,
            params=params,
            body=body,
            scope=scope,
            permission=permission,
            api=api,
            answer_on=answer_on,
            headers=headers,
        )
        try:
            content = response.content
        except requests.RequestException as error:
            if method in WRITE_METHODS:
                raise WriteUncertain(
                    f"{method} {urlsplit(url).path}: the answer broke off ({type(error).__name__})"
                ) from None
            raise TransientError(f"{urlsplit(url).netloc}: the answer broke off ({type(error).__name__})") from None
        finally:
            response.close()
        parsed: Any = None
        status = response.status_code
        if content.strip():
            try:
                parsed = json.loads(content)
            except ValueError:
                if method in WRITE_METHODS and status < 300:  # taken, but the answer was cut short
                    raise WriteUncertain(f"{method} {urlsplit(url).path}: the answer was cut short") from None
                parsed = None
        return Answer(status, parsed, "" if status < 300 else _error_text(content))

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        params: Optional[dict[str, Any]] = None,
        body: Optional[dict[str, Any]] = None,
        stream: bool = False,
        scope: Optional[str] = None,
        permission: str = "",
        api: str = DEFENDER_API,
        answer_on: tuple[int, ...] = (),
        headers: Optional[dict[str, str]] = None,
    ) -> requests.Response:
        write = method in WRITE_METHODS
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = self.token(scope)
            try:
                self.stats.api_calls += 1
                if self.on_call:
                    self.on_call()
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})},
                    timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                    stream=stream,
                )
            except requests.RequestException as error:
                if isinstance(error, (requests.exceptions.ProxyError, requests.exceptions.SSLError)):
                    raise self._network_problem(error, url) from None
                if write and not isinstance(error, requests.exceptions.ConnectTimeout):
                    # The request may have reached Microsoft: sending it again could act twice.
                    raise WriteUncertain(f"{method} {urlsplit(url).path}: no answer ({type(error).__name__})") from None
                self._retry_or_fail(attempt, f"network error ({type(error).__name__})")
                continue
            status = response.status_code
            success = status == 200 if stream else 200 <= status < 300
            if success or status in answer_on:
                return response
            try:
                content = response.content  # an error answer: small
            except requests.RequestException:
                content = b""
            finally:
                response.close()
            if status == 401 and not refreshed:
                refreshed = True  # the token may have been revoked or expired early: get a new one once
                self._forget_token()
                continue
            if status == 429:  # refused before it was applied: safe to send again, also for a write
                self.stats.throttled += 1
                self._wait(self._retry_after(response, attempt), "throttled (429)", budget=True)
                continue
            if status >= 500:
                if write:
                    raise WriteUncertain(f"{method} {urlsplit(url).path}: HTTP {status} {_error_text(content)}")
                self._retry_or_fail(attempt, f"HTTP {status} {_error_text(content)}")
                continue
            raise ConfigError(self._client_error(status, content, url, permission, api))

    def _client_error(self, status: int, body: bytes, url: str, permission: str = "", api: str = DEFENDER_API) -> str:
        detail = _error_text(body)
        service = "Defender" if api == DEFENDER_API else api
        if status == 401:
            return (
                f"{service} rejected the token twice (401 {detail}). Check that the app registration's "
                f"{api} permissions are application permissions with admin consent."
            )
        if status == 403:
            return (
                f"{service} refused access (403 {detail}). Grant the app registration the application "
                f"permission {permission or 'Alert.Read.All'} (API '{api}') and have an admin consent to it."
            )
        if status == 404:
            return (
                f"{urlsplit(url).netloc} does not serve this tenant (404 {detail}). The account's cloud/region "
                "is probably wrong: pick the tenant's geo, or Commercial (global)."
            )
        return f"Defender refused the request ({status} {detail})."

    @staticmethod
    def _retry_after(response: requests.Response, attempt: int) -> float:
        value = response.headers.get("Retry-After", "")
        try:
            return max(0.0, float(value))
        except ValueError:
            return float(min(MAX_BACKOFF_SECONDS, 2**attempt))

    def _retry_or_fail(self, attempt: int, what: str) -> None:
        if attempt >= MAX_ATTEMPTS:
            raise TransientError(f"Defender API: {what}, {attempt} attempts; the next run tries again.")
        self.stats.retries += 1
        backoff = min(MAX_BACKOFF_SECONDS, 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        self._wait(backoff, what, budget=False)

    def _wait(self, seconds: float, why: str, budget: bool) -> None:
        if self.deadline is not None and time.monotonic() + seconds > self.deadline:
            error = BudgetExhausted if budget else TransientError
            raise error(f"{why}: waiting {seconds:.0f}s would pass the end of this run; the next run resumes.")
        self._sleep(seconds)

    def _network_problem(self, error: Exception, url: str) -> Exception:
        host = urlsplit(url).netloc
        if isinstance(error, requests.exceptions.ProxyError):
            return ConfigError(
                f"The proxy could not be reached or refused the connection to {host}: check the proxy host, "
                "port, type and credentials on the Proxy tab."
            )
        if isinstance(error, requests.exceptions.SSLError):
            return ConfigError(
                f"TLS verification of {host} failed. If a TLS-inspecting proxy is in the path, set its CA "
                "certificate file as 'CA bundle path' on the TLS tab."
            )
        return TransientError(f"Could not reach {host} ({type(error).__name__}): check DNS, firewall and proxy.")
