"""splunkd's other two modes: `--scheme` and `--validate-arguments` (the input form's save)."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

VALIDATION = """<items><server_host>sh</server_host><server_uri>https://127.0.0.1:1</server_uri>
<session_key>k</session_key><checkpoint_dir>/tmp</checkpoint_dir>
<item name="{name}">{params}</item></items>"""


def run_script(app_dir: Path, python: str, args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    script = app_dir / "bin" / "defender_endpoint_alerts.py"
    return subprocess.run(
        [python, str(script), *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=app_dir / "bin"
    )


def test_scheme_lists_every_input_field(app_dir: Path, splunk_python: str) -> None:
    result = run_script(app_dir, splunk_python, ["--scheme"])
    assert result.returncode == 0, result.stderr
    scheme = ET.fromstring(result.stdout)
    names = {arg.get("name") for arg in scheme.iter("arg")}
    assert {"account", "start", "include_evidence", "time_field", "checkpoint_store", "page_size"} <= names
    assert scheme.findtext("use_external_validation") == "true"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"account": "contoso", "start": "400"}, "outside 1 to 180"),
        ({"account": "contoso", "page_size": "50000"}, "from 100 to 10000"),
        ({"account": "contoso", "start": "2001-01-01"}, "beyond Defender's retention"),
    ],
)
def test_validation_refuses_bad_values_with_the_fix(
    app_dir: Path, splunk_python: str, params: dict[str, str], message: str
) -> None:
    xml_params = "".join(f'<param name="{k}">{v}</param>' for k, v in params.items())
    result = run_script(
        app_dir, splunk_python, ["--validate-arguments"], VALIDATION.format(name="in1", params=xml_params)
    )
    assert result.returncode != 0
    assert message in ET.fromstring(result.stdout).findtext("message", "")


def test_validation_accepts_good_values(app_dir: Path, splunk_python: str) -> None:
    ten_days_ago = (datetime.now(timezone.utc) - timedelta(days=10)).strftime("%Y-%m-%d")
    params = (
        f'<param name="account">contoso</param><param name="start">{ten_days_ago}</param>'
        '<param name="page_size">500</param>'
    )
    result = run_script(app_dir, splunk_python, ["--validate-arguments"], VALIDATION.format(name="in1", params=params))
    assert result.returncode == 0, result.stdout + result.stderr
