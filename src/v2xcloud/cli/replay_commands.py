"""``v2xcloud replay``: feed recorded tracks (+ signals + map) into the platform, write JSON lines.

    v2xcloud replay --tracks TRACKS.csv [--signals SIGNALS.csv] [--map MAP.kml]
                    [--origin LAT,LON] --out OUT.jsonl [--speed 0] [--plot PLOT.png]

Signals and map are optional. Malformed rows are reported (``{"type": "issue"}`` lines and a
count on stderr) and skipped; a summary line ends the output and is echoed to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError

__all__ = ["register"]


def _origin(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--origin wants LAT,LON in degrees, got {text!r}"
        ) from exc
    return lat, lon


def register(sub: argparse._SubParsersAction) -> None:
    """Attach the ``replay`` subcommand."""
    p = add_long_running(
        sub, "replay", help="replay recorded tracks/signals/map through the platform"
    )
    p.add_argument("--tracks", type=Path, required=True, help="INTERACTION-style tracks CSV")
    p.add_argument("--signals", type=Path, help="signal-phase CSV (J2735 movement states)")
    p.add_argument("--map", type=Path, help="KML lane map (lanes, connections, signal groups)")
    p.add_argument(
        "--origin",
        type=_origin,
        help="LAT,LON of the tracks' x/y origin (default: meta_data.csv beside them)",
    )
    p.add_argument("--out", type=Path, required=True, help="JSON lines output file ('-': stdout)")
    p.add_argument("--tick-ms", type=int, default=100, help="platform tick (default 100 ms)")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="pace: 1 = real time, 0 = as fast as possible (default)",
    )
    p.add_argument("--plot", type=Path, help="also draw the intersection, tracks and advisories")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from v2xcloud.replay.recording import load_recording
    from v2xcloud.replay.runner import run_replay

    for name in ("tracks", "signals", "map"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            raise ConfigError(f"--{name} {path}: no such file")
    if args.tick_ms <= 0 or args.speed < 0:
        raise ConfigError("--tick-ms must be > 0 and --speed >= 0")
    rec = load_recording(
        tracks=args.tracks, signals=args.signals, map_path=args.map, origin=args.origin
    )
    if str(args.out) == "-":
        summary = run_replay(rec, sys.stdout, tick_ms=args.tick_ms, speed=args.speed)
    else:
        with args.out.open("w", encoding="utf-8") as out:
            summary = run_replay(rec, out, tick_ms=args.tick_ms, speed=args.speed)
    for note in rec.corrections:
        print(f"v2xcloud replay: corrected {note}", file=sys.stderr)
    if rec.issues:
        print(
            f"v2xcloud replay: skipped {len(rec.issues)} malformed row(s); first: "
            f"{rec.issues[0].file}:{rec.issues[0].line}: {rec.issues[0].reason}",
            file=sys.stderr,
        )
    print(
        f"v2xcloud replay: {summary.tracks} tracks, {summary.duration_s:.1f} s in "
        f"{summary.wall_s:.1f} s; advisories {summary.advisories}; events {summary.events}",
        file=sys.stderr,
    )
    if args.plot is not None and str(args.out) != "-":
        from v2xcloud.replay.plot import plot_replay

        plot_replay(rec, args.out, args.plot)
    return 0
