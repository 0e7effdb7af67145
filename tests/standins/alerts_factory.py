"""Realistic Defender for Endpoint alerts, as many as a test needs, reproducibly.

Why this file exists: the real samples (three public sources, see
``tests/data/samples/README.md``) show what Defender sends but are few. Collector tests
need thousands to hundreds of thousands of alerts with controlled ``lastUpdateTime``
values: spread over a window, many sharing *exactly* the same instant (ties, which a
collector that pages by time alone will drop or repeat), and timestamps printed with
0 to 7 fractional digits (Defender drops trailing zeros). This module clones the real
alerts as templates, so every field name, nesting, null and Windows path looks like
production, and only rewrites identity and time fields. Same seed, same alerts.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .timefmt import DOTNET_EPOCH_OFFSET_TICKS, TICKS_PER_SECOND, format_ticks, to_ticks

DEFAULT_TENANT = "8d5f2c1e-6b1a-4f0e-9c3d-2a7b4e6f8a01"
SAMPLE_FILES = ("mde-docs-list-alerts.json", "security-content-impacket-alert.json", "elastic-pipeline-alerts.json")
_SAMPLE_DIRS = (Path(__file__).resolve().parents[1] / "data" / "samples", Path("/work/shared/samples"))

_SEVERITIES = ("Informational", "Low", "Medium", "High")
_SEV_WEIGHTS = (15, 35, 35, 15)
_STATUSES = ("New", "InProgress", "Resolved")
_STATUS_WEIGHTS = (50, 20, 30)
# how many fractional digits a generated time keeps (trailing zeros are then dropped)
_DIGITS = (0, 1, 2, 3, 4, 5, 6, 7)
_DIGIT_WEIGHTS = (8, 4, 8, 4, 4, 4, 8, 60)
_UNITS = (10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)  # ticks per last kept digit
_DIGIT_CUM = list(itertools.accumulate(_DIGIT_WEIGHTS))
_STATUS_CUM = list(itertools.accumulate(_STATUS_WEIGHTS))
_SEV_CUM = list(itertools.accumulate(_SEV_WEIGHTS))


def samples_dir() -> Path:
    for d in _SAMPLE_DIRS:
        if all((d / f).is_file() for f in SAMPLE_FILES):
            return d
    raise FileNotFoundError(f"no alert samples in {[str(d) for d in _SAMPLE_DIRS]}")


def load_sample_alerts(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every real alert in the samples: envelopes (``value``) are unwrapped, single objects kept."""
    d = directory or samples_dir()
    alerts: list[dict[str, Any]] = []
    for name in SAMPLE_FILES:
        data = json.loads((d / name).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("value"), list):
            alerts.extend(data["value"])
        elif isinstance(data, dict) and "id" in data:
            alerts.append(data)
        elif isinstance(data, list):
            alerts.extend(data)
        else:
            raise ValueError(f"unexpected shape in {name}")
    return alerts


class AlertFactory:
    """Generates alerts from the sample templates; deterministic for a given seed."""

    def __init__(self, seed: int = 0, tenant_id: str = DEFAULT_TENANT, samples: Path | None = None) -> None:
        self.rng = random.Random(seed)
        self.tenant_id = tenant_id
        originals = load_sample_alerts(samples)
        self._templates: list[dict[str, Any]] = []
        pool: list[dict[str, Any]] = []
        for a in originals:
            pool.extend(e for e in (a.get("evidence") or []) if isinstance(e, dict))
            t = dict(a)
            t["evidence"] = []
            self._templates.append(t)
        self._evidence_pool = pool
        self._ids: set[str] = set()

    # -- single fields -------------------------------------------------------------
    def _pick(self, values: Sequence[Any], cum: list[int]) -> Any:
        # random.choices() is slow per call; same distribution via cumulative weights
        return values[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def _quantize(self, ticks: int) -> int:
        unit: int = _UNITS[self._pick(_DIGITS, _DIGIT_CUM)]
        return ticks - ticks % unit

    def _hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def _alert_id(self, creation_ticks: int) -> str:
        # Real ids are "da" + .NET ticks of creation + "_" + a signed 32-bit number.
        for _ in range(1000):
            aid = f"da{creation_ticks + DOTNET_EPOCH_OFFSET_TICKS}_{self.rng.randint(-(2**31), 2**31 - 1)}"
            if aid not in self._ids:
                self._ids.add(aid)
                return aid
        raise RuntimeError("could not make a unique alert id")

    def _evidence(self, creation_ticks: int) -> list[dict[str, Any]]:
        out = []
        for src in self.rng.sample(self._evidence_pool, self.rng.randint(1, 3)):
            e = _clone(src)
            if "evidenceCreationTime" in e:
                e["evidenceCreationTime"] = format_ticks(
                    self._quantize(creation_ticks + self.rng.randint(0, 5 * TICKS_PER_SECOND))
                )
            if e.get("sha1"):
                e["sha1"] = self._hex(40)
            if e.get("sha256"):
                e["sha256"] = self._hex(64)
            if isinstance(e.get("processId"), int):
                e["processId"] = self.rng.randint(4, 65000)
            out.append(e)
        return out

    # -- alerts --------------------------------------------------------------------
    def alert(self, last_update: int | str | Any, *, evidence: bool | None = None, **overrides: Any) -> dict[str, Any]:
        """One alert whose lastUpdateTime is exactly *last_update* (ticks, string or datetime)."""
        rng = self.rng
        lut = to_ticks(last_update)
        a: dict[str, Any] = _clone(rng.choice(self._templates))
        creation = self._quantize(lut - rng.randint(0, 2 * 86400 * TICKS_PER_SECOND))
        first_event = self._quantize(creation - rng.randint(1, 600 * TICKS_PER_SECOND))
        last_event = self._quantize(first_event + (creation - first_event) // 2)
        status = self._pick(_STATUSES, _STATUS_CUM)
        a["id"] = self._alert_id(creation)
        a["incidentId"] = rng.randint(1, 9_999_999)
        a["investigationId"] = rng.choice((None, rng.randint(1, 9_999_999)))
        a["severity"] = self._pick(_SEVERITIES, _SEV_CUM)
        a["status"] = status
        a["alertCreationTime"] = format_ticks(creation)
        a["firstEventTime"] = format_ticks(first_event)
        a["lastEventTime"] = format_ticks(last_event)
        a["lastUpdateTime"] = format_ticks(lut)
        a["resolvedTime"] = format_ticks(self._quantize((creation + lut) // 2)) if status == "Resolved" else None
        a["machineId"] = self._hex(40)
        a["computerDnsName"] = f"host{rng.randint(1, 99999):05d}.corp.contoso.com"
        a["aadTenantId"] = self.tenant_id
        with_ev = rng.random() < 0.9 if evidence is None else evidence
        a["evidence"] = self._evidence(creation) if with_ev else []
        a.update(overrides)
        return a

    def alerts(
        self,
        n: int,
        *,
        start: int | str | Any = "2024-01-01T00:00:00Z",
        end: int | str | Any = "2024-01-08T00:00:00Z",
        tie_groups: int = 0,
        tie_size: int = 0,
        evidence_fraction: float = 0.9,
    ) -> list[dict[str, Any]]:
        """*n* alerts with lastUpdateTime uniform in [start, end).

        ``tie_groups`` groups of ``tie_size`` alerts each share one exact lastUpdateTime
        (counted within *n*). The list is returned sorted by lastUpdateTime, then id.
        """
        lo, hi = to_ticks(start), to_ticks(end)
        if hi <= lo:
            raise ValueError("end must be after start")
        if tie_groups * tie_size > n:
            raise ValueError("more tied alerts than alerts")
        times: list[int] = []
        for _ in range(tie_groups):
            t = self._quantize(self.rng.randrange(lo, hi))
            times.extend([t] * tie_size)
        while len(times) < n:
            times.append(max(lo, self._quantize(self.rng.randrange(lo, hi))))
        out = [self.alert(t, evidence=self.rng.random() < evidence_fraction) for t in times]
        out.sort(key=lambda a: (to_ticks(a["lastUpdateTime"]), a["id"]))
        return out

    def tied(self, n: int, at: int | str | Any) -> list[dict[str, Any]]:
        """*n* alerts that all carry the same lastUpdateTime *at*."""
        return [self.alert(at) for _ in range(n)]


def _clone(obj: Any) -> Any:
    """Deep copy of JSON-like data (much faster than copy.deepcopy or a json round trip)."""
    if isinstance(obj, dict):
        return {k: (_clone(v) if isinstance(v, (dict, list)) else v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [(_clone(v) if isinstance(v, (dict, list)) else v) for v in obj]
    return obj


def make_alerts(n: int, *, seed: int = 0, tenant_id: str = DEFAULT_TENANT, **kwargs: Any) -> list[dict[str, Any]]:
    """Shortcut for ``AlertFactory(seed, tenant_id).alerts(n, **kwargs)``."""
    return AlertFactory(seed, tenant_id).alerts(n, **kwargs)


def make_tied_alerts(
    n: int, at: int | str | Any, *, seed: int = 0, tenant_id: str = DEFAULT_TENANT
) -> list[dict[str, Any]]:
    return AlertFactory(seed, tenant_id).tied(n, at)


def ids(alerts: Iterable[dict[str, Any]]) -> list[str]:
    return [a["id"] for a in alerts]


def sort_key(alert: dict[str, Any]) -> tuple[int, str]:
    return (to_ticks(alert["lastUpdateTime"]), alert["id"])


__all__: Sequence[str] = (
    "DEFAULT_TENANT",
    "AlertFactory",
    "ids",
    "load_sample_alerts",
    "make_alerts",
    "make_tied_alerts",
    "samples_dir",
    "sort_key",
)
