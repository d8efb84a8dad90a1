"""``v2xcloud export`` over the demo district (SUMO): no raw id, no group under k, recorded in
the audit trail; two days of the very same traffic cannot be joined to follow anyone.

The bench runs the demo district once (30 simulated seconds through the whole chain: UPER on
the wire, decoded, fused); its participant states are stored for day 1 and, shifted by
exactly one day with the same temporary ids and the same paths, for day 2 — the hardest case
for linking, since everything but the date repeats.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from v2xcloud.cli.main import main
from v2xcloud.model import ParticipantState
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail
from v2xcloud.store.export import CELLS_FILE, MANIFEST_FILE, cell_of
from v2xcloud.store.pseudonyms import DAY_MS

EPOCH_MS = 1_764_000_000_000 - 1_764_000_000_000 % DAY_MS + 8 * 3_600_000  # 08:00 UTC


@pytest.fixture(scope="module")
def district_states() -> list[ParticipantState]:
    """Every participant state the platform's scene held, tick by tick, over 30 s."""
    from v2xcloud.api.runtime_live import RuntimeLive
    from v2xcloud.sim.platform import runtime_platform
    from v2xcloud.sim.result import RunConfig
    from v2xcloud.sim.runner import model_encoder, run_scenario
    from v2xcloud.sim.scenario import load_library

    (scenario,) = load_library("demo_district")
    scenario = msgspec.structs.replace(scenario, duration_s=30)
    config = RunConfig(epoch_ms=EPOCH_MS)
    platform, runtime = runtime_platform(
        message_set=config.message_set,
        origin_lat_deg=scenario.origin_lat_deg,
        origin_lon_deg=scenario.origin_lon_deg,
    )
    states: list[ParticipantState] = []
    live = RuntimeLive(runtime)
    live.subscribe(lambda delta: states.extend(delta.participants))
    run_scenario(scenario, config=config, platform=platform, encode=model_encoder("csae2020"))
    assert len({s.id for s in states}) >= 50, "the district should hold many road users"
    return states


@pytest.fixture
def history(tmp_path: Path, district_states: list[ParticipantState]) -> Iterator[Path]:
    data = tmp_path / "data"
    store = DuckDbStore(data_dir=data)
    store.write_participants(district_states)
    store.write_participants(
        [msgspec.structs.replace(s, timestamp_ms=s.timestamp_ms + DAY_MS) for s in district_states]
    )
    store.close()
    yield data


def _export(data: Path, out: Path, start: int, end: int, *extra: str) -> dict[str, object]:
    argv = ["export", "--data-dir", str(data), "--out", str(out), "--from", str(start)]
    assert main([*argv, "--to", str(end), "--actor", "alice", *extra]) == 0
    return json.loads((out / MANIFEST_FILE).read_text())


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / CELLS_FILE).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_export_has_no_id_and_no_group_under_k_and_is_audited(
    history: Path, tmp_path: Path, district_states: list[ParticipantState]
) -> None:
    manifest = _export(history, tmp_path / "x", EPOCH_MS, EPOCH_MS + 31_000)
    rows = _rows(tmp_path / "x")
    assert rows and manifest["rows"] == len(rows)
    assert manifest["suppressed_groups"] > 0  # the district has quiet corners: kept out
    assert all(int(r["participants"]) >= 5 for r in rows)
    # no id of any kind: neither the ids on the air nor the stored keyed hashes
    text = (tmp_path / "x" / CELLS_FILE).read_text()
    store = DuckDbStore(data_dir=history)
    stored = {r[0] for r in store._select("SELECT DISTINCT id FROM participant_states")}
    raw = {s.id for s in district_states}
    assert not raw & stored, "the history must hold keyed hashes only"
    assert not [i for i in raw | stored if i in text]
    assert set(rows[0]) == {
        "bucket_start_ms",
        "bucket_s",
        "cell_row",
        "cell_col",
        "cell_lat_deg",
        "cell_lon_deg",
        "kind",
        "participants",
        "observations",
        "mean_speed_mps",
    }
    # each row is at least k distinct road users in that cell and second (checked from the
    # states themselves, not from the export's own counts)
    truth: dict[tuple[int, int, int, str], set[str]] = {}
    for s in district_states:
        key = (s.timestamp_ms // 1000 * 1000, *cell_of(s.lat_deg, s.lon_deg), s.kind.value)
        truth.setdefault(key, set()).add(s.id)
    for r in rows:
        key = (int(r["bucket_start_ms"]), int(r["cell_row"]), int(r["cell_col"]), r["kind"])
        assert len(truth[key]) == int(r["participants"]) >= 5
    small = sum(1 for ids in truth.values() if len(ids) < 5)
    assert manifest["suppressed_groups"] == small
    # recorded in the audit trail: who, what range, how many rows
    (entry,) = AuditTrail(store).entries(action="export.made")
    assert entry.actor == "alice" and entry.target == str(tmp_path / "x")
    assert entry.detail["from_ms"] == EPOCH_MS and entry.detail["to_ms"] == EPOCH_MS + 31_000
    assert entry.detail["rows"] == len(rows) and entry.detail["k"] == 5
    assert AuditTrail(store).verify().is_ok
    store.close()


def test_two_days_of_the_same_traffic_link_nothing(history: Path, tmp_path: Path) -> None:
    _export(history, tmp_path / "d1", EPOCH_MS, EPOCH_MS + 31_000)
    _export(history, tmp_path / "d2", EPOCH_MS + DAY_MS, EPOCH_MS + DAY_MS + 31_000)
    day1, day2 = _rows(tmp_path / "d1"), _rows(tmp_path / "d2")
    assert day1 and len(day1) == len(day2)
    # no id column (checked above): a join across days can only use where, the time of day and
    # the aggregates; each row stands for >= 5 road users, so a match names a crowd, not a car
    assert not [c for c in day1[0] if "id" in c.split("_")]
    matches: Counter[int] = Counter()
    by_place = {(r["cell_row"], r["cell_col"], int(r["bucket_start_ms"]) % DAY_MS) for r in day1}
    for r in day2:
        if (r["cell_row"], r["cell_col"], int(r["bucket_start_ms"]) % DAY_MS) in by_place:
            matches[int(r["participants"])] += 1
    assert matches and min(matches) >= 5  # every join lands on a group of >= 5
    # and the history itself cannot be joined on its ids across the two days
    store = DuckDbStore(data_dir=history)
    ids = store._select(
        "SELECT timestamp_ms < %s AS first_day, id FROM participant_states GROUP BY 1, 2",
        [EPOCH_MS + DAY_MS],
    )
    store.close()
    first = {i for is_first, i in ids if is_first}
    second = {i for is_first, i in ids if not is_first}
    assert first and second and not first & second


def test_export_refuses_finer_settings(history: Path, tmp_path: Path) -> None:
    argv = ["export", "--data-dir", str(history), "--out", str(tmp_path / "no")]
    assert main([*argv, "--k", "3"]) == 2
    assert main([*argv, "--grid-m", "20"]) == 2
    assert main([*argv, "--from", "yesterday"]) == 2
    assert not (tmp_path / "no").exists()
