"""Derive pytest-splunk-addon's sample file from the real alert samples, so the live tests use the same alerts.

pytest-splunk-addon (``--splunk-data-generator=tests/knowledge/pytest-splunk-addon``) ingests
``samples/ms_defender_atp_alerts.samples`` one line per event (``input_type = modinput``). Each line
is one alert of tests/data/samples written as the modular input writes it, except that the value
of ``lastUpdateTime`` becomes the token ``##lastUpdateTime##``: pytest-splunk-addon replaces it with
a current time and sends the same time as the event's ``_time``, as the input does with ``<time>``.

``python tests/knowledge/psa_samples.py`` rewrites the file; ``--check`` fails when it is stale
(test_pytest_splunk_addon_config.py runs the check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.knowledge.alert_samples import REPO_ROOT, compact, sample_alerts  # noqa: E402

PSA_DIR = REPO_ROOT / "tests" / "knowledge" / "pytest-splunk-addon"
PSA_SAMPLE = PSA_DIR / "samples" / "ms_defender_atp_alerts.samples"
TIME_TOKEN = "##lastUpdateTime##"


def psa_sample_text() -> str:
    lines = []
    for _, alert in sample_alerts():
        tokenized = dict(alert)
        if "lastUpdateTime" not in tokenized:
            raise ValueError(f"alert {alert['id']} has no lastUpdateTime")
        tokenized["lastUpdateTime"] = TIME_TOKEN
        lines.append(compact(tokenized))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the sample file is not up to date")
    args = parser.parse_args(argv)
    expected = psa_sample_text()
    if args.check:
        current = PSA_SAMPLE.read_text(encoding="utf-8") if PSA_SAMPLE.is_file() else ""
        if current != expected:
            print(f"{PSA_SAMPLE} is stale: run python tests/knowledge/psa_samples.py", file=sys.stderr)
            return 1
        return 0
    PSA_SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    PSA_SAMPLE.write_text(expected, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
