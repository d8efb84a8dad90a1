"""``v2xcloud gb32960 decode|serve|fleet``: the GB/T 32960 EV wing from the command line.

- ``decode FILE|-``: one hex frame per line in, one JSON object per line out:
  ``{"line": 3, "ok": true, "message": {...}}`` or
  ``{"line": 4, "ok": false, "reason": "bcc_mismatch", "offset": 830, "detail": "..."}``.
  Blank lines and lines starting with ``#`` are skipped. ``--lenient`` decodes frames whose
  BCC does not match (diagnostics; the message then has ``"is_bcc_ok": false``). Exit status
  0 when every frame decoded, 1 when some were rejected, 2 for an unreadable file.
- ``serve``: run the platform server until interrupted (or for ``--duration`` seconds).
- ``fleet --vehicles N``: run N simulated terminals against a server (``--sign-seed``: 2025
  layout, SM2-signed reports with lab keys); ``keys``: those lab keys' public halves.
- ``schedule --chargers FILE --reports FILE``: vehicles whose latest report warns are
  assigned to chargers; prints waiting times for the balanced schedule and for
  nearest-station-first side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from v2xcloud.cli._ev_signatures import add_signature_options, signature_check
from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError, Gb32960Error
from v2xcloud.ev._wire import error_offset
from v2xcloud.ev.charging import load_chargers
from v2xcloud.ev.codec import decode, to_json_dict
from v2xcloud.ev.sink import JsonlAlarmSink, JsonlReportSink, ReportSink

__all__ = ["MAX_LINE_CHARS", "decode_lines", "register"]

MAX_LINE_CHARS = 262_144
"""Longest line read (the hex of the largest GB/T 32960 frame, 65,560 bytes, fits twice);
a longer line is rejected (``line_too_long``) without being held whole."""


def _bounded_lines(lines: IO[str]) -> Iterator[tuple[int, str | int]]:
    """(line number, its text, or its length when longer than ``MAX_LINE_CHARS``)."""
    number = 0
    while text := lines.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(text) <= MAX_LINE_CHARS or text.endswith("\n"):
            yield number, text
            continue
        length = len(text)
        while rest := lines.readline(65_536):  # drop the rest of the line, counting it
            length += len(rest)
            if rest.endswith("\n"):
                break
        yield number, length


def _decode_line(number: int, text: str, *, lenient: bool) -> dict[str, Any] | None:
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    try:
        data = bytes.fromhex(text.removeprefix("0x"))
    except ValueError as exc:
        return {
            "line": number,
            "ok": False,
            "reason": "bad_hex",
            "offset": None,
            "detail": str(exc),
        }
    try:
        return {"line": number, "ok": True, "message": to_json_dict(decode(data, lenient=lenient))}
    except Gb32960Error as exc:
        return {
            "line": number,
            "ok": False,
            "reason": exc.reason,
            "offset": error_offset(exc),
            "detail": exc.detail,
        }


def decode_lines(lines: IO[str], out: IO[str], *, lenient: bool = False) -> tuple[int, int]:
    """Decode hex frames line by line, writing JSON lines; returns ``(decoded, rejected)``.

    Lines are read at most ``MAX_LINE_CHARS`` at a time, so memory stays bounded.
    """
    counts = [0, 0]
    for number, text in _bounded_lines(lines):
        if isinstance(text, int):
            result: dict[str, Any] | None = {
                "line": number,
                "ok": False,
                "reason": "line_too_long",
                "offset": None,
                "detail": f"line of {text} characters; a frame's hex is at most {MAX_LINE_CHARS}",
            }
        else:
            result = _decode_line(number, text, lenient=lenient)
        if result is None:
            continue
        counts[0 if result["ok"] else 1] += 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return counts[0], counts[1]


def _cmd_decode(args: argparse.Namespace) -> int:
    """Exit status 0 when every frame decoded, 1 when some were rejected (2: bad file)."""
    if args.file == "-":
        _, rejected = decode_lines(sys.stdin, sys.stdout, lenient=args.lenient)
        return 1 if rejected else 0
    try:
        with open(args.file, encoding="utf-8", errors="replace") as handle:
            _, rejected = decode_lines(handle, sys.stdout, lenient=args.lenient)
    except OSError as exc:
        raise ConfigError(
            f"cannot read {args.file}: {exc.strerror}; give a readable file or '-'"
        ) from exc
    return 1 if rejected else 0


def _report_sink(args: argparse.Namespace) -> ReportSink:
    """The history store when ``--store`` names one, else the JSON-lines file."""
    if not args.store:
        return JsonlReportSink(args.reports)
    from v2xcloud.store import HistoryReportSink, HistoryWriter, open_store

    writer = HistoryWriter(open_store(args.store, data_dir=args.data_dir))

    class _Owned(HistoryReportSink):
        def close(self) -> None:
            writer.close()
            writer.store.close()

    return _Owned(writer)


def _cmd_serve(args: argparse.Namespace) -> int:
    from v2xcloud.ev.alarms import AlarmMonitor
    from v2xcloud.ev.server import Gb32960Server
    from v2xcloud.runtime import SystemClock

    signatures = signature_check(args)  # before anything starts: a bad keys file is exit 2

    async def run() -> None:
        reports, alarms = _report_sink(args), JsonlAlarmSink(args.alarms)
        chargers = load_chargers(args.chargers) if args.chargers else None
        clock = SystemClock()  # the one clock of this process
        server = Gb32960Server(
            report_sink=reports,
            monitor=AlarmMonitor(alarms, clock=clock.now_ms, chargers=chargers),
            clock=clock,
            host=args.host,
            port=args.port,
            idle_timeout_s=args.idle_timeout,
            flush_interval_s=0.0 if args.store else 1.0,
            signatures=signatures,
        )
        await server.start()
        print(
            "gb32960: warning: a lab server: any VIN may log in; `v2xcloud serve --gb32960` "
            "admits only registered terminals with their own credential",
            file=sys.stderr,
        )
        print(
            f"gb32960: listening on {args.host}:{server.port}; reports -> {args.store or args.reports}, "
            f"alarms -> {args.alarms}",
            file=sys.stderr,
            flush=True,
        )
        try:
            await asyncio.sleep(args.duration if args.duration else float("inf"))
        finally:
            await server.close()
            reports.close()
            alarms.close()
            handling = sorted(server.handling_ms) or [0.0]
            stats: dict[str, object] = dict(server.stats)
            stats["errors"] = server.errors
            stats["handling_p50_ms"] = round(handling[len(handling) // 2], 3)
            stats["handling_p99_ms"] = round(handling[int(len(handling) * 0.99)], 3)
            stats["cpu_s"] = round(time.process_time(), 1)
            print(json.dumps(stats), file=sys.stderr)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _cmd_fleet(args: argparse.Namespace) -> int:
    from v2xcloud.ev.fleet import run_fleet
    from v2xcloud.ev.vehicle_sim import FaultPlan

    if args.vehicles < 1:
        raise ConfigError("--vehicles must be at least 1")
    faults = {
        i: FaultPlan(thermal_runaway_at_s=args.thermal_runaway_at)
        for i in range(args.thermal_runaway)
    }
    result = asyncio.run(
        run_fleet(
            host=args.host,
            port=args.port,
            vehicles=args.vehicles,
            duration_s=args.duration,
            period_s=args.period,
            faults=faults,
            signers=_lab_signers(args.sign_seed) if args.sign_seed else None,
            secrets=_fleet_secrets(args.ev_secrets),
        )
    )
    lat = sorted(result.ack_latencies_ms) or [0.0]
    print(
        json.dumps(
            {
                "reports": result.reports,
                "acked": result.acked,
                "resent": result.resent,
                "errors": result.errors,
                "ack_p50_ms": round(lat[len(lat) // 2], 2),
                "ack_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
            }
        )
    )
    return 0 if result.errors == 0 else 1


def _fleet_secrets(path: str | None) -> dict[str, bytes] | None:
    """The terminals' login secrets from an ``--ev-secrets`` file (as ``serve`` reads it)."""
    if not path:
        return None
    from v2xcloud.cli._ev_access import load_ev_secrets

    return load_ev_secrets(path).terminals


def _lab_signers(seed: str) -> Any:
    """VIN -> the signing function of that lab terminal's SM2 key (derived from ``seed``)."""
    from v2xcloud.security.terminal_keys import lab_terminal_signer

    return lambda vin: lab_terminal_signer(vin, seed).sign


def _cmd_keys(args: argparse.Namespace) -> int:
    from v2xcloud.ev.fleet import vin_for
    from v2xcloud.security.terminal_keys import lab_terminal_keys_toml

    if args.vehicles < 1:
        raise ConfigError("--vehicles must be at least 1")
    text = lab_terminal_keys_toml([vin_for(i) for i in range(args.vehicles)], args.seed)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"gb32960 keys: {args.vehicles} lab terminal keys -> {args.out}", file=sys.stderr)
    return 0


def _cmd_schedule(args: argparse.Namespace) -> int:
    import msgspec

    from v2xcloud.ev.charging import VehicleEnergy
    from v2xcloud.ev.scheduler import compare_strategies, requests_from_reports
    from v2xcloud.model.ev import EvReport

    chargers = load_chargers(args.chargers)
    try:
        lines = Path(args.reports).read_bytes().splitlines()
        reports = [msgspec.json.decode(line, type=EvReport) for line in lines if line.strip()]
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"reports file {args.reports}: {exc}; give the JSONL of 'serve'") from exc
    energy = VehicleEnergy(battery_kwh=args.battery_kwh, consumption_kwh_per_km=args.consumption)
    requests = requests_from_reports(
        reports, chargers, energy=energy, target_soc_pct=args.target_soc
    )
    results = compare_strategies(
        requests, chargers, speed_kmh=args.speed_kmh, consumption_kwh_per_km=args.consumption
    )
    summary = {
        r.strategy: {
            k: getattr(r, k) for k in ("mean_wait_s", "max_wait_s", "mean_done_s", "mean_detour_km")
        }
        | {"served": len(r.assignments), "unserved": list(r.unserved)}
        for r in results
    }
    print(json.dumps({"vehicles_needing_charge": len(requests), **summary}))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``gb32960`` with its ``decode``, ``serve`` and ``fleet`` subcommands."""
    parser = sub.add_parser("gb32960", help="GB/T 32960 EV monitoring: decode, serve, fleet")
    inner = parser.add_subparsers(dest="gb32960_command", metavar="SUBCOMMAND", required=True)
    dec = inner.add_parser("decode", help="hex frames (one per line) to JSON lines")
    dec.add_argument("file", help="file of hex lines, or - for stdin")
    dec.add_argument(
        "--lenient", action="store_true", help="decode frames with a wrong BCC (diagnostics)"
    )
    dec.set_defaults(func=_cmd_decode)
    srv = add_long_running(inner, "serve", help="run the platform-side TCP server")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    srv.add_argument("--port", type=int, default=32960, help="TCP port (default 32960)")
    srv.add_argument("--reports", default="gb32960_reports.jsonl", help="JSON-lines report file")
    srv.add_argument(
        "--store", default="", help="history store URL (duckdb, memory, postgresql://...)"
    )
    srv.add_argument("--chargers", default="", help="JSON charger list: enables charging warnings")
    srv.add_argument("--data-dir", default="data", help="directory of the DuckDB history")
    srv.add_argument(
        "--alarms", default="gb32960_alarms.jsonl", help="JSON-lines operator alarm file"
    )
    srv.add_argument(
        "--idle-timeout", type=float, default=180.0, help="seconds of silence before closing"
    )
    srv.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (0 = run)"
    )
    add_signature_options(srv)
    srv.set_defaults(func=_cmd_serve)
    sch = inner.add_parser("schedule", help="charging schedule vs nearest-station-first")
    sch.add_argument("--chargers", required=True, help="JSON charger list")
    sch.add_argument("--reports", required=True, help="JSONL reports (from serve)")
    sch.add_argument("--battery-kwh", type=float, default=60.0, help="usable battery capacity, kWh")
    sch.add_argument("--consumption", type=float, default=0.16, help="kWh per km")
    sch.add_argument("--target-soc", type=float, default=80.0, help="charge up to this SOC (%%)")
    sch.add_argument("--speed-kmh", type=float, default=40.0, help="mean speed to the station")
    sch.set_defaults(func=_cmd_schedule)
    flt = add_long_running(inner, "fleet", help="simulated terminals against a server")
    flt.add_argument("--vehicles", type=int, required=True, help="how many terminals to run")
    flt.add_argument("--host", default="127.0.0.1", help="the server's address")
    flt.add_argument("--port", type=int, default=32960, help="the server's TCP port")
    flt.add_argument("--duration", type=int, default=60, help="simulated seconds per terminal")
    flt.add_argument("--period", type=float, default=1.0, help="real seconds between reports")
    flt.add_argument(
        "--thermal-runaway", type=int, default=0, help="inject it into the first N vehicles"
    )
    flt.add_argument(
        "--thermal-runaway-at", type=int, default=30, help="simulated second it starts"
    )
    flt.add_argument(
        "--sign-seed",
        default="",
        metavar="TEXT",
        help="terminals speak the 2025 layout and SM2-sign each report with a lab key derived "
        "from TEXT (serve them with the keys of `gb32960 keys --seed TEXT`)",
    )
    flt.add_argument(
        "--ev-secrets",
        default=None,
        metavar="FILE",
        help="log each terminal in with its secret from this file (as `serve --ev-secrets`)",
    )
    flt.set_defaults(func=_cmd_fleet)
    keys = inner.add_parser("keys", help="lab terminal SM2 public keys for serve --ev-keys")
    keys.add_argument("--vehicles", type=int, required=True, help="as many as the fleet runs")
    keys.add_argument("--seed", required=True, help="the fleet's --sign-seed")
    keys.add_argument("--out", default="-", help="keys file (TOML) or - for stdout")
    keys.set_defaults(func=_cmd_keys)
