"""`make demo`: see the add-on collect alerts without Splunk or Azure.

Starts the bundled stand-ins for Microsoft (Entra ID token endpoint and Defender's
alerts API, reached at Microsoft's own hostnames) and for splunkd (conf files,
encrypted credentials, KV store), seeds a tenant from real sample alerts, and runs the
packaged input twice exactly as splunkd would: stdin XML in, event stream out. Between
the runs, a few alerts change status and a new one arrives, to show that the second
run writes just those. Finally it isolates the device of one High alert with the packaged
response action `mde_isolate_device`, run as splunkd's sendalert runs it (JSON payload on
stdin, the alert as the triggering result), and prints Defender's final status and the audit
event the action wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pythons import find_python  # noqa: E402
from tests.standins.alerts_factory import AlertFactory  # noqa: E402
from tests.standins.launcher import RunResult, StandinStack  # noqa: E402
from tests.standins.sendalert import run_action  # noqa: E402

ALERTS = 2_500
DEMO_SECRET = "demo-secret-value"  # noqa: S105  (the stand-in tenant's)
DAY = 86_400


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def summarize(label: str, result: RunResult, stack: StandinStack, api_before: int, splunkd_before: int) -> None:
    assert stack.splunkd is not None
    print(
        f"{label}: exit {result.returncode}, {len(result.events)} events in {result.wall_seconds:.1f}s "
        f"({result.cpu_seconds:.2f}s CPU, peak RSS {result.max_rss_mb:.0f} MiB), "
        f"{stack.microsoft.count('api') - api_before} Defender API call(s), "
        f"{len(stack.splunkd.requests) - splunkd_before} splunkd REST call(s)"
    )


def show(result: RunResult, count: int) -> None:
    for event in result.events[:count]:
        alert = json.loads(event["data"])
        print(
            f"  _time={iso(float(event['time']))} index={event['index']} sourcetype={event['sourcetype']}\n"
            f"  source={event['source']}\n"
            f"  {alert['severity']:<13} {alert['status']:<10} {alert['title'][:70]}"
            f"  (id {alert['id']}, {len(alert.get('evidence') or [])} evidence)"
        )


def isolate_one_high_alert(stack: StandinStack, app_dir: Path, python: str, work: Path, run: RunResult) -> bool:
    """`| sendalert mde_isolate_device` on one High alert the input collected."""
    alert = next(a for a in (json.loads(e["data"]) for e in run.events) if a["severity"] == "High" and a["machineId"])
    tenant_id = alert["aadTenantId"]
    stack.microsoft.add_machine(tenant_id, alert["computerDnsName"], machine_id=alert["machineId"])
    row = {k: v for k, v in alert.items() if not isinstance(v, (dict, list))}
    print(f"\nResponse: isolating {alert['computerDnsName']} (High alert {alert['id']}: {alert['title'][:60]})")
    result = run_action(
        stack, app_dir, "mde_isolate_device", [row], {}, splunk_home=work / "splunk", python=python,
        search_name="Demo - High alerts",
    )  # fmt: skip
    actions = [a for a in stack.microsoft.machine_actions(tenant_id) if a["machineId"] == alert["machineId"]]
    final = actions[-1]["status"] if actions else "none"
    print(f"  exit {result.returncode} after {result.seconds:.1f}s; Defender's machine action: {final}")
    for event in result.events:
        print(f"  audit event (index={event.index}, sourcetype={event.sourcetype}):")
        print("  " + json.dumps(event.json, indent=2).replace("\n", "\n  "))
    return result.returncode == 0 and final == "Succeeded"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", required=True, type=Path)
    args = parser.parse_args()
    python = find_python("3.9") or find_python("3.13")
    if python is None:
        print("The demo runs the input under Splunk's Python (3.9 or 3.13); neither is installed.", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="mde-demo-") as tmp:
        work = Path(tmp)
        with tarfile.open(args.package) as archive:
            archive.extractall(work / "apps", filter="data")
        app_dir = next((work / "apps").iterdir())
        with StandinStack(work / "stack", app_default_dir=app_dir / "default") as stack:
            assert stack.splunkd is not None
            ms = stack.microsoft
            tenant = ms.add_tenant(domain="contoso.onmicrosoft.com", geo="eu")
            app = ms.add_app(
                tenant.tenant_id, secret=DEMO_SECRET, roles=("Alert.Read.All", "Machine.Read.All", "Machine.Isolate")
            )
            now = time.time()
            factory = AlertFactory(seed=2026, tenant_id=tenant.tenant_id)
            alerts = factory.alerts(ALERTS, start=iso(now - 6 * DAY), end=iso(now - 120))
            ms.add_alerts(tenant.tenant_id, alerts)
            stack.splunkd.seed_account(
                "contoso", "contoso.onmicrosoft.com", app.client_id, "commercial_eu", client_secret=DEMO_SECRET
            )
            stack.splunkd.seed_settings(loglevel="INFO")
            print(
                f"Stand-ins up: Microsoft at {', '.join(sorted(stack.hostmap)[:3])}, ... -> 127.0.0.1:{ms.port}; "
                f"splunkd at {stack.server_uri}"
            )
            print(f"Tenant contoso.onmicrosoft.com (EU geo) holds {ALERTS} alerts from the last 6 days.\n")
            params = {"account": "contoso", "index": "mde", "start": "7", "interval": "300"}

            def run() -> RunResult:
                return stack.run_modinput(
                    app_dir,
                    {"contoso_alerts": params},
                    python=python,
                    checkpoint_dir=work / "checkpoints",
                    splunk_home=work / "splunk",
                    timeout=300,
                )

            api, calls = ms.count("api"), len(stack.splunkd.requests)
            first = run()
            summarize("Run 1 (first run, from Start = 7 days)", first, stack, api, calls)
            show(first, 3)

            for alert in alerts[-3:]:
                ms.update_alert(tenant.tenant_id, alert["id"], {"status": "Resolved", "classification": "TruePositive"})
            ms.add_alerts(tenant.tenant_id, [factory.alert(iso(time.time() - 1))])
            print("\nMeanwhile: 3 alerts were resolved in Defender and 1 new alert arrived.\n")

            api, calls = ms.count("api"), len(stack.splunkd.requests)
            second = run()
            summarize("Run 2 (incremental)", second, stack, api, calls)
            show(second, 4)

            log = work / "splunk" / "var" / "log" / "splunk" / "ta-defender-endpoint-alerts_contoso_alerts.log"
            print("\nThe input's own log, last run summary:")
            summaries = [line for line in log.read_text().splitlines() if "run summary" in line]
            print("  " + summaries[-1].split("run summary: ", 1)[-1] if summaries else "  (no summary found)")
            ok = first.returncode == 0 and len(first.events) == ALERTS and len(second.events) == 4
            ok = isolate_one_high_alert(stack, app_dir, python, work, first) and ok
            print("\nDemo " + ("succeeded." if ok else "FAILED: see above."))
            return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
