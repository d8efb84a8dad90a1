"""``v2xcloud audit verify|list`` on a DuckDB history: a whole chain exits 0; an edited,
deleted or reordered row, or a tail cut below the anchor, exits 1 naming the row."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from v2xcloud.cli.main import main
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail


def _history(data_dir: Path, n: int = 5) -> None:
    store = DuckDbStore(data_dir=data_dir)
    trail = AuditTrail(store, anchor_path=data_dir / "audit-head.json")
    for i in range(n):
        trail.record("admin", "token.created", f"tok-{i}", tenant="t1", detail={"i": i}, at_ms=i)
    store.close()


def _tamper(data_dir: Path, *statements: str) -> None:
    con = duckdb.connect(str(data_dir / "history.duckdb"))
    for sql in statements:
        con.execute(sql)
    con.close()


def _verify(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["audit", "verify", "--data-dir", str(data_dir)])
    return code, json.loads(capsys.readouterr().out)


def test_whole_chain_verifies_and_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _history(tmp_path)
    code, out = _verify(tmp_path, capsys)
    assert code == 0 and out["ok"] and out["rows"] == 5 and out["anchor"], out
    assert main(["audit", "list", "--data-dir", str(tmp_path), "--from", "1", "--to", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["target"] for r in rows] == ["tok-1", "tok-2"]


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["UPDATE audit_log SET target = 'tok-x' WHERE seq = 2"], "seq=2: content"),
        (["DELETE FROM audit_log WHERE seq = 3"], "seq=3..3 missing"),
        (
            [
                "UPDATE audit_log SET seq = -1 WHERE seq = 1",
                "UPDATE audit_log SET seq = 1 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = -1",
            ],
            "seq=2: prev_hash",
        ),
        (["DELETE FROM audit_log WHERE seq >= 4"], "tail truncated"),
    ],
    ids=["edited", "deleted", "reordered", "truncated"],
)
def test_tampering_detected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], statements: list[str], expected: str
) -> None:
    _history(tmp_path)
    _tamper(tmp_path, *statements)
    code, out = _verify(tmp_path, capsys)
    assert code == 1 and not out["ok"]
    assert any(expected in p for p in out["problems"]), out["problems"]  # type: ignore[attr-defined]
