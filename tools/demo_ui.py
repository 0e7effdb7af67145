"""`make demo-ui`: the add-on's real setup pages in your own browser, with nothing to install.

Starts the Microsoft stand-in (a demo tenant holding sample alerts), the splunkd
stand-in serving the built add-on's own REST handlers, and the Splunk Web stand-in on
localhost, then prints the URL and the demo tenant's tenant ID, client ID and secret to
type into Configuration > Accounts > Add. Every input created in the page then runs as
splunkd would run it: at once when it appears, then every interval while it is enabled,
and on demand (press Enter); each run prints what it ingested.
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pythons import find_python  # noqa: E402
from tests.standins.alerts_factory import AlertFactory  # noqa: E402
from tests.standins.launcher import SCHEME  # noqa: E402
from tests.standins.ui_stack import UiStack  # noqa: E402

ALERTS = 300
DEMO_SECRET = "demo-secret-value"  # noqa: S105  (the stand-in tenant's)
DOMAIN = "contoso.onmicrosoft.com"
DAY = 86_400


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def enabled_inputs(ui: UiStack) -> dict[str, int]:
    """Enabled inputs the pages stored, with their intervals."""
    prefix = f"{SCHEME}://"
    found = {}
    for stanza, values in ui.splunkd.stanzas("inputs").items():
        if stanza.startswith(prefix) and values.get("disabled", "0") not in ("1", "true"):
            found[stanza[len(prefix) :]] = int(float(values.get("interval") or 300))
    return found


def run(ui: UiStack, name: str) -> None:
    result = ui.run_input(name, timeout=600)
    print(f"\n[{time.strftime('%H:%M:%S')}] input {name}: exit {result.returncode}, {len(result.events)} events")
    for event in result.events[:3]:
        alert = json.loads(event["data"])
        print(f"  index={event['index']} {alert['severity']:<13} {alert['status']:<10} {alert['title'][:60]}")
    if len(result.events) > 3:
        print(f"  ... and {len(result.events) - 3} more")
    log = ui.splunk_home / "var" / "log" / "splunk" / f"ta-defender-endpoint-alerts_{name}.log"
    summaries = [line for line in log.read_text().splitlines() if "run summary" in line] if log.exists() else []
    if summaries:
        print("  " + summaries[-1].split("run summary: ", 1)[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", type=Path, default=ROOT / "output" / "TA-defender-endpoint-alerts")
    parser.add_argument("--port", type=int, default=8000, help="Splunk Web stand-in port (0: any free one)")
    args = parser.parse_args()
    if not (args.app / "default" / "restmap.conf").is_file():
        print(f"{args.app} is not a built add-on: run `make build` first.", file=sys.stderr)
        return 1
    python = find_python("3.9") or find_python("3.13")
    if python is None:
        print("The handlers run under Splunk's Python (3.9 or 3.13); neither is installed.", file=sys.stderr)
        return 1
    with (
        tempfile.TemporaryDirectory(prefix="mde-demo-ui-") as tmp,
        UiStack(args.app, Path(tmp), python, web_port=args.port) as ui,
    ):
        assert ui.web is not None
        ms = ui.stack.microsoft
        tenant = ms.add_tenant(domain=DOMAIN, geo="eu")
        app = ms.add_app(tenant.tenant_id, secret=DEMO_SECRET)
        now = time.time()
        factory = AlertFactory(seed=2026, tenant_id=tenant.tenant_id)
        ms.add_alerts(tenant.tenant_id, factory.alerts(ALERTS, start=iso(now - 5 * DAY), end=iso(now - 120)))
        print(f"Open {ui.web.page_url('configuration')} in your browser.\n")
        print("Configuration > Accounts > Add, with the demo tenant (it holds " f"{ALERTS} alerts of the last 5 days):")
        print(f"  Tenant ID      {tenant.tenant_id}   (or {DOMAIN})")
        print(f"  Client ID      {app.client_id}")
        print(f"  Client secret  {DEMO_SECRET}")
        print("  Cloud / region Commercial (global) or Commercial, EU geo\n")
        print("Then Inputs > Create New Input. Each enabled input runs here as splunkd would run it: at once,")
        print("then every interval; press Enter to run them all now, Ctrl-C to stop.")
        next_run: dict[str, float] = {}
        try:
            while True:
                now_all = False
                if sys.stdin.isatty():
                    if select.select([sys.stdin], [], [], 1.0)[0]:
                        sys.stdin.readline()
                        now_all = True
                else:
                    time.sleep(1.0)
                inputs = enabled_inputs(ui)
                for name, interval in sorted(inputs.items()):
                    if now_all or time.monotonic() >= next_run.get(name, 0.0):
                        run(ui, name)
                        next_run[name] = time.monotonic() + interval
                for gone in set(next_run) - set(inputs):
                    del next_run[gone]
        except KeyboardInterrupt:
            print("\nStopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
