"""Run a command and report its own resource usage: `python rusage_exec.py OUT.json CMD...`.

Why this exists: Linux carries a process's peak RSS across fork and exec, so a child
forked from a big test harness (holding 100,000 seeded alerts) reports the harness's
RSS as its own `ru_maxrss`. Started from this small intermediate instead, the command
is forked from a ~10 MiB process, and `os.wait4` here measures the command alone. The
exit status is passed on; stdin, stdout and stderr are inherited untouched.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    report, command = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:  # pragma: no cover (replaced by exec)
        try:
            os.execv(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(report, "w", encoding="utf-8") as out:
        json.dump({"ru_maxrss": usage.ru_maxrss, "ru_utime": usage.ru_utime, "ru_stime": usage.ru_stime}, out)
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8


if __name__ == "__main__":
    sys.exit(main())
