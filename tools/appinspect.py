"""Run Splunk AppInspect on the package and fail on anything Splunk Cloud would reject.

`make build` calls this with the `cloud` tag: any failure, error or future failure
fails the build. `make appinspect-all` runs every check once and only reports, which is
how the all-tags result in the release notes is produced.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BLOCKING = ("failure", "error", "future_failure")


def run_appinspect(package: Path, tags: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            str(Path(sys.executable).with_name("splunk-appinspect")),
            "inspect",
            str(package),
            "--mode",
            "precert",
            "--skip-trusted-libraries-update",
            "--output-file",
            str(report),
            "--data-format",
            "json",
        ]
        for tag in tags:
            command += ["--included-tags", tag]
        subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
        if not report.exists():
            raise SystemExit("AppInspect wrote no report; run it by hand to see why: " + " ".join(command))
        result: dict[str, Any] = json.loads(report.read_text())
        return result


def findings(report: dict[str, Any], wanted: tuple[str, ...]) -> list[tuple[str, str, str]]:
    rows = []
    for app_report in report.get("reports", []):
        for group in app_report.get("groups", []):
            for check in group.get("checks", []):
                result = check.get("result")
                if result in wanted:
                    messages = [m.get("message", "") for m in check.get("messages", [])]
                    rows.append((result, check.get("name", "?"), " | ".join(messages)[:400]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("package", type=Path)
    parser.add_argument("--tags", nargs="*", default=[])
    parser.add_argument("--report-only", action="store_true", help="print results, never fail")
    args = parser.parse_args()
    report = run_appinspect(args.package, args.tags)
    summary = report.get("summary", {})
    print(
        "AppInspect "
        + (", ".join(args.tags) or "all tags")
        + ": "
        + ", ".join(f"{key}={value}" for key, value in sorted(summary.items()))
    )
    for result, name, message in findings(report, BLOCKING + ("warning",)):
        print(f"  {result}: {name}: {message}")
    blocking = sum(int(summary.get(key, 0)) for key in BLOCKING)
    if blocking and not args.report_only:
        print(f"AppInspect found {blocking} blocking result(s): fix them before release.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
