"""Real roads are quiet: new warnings per vehicle-hour per app when a real recording is
replayed with its lane map and signals, and again without them (an RSU whose MAP has not come).

    PYTHONPATH=src python benchmarks/replay_quiet.py [DIR] [--list APP,...]

DIR (default ``../shared/reference/trajectories/taf-bw-k733-2020``) holds the recording in
the replay's format (``vehicle_tracks_000.csv``, optionally ``signal_phases_000.csv`` and a
``*.kml`` map). Warnings are the platform's new WARNING/IMMINENT deliveries, grouped per app,
ego and other as the bench groups them (``sim.scorer.group_warnings``: runs less than 1 s
apart, or within the previous advisory's validity, are one warning). Vehicle-hours are the motor-vehicle tracks' observed time.
``--list`` prints every warning of those apps with the two parties' speeds and gap at onset.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from v2xcloud.model import ParticipantKind
from v2xcloud.replay.recording import Recording, load_recording
from v2xcloud.replay.runner import run_replay
from v2xcloud.replay.tracks import kind_of_agent
from v2xcloud.sim.scorer import Alert, family_of, group_warnings

DEFAULT = Path("../shared/reference/trajectories/taf-bw-k733-2020")


def vehicle_hours(rec: Recording) -> float:
    """Observed time of the motor-vehicle tracks, hours."""
    t = rec.tracks
    total_ms = 0
    for tid in np.unique(t.track_id):
        rows = t.track_id == tid
        if kind_of_agent(str(t.agent_type[rows][0])) is not ParticipantKind.VEHICLE:
            continue
        stamps = t.timestamp_ms[rows]
        total_ms += int(stamps.max() - stamps.min()) + 100
    return total_ms / 3_600_000.0


def warnings_of(rec: Recording) -> list[Alert]:
    """The replay's new WARNING/IMMINENT deliveries, grouped into warnings."""
    out = io.StringIO()
    run_replay(rec, out)
    rows = []
    for line in out.getvalue().splitlines():
        d = json.loads(line)
        if d.get("type") != "advisory" or d.get("reason") != "new":
            continue
        p = d["payload"]
        if p["level"] < 2:
            continue
        until = p["expires_ms"] / 1000.0 if p.get("expires_ms") is not None else None
        rows.append((p["app"], p["ego_id"], p.get("other_id"), d["at_ms"] / 1000.0, None, until))
    return group_warnings(rows)


def _state(rec: Recording, tid: str | None, t_s: float) -> tuple[float, float, float] | None:
    if tid is None:
        return None
    tr = rec.tracks
    rows = np.flatnonzero(tr.track_id == tid.rsplit("/", 1)[-1])
    if rows.size == 0:
        return None
    k = rows[np.argmin(np.abs((rec.base_ms + tr.timestamp_ms[rows]) / 1000.0 - t_s))]
    return float(tr.x_m[k]), float(tr.y_m[k]), float(np.hypot(tr.vx_mps[k], tr.vy_mps[k]))


def main() -> int:
    """Replay with and without map/signals and print warnings per vehicle-hour per app."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("dir", nargs="?", type=Path, default=DEFAULT)
    p.add_argument("--list", default="", help="comma-separated apps whose warnings to list")
    args = p.parse_args()
    tracks = args.dir / "vehicle_tracks_000.csv"
    signals = args.dir / "signal_phases_000.csv"
    maps = sorted(args.dir.glob("*.kml"))
    runs = {
        "with MAP+SPAT": load_recording(
            tracks=tracks,
            signals=signals if signals.is_file() else None,
            map_path=maps[0] if maps else None,
        ),
        "without": load_recording(tracks=tracks),
    }
    listed = {a for a in args.list.split(",") if a}
    table: dict[str, Counter[str]] = {}
    hours = 0.0
    for name, rec in runs.items():
        hours = vehicle_hours(rec)
        warnings = warnings_of(rec)
        table[name] = Counter(family_of(w.app) for w in warnings)
        for w in warnings:
            if w.app not in listed:
                continue
            e, o = _state(rec, w.ego, w.onset_s), _state(rec, w.other, w.onset_s)
            gap = np.hypot(e[0] - o[0], e[1] - o[1]) if e and o else float("nan")
            print(
                f"{name}: {w.app} t={w.onset_s - rec.base_ms / 1000:.1f} s {w.ego} "
                f"v={e[2] if e else float('nan'):.1f} -> {w.other} "
                f"v={o[2] if o else float('nan'):.1f} gap {gap:.1f} m"
            )
    apps = sorted({a for c in table.values() for a in c})
    print(f"{args.dir.name}: {hours:.3f} vehicle-hours of motor-vehicle tracks")
    print("app        " + "".join(f"{n:>26}" for n in table))
    for app in apps:
        cells = "".join(f"{table[n][app]:>12} ({table[n][app] / hours:7.1f}/veh-h)" for n in table)
        print(f"{app:<11}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
