"""Edge workers by tile on a real JetStream server (nats-server processes on loopback).

Same answers: a scenario run through N stream-clocked tile workers (``sim.cluster``) gives
the advisories (app, ego, other, level) of the in-process ``Runtime`` within one tick (at least
90 % of the ticks identical) and the same scores; the traffic really is split (more than one worker issues advisories).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from v2xcloud.codec import Rejected, decode, message_set_of
from v2xcloud.gateways.nats_server import NatsCluster, find_nats_server
from v2xcloud.gateways.tile_worker import WorkerProcess
from v2xcloud.model import Advisory
from v2xcloud.runtime.tiles import reference_position, tile_of
from v2xcloud.sim.cluster import ClusterPlatform
from v2xcloud.sim.platform import Platform, runtime_platform
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.runner import model_encoder, run_scenario
from v2xcloud.sim.scenario import Scenario, load_scenario

pytestmark = pytest.mark.timeout(600)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")

LIBRARY = Path(__file__).resolve().parents[2] / "src/v2xcloud/sim/scenarios"
Row = tuple[str, str, str | None, int]


class _Recording:
    """A platform wrapper keeping each tick's advisories and the tiles of the frames."""

    def __init__(self, inner: Platform, message_set: str) -> None:
        self.inner = inner
        self.ticks: dict[int, list[Row]] = {}
        self.tiles: Counter[str] = Counter()
        self._set = message_set_of(message_set)

    def ingest_frame(self, raw: bytes, **kw: Any) -> None:
        result = decode(raw, message_set=self._set, received_at_ms=kw["received_at_ms"])
        if not isinstance(result, Rejected):
            pos = reference_position(result.to_model())
            if pos is not None:
                self.tiles[tile_of(*pos)] += 1
        self.inner.ingest_frame(raw, **kw)

    def tick(self, now_ms: int) -> list[Advisory]:
        out = self.inner.tick(now_ms)
        self.ticks[now_ms] = sorted((a.app, a.ego_id, a.other_id, int(a.level)) for a in out)
        return out

    def app_codes(self) -> set[str]:
        return self.inner.app_codes()

    def misbehaviour_flags(self) -> dict[str, int]:
        return self.inner.misbehaviour_flags()

    def day2_codes(self) -> set[str]:
        return self.inner.day2_codes()

    def take_outbound(self) -> list[Any]:
        return self.inner.take_outbound()


def _scenario(name: str, duration_s: float) -> Scenario:
    return msgspec.structs.replace(load_scenario(LIBRARY / f"{name}.toml"), duration_s=duration_s)


def _in_process(sc: Scenario, cfg: RunConfig) -> tuple[_Recording, ScenarioResult]:
    platform, _ = runtime_platform(
        message_set=cfg.message_set,
        origin_lat_deg=sc.origin_lat_deg,
        origin_lon_deg=sc.origin_lon_deg,
    )
    rec = _Recording(platform, cfg.message_set)
    result = run_scenario(sc, config=cfg, platform=rec, encode=model_encoder(cfg.message_set))
    return rec, result


def _through_workers(
    sc: Scenario,
    cfg: RunConfig,
    workers: int,
    tiles: list[str],
    logs: Path,
    *,
    shard_zoom: int | None = None,
    recording: type[_Recording] = _Recording,
    on_done: Callable[[list[str]], None] | None = None,
) -> tuple[_Recording, ScenarioResult, ClusterPlatform]:
    origin = (sc.origin_lat_deg, sc.origin_lon_deg)
    with NatsCluster(1) as cluster:
        procs = [
            WorkerProcess(
                urls=cluster.urls,
                worker_id=f"w{i}",
                origin=origin,
                clock="stream",
                log_path=f"{logs}/w{i}.log",
                shard_zoom=shard_zoom,
            ).start()
            for i in range(workers)
        ]
        try:
            platform = ClusterPlatform(
                urls=cluster.urls,
                workers=workers,
                message_set=cfg.message_set,
                home=origin,
                shard_zoom=shard_zoom,
            )
            try:
                owners = platform.prepare(tiles)
                assert len(set(owners.values())) == min(workers, len(tiles))  # the rest idle
                rec = recording(platform, cfg.message_set)
                encode = model_encoder(cfg.message_set)
                result = run_scenario(sc, config=cfg, platform=rec, encode=encode)
                if on_done is not None:  # the cluster still up: its streams to look at
                    on_done(cluster.urls)
            finally:
                platform.close()
        finally:
            for proc in procs:
                proc.stop()
    return rec, result, platform


def _same_within_one_tick(got: dict[int, list[Row]], ref: dict[int, list[Row]]) -> None:
    """Every advisory of one run is in the other at the same tick or a neighbouring one."""
    assert sorted(got) == sorted(ref)  # the same ticks
    for a, b in ((got, ref), (ref, got)):
        for t, rows in a.items():
            near = set(b.get(t - 100, [])) | set(b.get(t, [])) | set(b.get(t + 100, []))
            missing = [r for r in rows if r not in near]
            assert not missing, f"tick {t}: {missing[:5]} not within one tick in the other run"
    exact = sum(got[t] == ref[t] for t in ref)
    assert exact >= 0.9 * len(ref), f"only {exact}/{len(ref)} ticks identical"


def _scores(result: ScenarioResult) -> dict[str, tuple[int, int, int, int]]:
    return {
        app: (s.episodes, s.detected, s.warnings, s.matched_warnings)
        for app, s in result.scores.items()
    }


@pytest.mark.parametrize(
    ("name", "duration_s", "workers"),
    [
        ("demo_district", 8.0, 2),
        ("demo_district", 8.0, 4),
        ("background_district", 25.0, 2),  # quiet until its traffic builds up
    ],
)
def test_workers_give_the_answers_of_one_process(
    name: str, duration_s: float, workers: int, tmp_path: Path
) -> None:
    sc = _scenario(name, duration_s)
    cfg = RunConfig()
    ref, ref_result = _in_process(sc, cfg)
    tiles = sorted(ref.tiles)
    assert len(tiles) >= 2, f"{name} covers {len(tiles)} tiles only"
    got, result, platform = _through_workers(sc, cfg, workers, tiles, tmp_path)
    issued = sum(len(v) for v in ref.ticks.values())
    assert issued > 50, f"{name}: too few advisories ({issued}) to compare"
    _same_within_one_tick(got.ticks, ref.ticks)  # same apps, egos, others, levels
    assert _scores(result) == _scores(ref_result)
    assert result.advisories == ref_result.advisories
    assert not platform.duplicates, f"issued twice: {platform.duplicates[:3]}"  # one issuer
    busy = [w for w, n in platform.by_worker.items() if n > 0]
    assert len(busy) >= 2, f"the traffic was not split: {dict(platform.by_worker)}"
