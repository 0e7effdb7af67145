"""The bare reader that ``make bench`` measures the packaged input against.

Why this file exists: "is the add-on fast enough?" needs a yardstick that does only the
work nobody can avoid when collecting Defender alerts into Splunk, on the same data,
under the same Python, with the same HTTP library. This script is that yardstick:

* one token: a plain client-credentials POST to Entra ID's v2 endpoint (``--msal``
  uses MSAL instead, to show what MSAL itself costs);
* time-boundary pages of ``$top`` alerts:
  ``$filter=lastUpdateTime ge X&$orderby=lastUpdateTime asc&$top=10000&$expand=evidence``,
  the next page starting at the last alert's ``lastUpdateTime`` (alerts at that
  instant already written are skipped; a page that is all one instant is paged with
  ``eq`` and ``$skip``);
* per page: ``json.loads`` of the body, ``json.dumps(alert, separators=(",", ":"))``
  per alert, XML escaping, one ``write`` of the whole page to stdout;
* no checkpoint, no splunkd calls, no logging.

It runs as a child of ``tools/bench.py`` under Splunk's Python (3.9), importing
``requests`` from the package's own ``lib/`` (``--app``), with the same environment as
the input (hostmap ``sitecustomize``, ``REQUESTS_CA_BUNDLE``). It prints a one-line JSON
summary on stderr (events, pages, API calls, token requests, newest lastUpdateTime) for
the benchmark to read. The client secret comes from ``BENCH_CLIENT_SECRET``, never argv.

Standard library and the package's ``requests`` only; Python 3.9 compatible.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import platform
import sys
import time
from typing import Any, Optional
from xml.sax.saxutils import escape, quoteattr

SCOPE = "https://api.securitycenter.microsoft.com/.default"
LOGIN_BASE = "https://login.microsoftonline.com"
API_BASE = "https://api.security.microsoft.com"
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def use_package_libs(app_dir: str) -> None:
    """Import from the package's lib/ and this platform's compiled-library folder, like the input."""
    lib = os.path.join(app_dir, "lib")
    arch = _MACHINES.get(platform.machine().lower(), platform.machine().lower())
    system = "windows" if sys.platform.startswith("win") else sys.platform
    for folder in (os.path.join(lib, "3rdparty", f"{system}_{arch}"), lib):
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.insert(0, folder)


_MIDNIGHT: dict[str, int] = {}


def epoch_text(timestamp: str) -> str:
    """``2024-01-02T03:04:05.1234567Z`` -> ``1704164645.1234567`` (no datetime objects)."""
    day = timestamp[:10]
    base = _MIDNIGHT.get(day)
    if base is None:
        base = _MIDNIGHT[day] = calendar.timegm((int(day[:4]), int(day[5:7]), int(day[8:10]), 0, 0, 0, 0, 0, 0))
    seconds = base + int(timestamp[11:13]) * 3600 + int(timestamp[14:16]) * 60 + int(timestamp[17:19])
    fraction = timestamp[19:].rstrip("Z")  # "" or ".1234567"
    return f"{seconds}{fraction}" if fraction else str(seconds)


class Reader:
    def __init__(self, ns: argparse.Namespace) -> None:
        import requests  # from the package's lib/ (use_package_libs ran first)

        self.ns = ns
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "bench-baseline"
        self.api_calls = 0
        self.token_requests = 0
        self.pages = 0
        self.events = 0
        self.out = sys.stdout
        self.head = f'<event stanza={quoteattr(ns.stanza)} unbroken="1"><time>'
        self.meta = (
            f"</time><source>{escape(ns.source)}</source><sourcetype>{escape(ns.sourcetype)}</sourcetype>"
            f"<index>{escape(ns.index)}</index><data>"
        )

    def token(self) -> str:
        secret = os.environ.get("BENCH_CLIENT_SECRET", "")
        self.token_requests += 1
        if self.ns.msal:
            import msal

            app = msal.ConfidentialClientApplication(
                self.ns.client_id,
                client_credential=secret,
                authority=f"{self.ns.login_base}/{self.ns.tenant}",
                http_client=self.session,
                azure_region=False,
                instance_discovery=False,
            )
            result: dict[str, Any] = app.acquire_token_for_client(scopes=[self.ns.scope])
        else:
            response = self.session.post(
                f"{self.ns.login_base}/{self.ns.tenant}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.ns.client_id,
                    "client_secret": secret,
                    "scope": self.ns.scope,
                },
                timeout=60,
            )
            result = response.json()
        if "access_token" not in result:
            raise SystemExit(f"token request refused: {result.get('error')} {result.get('error_codes')}")
        return str(result["access_token"])

    def page(self, token: str, flt: str, skip: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"$filter": flt, "$orderby": "lastUpdateTime asc", "$top": self.ns.page_size}
        if skip:
            params["$skip"] = skip
        if self.ns.evidence:
            params["$expand"] = "evidence"
        self.api_calls += 1
        response = self.session.get(
            f"{self.ns.api_base}/api/alerts",
            params=params,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=180,
        )
        if response.status_code != 200:
            raise SystemExit(f"GET /api/alerts answered {response.status_code}: {response.text[:300]}")
        alerts: list[dict[str, Any]] = json.loads(response.content)["value"]
        return alerts

    def write(self, alerts: list[dict[str, Any]], skip_ids: set[str]) -> None:
        head, meta, dumps = self.head, self.meta, json.dumps
        parts = [
            f"{head}{epoch_text(a['lastUpdateTime'])}{meta}"
            f"{escape(dumps(a, ensure_ascii=False, separators=(',', ':')))}</data><done/></event>"
            for a in alerts
            if a["id"] not in skip_ids
        ]
        if parts:
            self.out.write("".join(parts))
            self.out.flush()
            self.events += len(parts)

    def run(self) -> Optional[str]:
        """Read every page from --since on; return the newest lastUpdateTime written."""
        token = self.token()
        boundary, operator, skip = self.ns.since, "gt" if self.ns.exclusive else "ge", 0
        at_boundary: set[str] = set()  # ids already written whose lastUpdateTime is the boundary
        newest: Optional[str] = None
        self.out.write("<stream>")
        while True:
            alerts = self.page(token, f"lastUpdateTime {operator} {boundary}", skip)
            self.pages += 1
            self.write(alerts, at_boundary if operator == "ge" else set())
            if alerts:
                newest = alerts[-1]["lastUpdateTime"]
            full = len(alerts) >= self.ns.page_size
            if operator == "eq":  # paging through one instant with $skip (a fixed window)
                if full:
                    skip += len(alerts)
                else:
                    operator, skip = "gt", 0  # the instant is exhausted: go on after it
                continue
            if not full:
                break
            last = alerts[-1]["lastUpdateTime"]
            if alerts[0]["lastUpdateTime"] == last:  # a whole page at one instant
                operator, skip = "eq", len(alerts)
            else:
                operator, skip = "ge", 0
                at_boundary = {a["id"] for a in alerts if a["lastUpdateTime"] == last}
            boundary = last
        self.out.write("</stream>")
        self.out.flush()
        return newest


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", required=True, help="the unpacked add-on (its lib/ provides requests)")
    ap.add_argument("--tenant", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--since", required=True, help="lastUpdateTime to start from (ISO-8601, UTC)")
    ap.add_argument("--exclusive", action="store_true", help="gt instead of ge for the first page")
    ap.add_argument("--page-size", type=int, default=10_000)
    ap.add_argument("--no-evidence", dest="evidence", action="store_false")
    ap.add_argument("--msal", action="store_true", help="get the token through MSAL (OIDC discovery + POST)")
    ap.add_argument("--login-base", default=LOGIN_BASE)
    ap.add_argument("--api-base", default=API_BASE)
    ap.add_argument("--scope", default=SCOPE)
    ap.add_argument("--stanza", default="bench_baseline://baseline")
    ap.add_argument("--index", default="mde")
    ap.add_argument("--source", default="bench_baseline")
    ap.add_argument("--sourcetype", default="ms:defender:atp:alerts")
    ns = ap.parse_args(argv)
    started = time.monotonic()
    use_package_libs(ns.app)
    reader = Reader(ns)
    newest = reader.run()
    summary = {
        "events": reader.events,
        "pages": reader.pages,
        "api_calls": reader.api_calls,
        "token_requests": reader.token_requests,
        "newest": newest,
        "seconds": round(time.monotonic() - started, 3),
    }
    sys.stderr.write("BENCH_BASELINE " + json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
