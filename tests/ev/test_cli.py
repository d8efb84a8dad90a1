"""``v2xcloud gb32960 decode|serve|fleet``."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from v2xcloud.cli.main import main
from v2xcloud.ev.server import Gb32960Server
from v2xcloud.ev.sink import MemoryReportSink


def test_decode_file_reference_frames(
    tmp_path: Path, reference_frames: list[dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "frames.hex"
    path.write_text(
        "\n".join(str(f["hex"]) for f in reference_frames) + "\n\n# note\nnot-hex\n2323\n"
    )
    assert main(["gb32960", "decode", str(path)]) == 1  # three of the lines are rejected
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["ok"] for r in rows] == [True, True, True, True, False, False, False]
    assert rows[0]["message"]["body"]["vehicle"]["soc_pct"] == 69
    assert rows[1]["message"]["body"]["alarm"]["max_level"] == 3
    assert (rows[4]["reason"], rows[4]["offset"]) == ("bcc_mismatch", 827)
    assert rows[5]["reason"] == "bad_hex" and rows[6]["reason"] == "truncated"


def test_decode_stdin_lenient(
    monkeypatch: pytest.MonkeyPatch, frame_2025: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(frame_2025.hex() + "\n"))
    assert main(["gb32960", "decode", "--lenient", "-"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["ok"] and row["message"]["is_bcc_ok"] is False
    assert row["message"]["body"]["signature"]["algorithm"] == 2


def test_decode_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gb32960", "decode", "/nonexistent/frames.hex"]) == 2
    assert "cannot read /nonexistent/frames.hex" in capsys.readouterr().err


def test_fleet_against_server(capsys: pytest.CaptureFixture[str]) -> None:
    loop = asyncio.new_event_loop()
    server = Gb32960Server(report_sink=MemoryReportSink())
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        code = main(
            [
                "gb32960",
                "fleet",
                "--vehicles",
                "3",
                "--port",
                str(server.port),
                "--duration",
                "6",
                "--period",
                "0.02",
                "--thermal-runaway",
                "1",
                "--thermal-runaway-at",
                "3",
            ]
        )
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["reports"] == 18 and out["acked"] == 18 and out["errors"] == 0


def test_serve_writes_files_and_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports, alarms = tmp_path / "r.jsonl", tmp_path / "a.jsonl"
    assert (
        main(
            [
                "gb32960",
                "serve",
                "--port",
                "0",
                "--duration",
                "0.2",
                "--reports",
                str(reports),
                "--alarms",
                str(alarms),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "listening on 127.0.0.1:" in err and reports.exists() and alarms.exists()


def test_serve_into_the_history_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from v2xcloud.ev.fleet import run_fleet, vin_for
    from v2xcloud.store import open_store

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"duckdb://{tmp_path / 'history'}"
    codes: list[int] = []
    serve = threading.Thread(
        target=lambda: codes.append(
            main(
                [
                    "gb32960",
                    "serve",
                    "--port",
                    str(port),
                    "--duration",
                    "3",
                    "--store",
                    url,
                    "--alarms",
                    str(tmp_path / "a.jsonl"),
                ]
            )
        )
    )
    serve.start()
    time.sleep(1.0)
    result = asyncio.run(
        run_fleet(port=port, vehicles=2, duration_s=5, period_s=0.02, start_ms=1_700_000_000_000)
    )
    serve.join(15)
    assert codes == [0] and result.acked == 10
    store = open_store(url)
    try:
        rows = store.ev_reports(vin_for(1), start_ms=0, end_ms=2**62)
    finally:
        store.close()
    assert [r.received_ms for r in rows] == result.collected_at_ms[vin_for(1)]
    assert rows[0].payload["vehicle"]["soc_pct"] is not None


def test_schedule_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import msgspec

    from v2xcloud.ev.vehicle_sim import SimulatedVehicle
    from v2xcloud.model.ev import EvPosition

    chargers = [
        {"id": "near", "lat_deg": 31.0, "lon_deg": 121.0, "power_kw": 60, "ports": 1},
        {"id": "far", "lat_deg": 31.09, "lon_deg": 121.0, "power_kw": 120, "ports": 4},
    ]
    (tmp_path / "c.json").write_text(json.dumps(chargers))
    lines = []
    for i in range(10):
        r = SimulatedVehicle(f"LSCHED{i:011d}", seed=i, start_ms=0).step()
        assert r.vehicle is not None
        r = msgspec.structs.replace(
            r,
            vehicle=msgspec.structs.replace(r.vehicle, soc_pct=12),
            position=EvPosition(is_valid=True, lat_deg=31.0 + 0.001 * i, lon_deg=121.02),
        )
        lines.append(msgspec.json.encode(r))
    (tmp_path / "r.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    assert (
        main(
            [
                "gb32960",
                "schedule",
                "--chargers",
                str(tmp_path / "c.json"),
                "--reports",
                str(tmp_path / "r.jsonl"),
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["vehicles_needing_charge"] == 10
    assert out["balanced"]["mean_wait_s"] < out["nearest"]["mean_wait_s"]
    assert out["nearest"]["served"] == out["balanced"]["served"] == 10


def test_decode_streams_and_refuses_an_overlong_line(
    tmp_path: Path, reference_frames: list[dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    from v2xcloud.cli.gb32960_commands import MAX_LINE_CHARS

    good = str(reference_frames[0]["hex"])
    path = tmp_path / "long.hex"
    path.write_text(f"{'ab' * MAX_LINE_CHARS}\n{good}\n", encoding="utf-8")
    assert main(["gb32960", "decode", str(path)]) == 1
    long, ok = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert long["reason"] == "line_too_long" and str(2 * MAX_LINE_CHARS + 1) in long["detail"]
    assert ok["ok"] and ok["line"] == 2


def test_fleet_logs_in_with_its_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from v2xcloud.ev.access import StaticDirectory, TerminalAccess, TerminalCredential
    from v2xcloud.ev.fleet import vin_for

    keys = {vin_for(i): bytes([0x10 + i]) * 16 for i in range(2)}
    secrets = tmp_path / "ev-secrets.toml"
    secrets.write_text("[terminals]\n" + "".join(f'{v} = "{k.hex()}"\n' for v, k in keys.items()))
    access = TerminalAccess(
        StaticDirectory([TerminalCredential(vin=v, secret=k) for v, k in keys.items()])
    )
    loop = asyncio.new_event_loop()
    server = Gb32960Server(report_sink=MemoryReportSink(), access=access)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    argv = ["gb32960", "fleet", "--vehicles", "2", "--port", str(server.port), "--duration", "3"]
    try:
        refused = main([*argv, "--period", "0.02"])  # no secrets: plain logins are refused
        capsys.readouterr()
        code = main([*argv, "--period", "0.02", "--ev-secrets", str(secrets)])
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    out = json.loads(capsys.readouterr().out)
    assert refused == 1 and server.stats["login_refused:not_encrypted"] == 2
    assert code == 0 and out["acked"] == 6 and out["errors"] == 0
