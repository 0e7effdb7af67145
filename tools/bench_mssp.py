"""MSSP scale: many tenants on one forwarder, one input process per tenant per interval.

Why this file exists: an MSSP runs one input per customer tenant. The input is not a
single-instance input (``use_single_instance = False``), so splunkd starts one Python
process per input at every interval, and a forwarder's capacity is set by what an
*idle* poll costs: interpreter start, imports, reading the account and settings from
splunkd, the checkpoint, a token and one API call. This script runs N inputs (200 by
default), each with its own tenant, app and account and a few alerts, for a few
intervals (the first collects the alerts, the rest are idle polls), the way splunkd
would, and reports CPU per interval, per input, and tenants per core at a 300 s
interval: can one process per input reach 1,500 tenants per core?

Processes are started ``--concurrency`` at a time (default: one per core), each
through the same reaper as ``tools/bench.py`` so that its CPU and peak RSS are its own.
The stand-ins run in this process and compete for the same cores, as splunkd would;
CPU figures are the children's own and do not include them.

Run by ``make bench`` (through ``tools/bench.py``), or alone:
``.venv/bin/python tools/bench_mssp.py --package dist/<app>.tar.gz [--tenants 200] [--intervals 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_harness import (  # noqa: E402  (tools/ is this script's directory)
    INTERVAL,
    ChildResult,
    Tenants,
    Workspace,
    log,
    md_table,
    newest_package,
)

from tests.pythons import find_python  # noqa: E402  (bench_harness put the repository root on sys.path)

TARGET_TENANTS_PER_CORE = 1_500  # issue #5: one process per input, idle intervals at 300 s


def _interval(tenants: Tenants, names: list[tuple[str, str]], root: Path, concurrency: int) -> dict[str, Any]:
    before = tenants.counters()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results: list[ChildResult] = list(
            pool.map(lambda na: tenants.launch_input(na[0], na[1], root / "checkpoints"), names)
        )
    wall = time.monotonic() - started
    after = tenants.counters()
    api, token, oidc, throttled, splunkd, _ = (a - b for a, b in zip(after, before))
    cpus = sorted(r.cpu_s for r in results)
    failed = [r for r in results if r.returncode != 0 or r.timed_out]
    return {
        "inputs": len(results),
        "cpu_s": sum(cpus),
        "cpu_ms_per_input_median": statistics.median(cpus) * 1000,
        "cpu_ms_per_input_p95": cpus[min(len(cpus) - 1, int(0.95 * len(cpus)))] * 1000,
        "wall_s": wall,
        "rss_mib_max": max(r.rss_mib for r in results),
        "events": sum(r.events for r in results),
        "api_calls": api,
        "token_requests": token,
        "oidc_requests": oidc,
        "throttled": throttled,
        "splunkd_calls": splunkd,
        "subprocesses": sum(len(r.subprocesses) for r in results),
        "failed": len(failed),
        "failures": sorted({r.stderr.strip()[-200:] for r in failed})[:3],
    }


def run_mssp(
    ws: Workspace,
    *,
    tenants: int = 200,
    intervals: int = 3,
    alerts_per_tenant: int = 3,
    concurrency: Optional[int] = None,
    single_tenant_idle_ms: Optional[float] = None,
) -> dict[str, Any]:
    """Seed *tenants* tenants, run every input once per interval; return figures and a markdown section."""
    concurrency = concurrency or os.cpu_count() or 1
    stack = Tenants(ws, "mssp")
    try:
        started = time.monotonic()
        names: list[tuple[str, str]] = []
        for i in range(tenants):
            account = f"tenant{i:04d}"
            tenant_id, _, _ = stack.add_tenant(account, seeding="direct")
            stack.seed_alerts(tenant_id, alerts_per_tenant, seed=10_000 + i, days_back=1)
            names.append((f"mssp_{account}", account))
        log(f"MSSP: seeded {tenants} tenants in {time.monotonic() - started:.1f}s")
        rows = []
        for k in range(1, intervals + 1):
            figures = _interval(stack, names, stack.work, concurrency)
            figures["interval"] = k
            figures["kind"] = "first run (collects the alerts)" if k == 1 else "idle poll"
            rows.append(figures)
            log(
                f"MSSP interval {k}: {figures['cpu_s']:.1f} CPU s for {tenants} inputs in {figures['wall_s']:.1f}s "
                f"wall, {figures['events']} events, {figures['failed']} failed"
            )
        # The same idle poll with every stanza in one process, as a single-instance input would run
        # them (stream_events already loops over all stanzas it is given): start-up paid once.
        before = stack.counters()
        one = stack.child(stack.input_argv(), stack.input_stdin(names, stack.work / "checkpoints"))
        api, token, oidc, _, splunkd, _ = (a - b for a, b in zip(stack.counters(), before))
        single = {
            "cpu_s": one.cpu_s,
            "wall_s": one.wall_s,
            "rss_mib": one.rss_mib,
            "events": one.events,
            "api_calls": api,
            "token_requests": token,
            "oidc_requests": oidc,
            "splunkd_calls": splunkd,
            "returncode": one.returncode,
            "cpu_ms_per_input": one.cpu_s * 1000 / tenants,
            "tenants_per_core": INTERVAL / (one.cpu_s / tenants) if one.cpu_s else float("nan"),
        }
        log(f"MSSP one process for all {tenants} stanzas: {one.cpu_s:.1f} CPU s, {one.wall_s:.1f}s wall")
    finally:
        stack.close()
    idle = [r for r in rows if r["interval"] > 1] or rows
    idle_cpu_per_input = statistics.mean(r["cpu_s"] for r in idle) / tenants
    tenants_per_core = INTERVAL / idle_cpu_per_input if idle_cpu_per_input else float("nan")
    result: dict[str, Any] = {
        "tenants": tenants,
        "intervals": rows,
        "alerts_per_tenant": alerts_per_tenant,
        "concurrency": concurrency,
        "idle_cpu_ms_per_input": idle_cpu_per_input * 1000,
        "tenants_per_core": tenants_per_core,
        "cores_needed_at_interval": statistics.mean(r["cpu_s"] for r in idle) / INTERVAL,
        "reaches_target": tenants_per_core >= TARGET_TENANTS_PER_CORE,
        "single_tenant_idle_ms": single_tenant_idle_ms,
        "one_process": single,
    }
    result["markdown"] = mssp_markdown(result)
    return result


def mssp_markdown(r: dict[str, Any]) -> str:
    header = ["interval", "what", "CPU s (all inputs)", "CPU ms per input: median / p95", "wall s",
              "max RSS MiB", "events", "API calls", "token requests", "OIDC", "splunkd REST calls", "subprocesses",
              "failed"]  # fmt: skip
    rows = [
        [
            str(x["interval"]),
            x["kind"],
            f"{x['cpu_s']:.1f}",
            f"{x['cpu_ms_per_input_median']:.0f} / {x['cpu_ms_per_input_p95']:.0f}",
            f"{x['wall_s']:.1f}",
            f"{x['rss_mib_max']:.1f}",
            f"{x['events']:,}",
            f"{x['api_calls']:,}",
            f"{x['token_requests']:,}",
            f"{x['oidc_requests']:,}",
            f"{x['splunkd_calls']:,}",
            str(x["subprocesses"]),
            str(x["failed"]),
        ]
        for x in r["intervals"]
    ]
    verdict = "reaches" if r["reaches_target"] else "does not reach"
    lines = [
        f"{r['tenants']} inputs (one tenant, app and account each, {r['alerts_per_tenant']} alerts per tenant), "
        f"one process per input per interval, {r['concurrency']} started at a time.",
        "",
        md_table(header, rows),
        "",
        f"Idle poll: **{r['idle_cpu_ms_per_input']:.0f} ms CPU per input** → "
        f"**{r['tenants_per_core']:,.0f} tenants per core** at a {INTERVAL} s interval "
        f"({r['cores_needed_at_interval']:.2f} cores busy for "
        f"{r['tenants']} tenants). One process per input **{verdict}** {TARGET_TENANTS_PER_CORE:,} tenants per core.",
    ]
    one = r.get("one_process")
    if one:
        lines += [
            "",
            f"The same idle poll of all {r['tenants']} stanzas in **one** process (what a single-instance input "
            f"would do; `stream_events` already loops over every stanza it is given): {one['cpu_s']:.1f} CPU s, "
            f"{one['wall_s']:.1f} s wall, {one['rss_mib']:.1f} MiB peak RSS, {one['api_calls']} API calls, "
            f"{one['token_requests']} token requests, {one['splunkd_calls']} splunkd REST calls, exit code "
            f"{one['returncode']} → **{one['cpu_ms_per_input']:.0f} ms CPU per tenant, "
            f"{one['tenants_per_core']:,.0f} tenants per core**.",
        ]
    if r.get("single_tenant_idle_ms"):
        lines += [
            "",
            f"For comparison, an idle run with a single account configured costs {r['single_tenant_idle_ms']:.0f} ms "
            f"(see Idle runs); the difference is what {r['tenants']} configured accounts add to each run.",
        ]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/bench_mssp.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", type=Path, default=None)
    ap.add_argument("--python", default=None)
    ap.add_argument("--tenants", type=int, default=200)
    ap.add_argument("--intervals", type=int, default=3)
    ap.add_argument("--alerts-per-tenant", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=None)
    ns = ap.parse_args(argv)
    package = ns.package or newest_package()
    python = ns.python or find_python("3.9") or find_python("3.13")
    if package is None or not package.is_file() or not python:
        print("needs a built package (make package) and Python 3.9 or 3.13", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="bench-mssp-"))
    try:
        ws = Workspace.create(package.resolve(), python, root)
        warm = Tenants(ws, "warmup")  # writes __pycache__ into the unpacked package, as the first run does
        try:
            warm.add_tenant("warm")
            warm.launch_input("warm", "warm", warm.work / "ck")
        finally:
            warm.close()
        result = run_mssp(
            ws,
            tenants=ns.tenants,
            intervals=ns.intervals,
            alerts_per_tenant=ns.alerts_per_tenant,
            concurrency=ns.concurrency,
        )
        print(result["markdown"])
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
