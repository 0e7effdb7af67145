"""Show the CIM fields Splunk would give each alert in the files passed, without a Splunk.

``make cim-preview FILES="a.json b.json"`` runs this. It reads the add-on's knowledge from
``package/default`` and ``package/lookups`` (relative to the repository root), writes every alert
as the modular input does, breaks and timestamps the stream with props.conf and prints one JSON
object per alert: ``_time`` (from the props.conf timestamp fallback), the CIM Alerts fields
(``null`` when unset), ``eventtype`` and ``tag``. ``--all`` adds every other search-time field.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.knowledge.alert_samples import MAPPED_FIELDS, REPO_ROOT, SOURCETYPE, compact, load_alert_file  # noqa: E402
from tests.knowledge.splunk_search_time import ConfError, Fields, Knowledge, UnsupportedConstruct  # noqa: E402

CIM_FIELDS = tuple(sorted(MAPPED_FIELDS + ("description", "id", "vendor_region")))


def iso_time(epoch: Decimal) -> str:
    seconds = int(epoch)
    fraction = format(epoch - seconds, "f")[1:] if epoch != seconds else ""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def shown(values: list[str] | None) -> str | list[str] | None:
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def preview(paths: list[Path], knowledge: Knowledge, everything: bool = False) -> list[dict[str, object]]:
    """One preview object per alert in the files, in file order."""
    rows: list[dict[str, object]] = []
    for path in paths:
        alerts = load_alert_file(path)
        events = knowledge.index("\n".join(compact(alert) for alert in alerts), SOURCETYPE)
        if len(events) != len(alerts):
            raise ValueError(f"{path}: {len(alerts)} alerts became {len(events)} events")
        for event in events:
            if event.truncated:
                raise ValueError(f"{path}: an alert is longer than TRUNCATE and would be cut")
            fields: Fields = knowledge.search(event.raw, SOURCETYPE)
            row: dict[str, object] = {"file": str(path), "_time": iso_time(event.time)}
            row.update({name: shown(fields.get(name)) for name in CIM_FIELDS})
            row["eventtype"] = fields.get("eventtype", [])
            row["tag"] = fields.get("tag", [])
            if everything:
                row.update({name: shown(values) for name, values in sorted(fields.items()) if name not in row})
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="alert JSON (list response, alert, array or one per line)"
    )
    parser.add_argument("--all", action="store_true", help="print every search-time field, not only the CIM ones")
    args = parser.parse_args(argv)
    try:
        knowledge = Knowledge.from_app(REPO_ROOT / "package" / "default", REPO_ROOT / "package" / "lookups")
        rows = preview(args.files, knowledge, everything=args.all)
    except (OSError, ValueError, UnsupportedConstruct, ConfError) as error:
        print(f"cim_preview: {error}", file=sys.stderr)
        return 1
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
