"""One persistent process that serves an app's UCC REST handler scripts, as splunkd does.

Why this file exists: splunkd runs ``admin_external`` handlers (restmap.conf,
``handlerpersistentmode = true``) in a long-lived Python of its own, with its private
``splunk.admin`` module. This script is that process for the stand-ins: started under
Splunk's Python with ``tests/standins/admin_shim`` first on ``PYTHONPATH``, it reads one
JSON request per line on stdin, runs the generated ``bin/<restRoot>_rh_<name>.py`` as
``__main__`` (so splunktaucclib finds the app name in its path, as under
``etc/apps/<app>/bin``), and answers one JSON line on stdout. The handler's own output
and logging go to stderr. It imports nothing from the test suite: it runs with the
package's ``lib/`` only, under Python 3.9 or 3.13.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from typing import Any

from splunk import admin  # the shim: admin_shim/ is first on PYTHONPATH


def serve(request: dict[str, Any]) -> dict[str, Any]:
    script = request["script"]
    bin_dir = os.path.dirname(script)
    if bin_dir not in sys.path:
        sys.path.insert(0, bin_dir)
    admin.current = admin.AdminRequest(
        action=request["action"],
        name=request.get("name"),
        data={k: list(v) for k, v in request.get("data", {}).items()},
        session_key=request["session_key"],
        user=request.get("user", "admin"),
        app=request.get("app", ""),
    )
    admin.outcome = None
    try:
        runpy.run_path(script, run_name="__main__")
    except BaseException as error:  # noqa: BLE001 (an import error in the handler is an answer too)
        return failure(error, traceback.format_exc())
    finally:
        admin.current = None
    outcome = admin.outcome
    if outcome is None:
        return {"ok": False, "class": "RuntimeError", "text": "the handler script never called admin.init"}
    if outcome.error is not None:
        return failure(
            outcome.error,
            "".join(traceback.format_exception(type(outcome.error), outcome.error, outcome.error.__traceback__)),
        )
    entries = [{"name": name, "content": dict(item), "metadata": item.metadata} for name, item in outcome.items.items()]
    return {"ok": True, "entries": entries}


def failure(error: BaseException, trace: str) -> dict[str, Any]:
    sys.stderr.write(trace)
    return {"ok": False, "class": str(type(error)), "text": str(error), "status": getattr(error, "status", None)}


def main() -> int:
    answers = sys.stdout
    sys.stdout = sys.stderr  # whatever a handler prints must not corrupt the answers
    for line in sys.stdin:
        if not line.strip():
            continue
        answer = serve(json.loads(line))
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
