"""The customScript of every response action (globalConfig.json `alerts[].customScript`).

UCC generates `bin/<action>.py` for each alert action and keeps it untouched; that script
imports this module and calls `process_event(helper)`, where `helper` is its
ModularAlertBase worker (payload, results, logging, audit events). All actions share one
implementation, `mde_alerts.response_run`; the action's name says which one runs.
"""

from __future__ import annotations

from typing import Any

import import_declare_test  # noqa: F401  (puts the package's lib/ on sys.path)

from mde_alerts import response_run


def process_event(helper: Any, *args: Any, **kwargs: Any) -> int:
    return response_run.run(helper, str(helper._alert_name))
