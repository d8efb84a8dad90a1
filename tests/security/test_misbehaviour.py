"""Misbehaviour detection: each check catches its attack on a short synthetic history and
stays quiet on honest tracks with GNSS-like noise (turns, braking, queues, neighbours)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from v2xcloud.model import (
    MisbehaviourCheck,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    Rsm,
)
from v2xcloud.security import Coverage, MisbehaviourDetector

C = MisbehaviourCheck
LAT0, LON0 = 28.2, 112.9
M_PER_DEG = math.radians(1.0) * 6_378_137.0


def latlon(x_m: float, y_m: float) -> tuple[float, float]:
    return LAT0 + y_m / M_PER_DEG, LON0 + x_m / (M_PER_DEG * math.cos(math.radians(LAT0)))


def state(pid: str, t_ms: int, x_m: float, y_m: float, speed: float, heading: float,
          *, source: ParticipantSource = ParticipantSource.BSM) -> ParticipantState:  # fmt: skip
    lat, lon = latlon(x_m, y_m)
    return ParticipantState(
        id=pid, kind=ParticipantKind.VEHICLE, source=source, timestamp_ms=t_ms,
        lat_deg=round(lat, 7), lon_deg=round(lon, 7), speed_mps=round(speed / 0.02) * 0.02,
        heading_deg=round(heading % 360 / 0.0125) * 0.0125 % 360, position_accuracy_m=1.0,
    )  # fmt: skip


def straight(pid: str, *, speed: float = 12.0, heading: float = 90.0, x0: float = 0.0,
             y0: float = 0.0, t0: int = 0, n: int = 60, step_ms: int = 100,
             accel: float = 0.0, rng: np.random.Generator | None = None,
             ) -> list[ParticipantState]:  # fmt: skip
    """A track along ``heading``, with GNSS noise (a slowly wandering bias plus 0.3 m white)
    and speed noise when ``rng`` is given."""
    out = []
    rad = math.radians(heading)
    along, v = 0.0, speed
    bias = np.zeros(2)
    for k in range(n):
        if rng is not None:
            bias = 0.95 * bias + rng.normal(0, 0.15, 2)
            noise = bias + rng.normal(0, 0.3, 2)
            dv = rng.normal(0, 0.15)
        else:
            noise, dv = np.zeros(2), 0.0
        x = x0 + along * math.sin(rad) + noise[0]
        y = y0 + along * math.cos(rad) + noise[1]
        out.append(state(pid, t0 + k * step_ms, x, y, max(v + dv, 0.0), heading))
        along += v * step_ms / 1000 + 0.5 * accel * (step_ms / 1000) ** 2
        v = max(v + accel * step_ms / 1000, 0.0)
    return out


def feed(det: MisbehaviourDetector, states: list[ParticipantState], source: str = "obu"
         ) -> list[str | None]:  # fmt: skip
    return [det.screen(s, received_at_ms=s.timestamp_ms, source=source) for s in states]


def checks(det: MisbehaviourDetector) -> set[C]:
    return {C(k.split(":", 1)[1]) for k in det.counts if k.startswith("evidence:")}


def interleave(*tracks: list[ParticipantState]) -> list[ParticipantState]:
    return sorted((s for t in tracks for s in t), key=lambda s: s.timestamp_ms)


# -- honest traffic: no evidence, no flag --------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_honest_noisy_traffic_is_never_flagged(seed: int) -> None:
    rng = np.random.default_rng(seed)
    det = MisbehaviourDetector()
    tracks = [
        straight("cruise", speed=15.0, rng=rng, n=200),
        straight("brake", speed=16.0, accel=-7.0, y0=3.5, rng=rng, n=80),
        straight("start", speed=0.0, accel=3.0, y0=-3.5, rng=rng, n=80),
        straight("stand", speed=0.0, x0=50.0, y0=10.0, rng=rng, n=200),
        # a neighbour in the next lane at the same nominal speed
        straight("beside", speed=15.0, y0=3.5, x0=2.0, rng=rng, n=200),
        # a queue: bumper to bumper, 7 m apart, standing
        straight("queue1", speed=0.0, x0=200.0, y0=-20.0, rng=rng, n=100),
        straight("queue2", speed=0.0, x0=193.0, y0=-20.0, rng=rng, n=100),
    ]
    # a 90° left turn (east to north) of radius 10 m at 6 m/s
    turn = []
    for k in range(60):
        t = k * 0.1
        a = min(6.0 * t / 10.0, math.pi / 2)
        x, y = -300 + 10 * math.sin(a), 10 - 10 * math.cos(a)
        if 6.0 * t / 10.0 > math.pi / 2:
            y += 6.0 * (t - (math.pi / 2) * 10 / 6.0)  # then straight on, north
        turn.append(state("turn", k * 100, x + rng.normal(0, 0.3), y + rng.normal(0, 0.3),
                          6.0 + rng.normal(0, 0.1), 90.0 - math.degrees(a)))  # fmt: skip
    tracks.append(turn)
    refused = feed(det, interleave(*tracks))
    assert refused.count(None) == len(refused), [r for r in refused if r]
    assert det.counts["flagged"] == 0
    assert sum(v for k, v in det.counts.items() if k.startswith("evidence:")) <= 2


def test_one_glitch_does_not_flag() -> None:
    det = MisbehaviourDetector()
    track = straight("a", n=40)
    jumped = state("a", track[20].timestamp_ms, 400.0, 400.0, 12.0, 90.0)
    track[20] = jumped  # one multipath jump
    assert all(r is None for r in feed(det, track))
    assert det.counts["flagged"] == 0


# -- each check catches its attack ---------------------------------------------------------


def flagged_by(det: MisbehaviourDetector) -> set[C]:
    reports = det.take_reports()
    return {e.check for r in reports for e in r.evidence}


def test_constant_position_is_caught_by_position_speed_consistency() -> None:
    det = MisbehaviourDetector()
    honest = straight("a", n=20)
    frozen = [state("a", s.timestamp_ms + 2000, 240.0, 0.0, 12.0, 90.0) for s in honest]
    out = feed(det, honest + frozen)
    assert out[:20] == [None] * 20 and out[-1] is not None
    assert C.POSITION_SPEED_CONSISTENCY in flagged_by(det) | checks(det)
    assert det.is_flagged("a")


def test_position_jumps_are_caught_by_position_consistency() -> None:
    det = MisbehaviourDetector()
    rng = np.random.default_rng(7)
    track = [state("a", k * 100, rng.uniform(0, 500), rng.uniform(0, 500), 12.0, 90.0)
             for k in range(10)]  # fmt: skip
    assert feed(det, track)[-1] is not None
    assert C.POSITION_CONSISTENCY in flagged_by(det)


def test_random_speed_is_caught_by_acceleration_plausibility() -> None:
    det = MisbehaviourDetector()
    rng = np.random.default_rng(3)
    track = straight("a", n=20)
    track = [state("a", s.timestamp_ms, *xy(s), rng.uniform(0, 40), 90.0) for s in track]
    feed(det, track)
    assert C.ACCELERATION_PLAUSIBILITY in flagged_by(det)


def xy(s: ParticipantState) -> tuple[float, float]:
    return (
        (s.lon_deg - LON0) * M_PER_DEG * math.cos(math.radians(LAT0)),
        (s.lat_deg - LAT0) * M_PER_DEG,
    )


def test_speed_offset_is_caught_by_position_speed_consistency() -> None:
    det = MisbehaviourDetector()
    track = straight("a", speed=12.0, n=40, rng=np.random.default_rng(1))
    lied = [state("a", s.timestamp_ms, *xy(s), (s.speed_mps or 0) + 5.0, 90.0) for s in track]
    feed(det, lied)
    assert C.POSITION_SPEED_CONSISTENCY in flagged_by(det)


def test_impossible_speed_is_caught_by_speed_plausibility() -> None:
    det = MisbehaviourDetector()
    feed(det, straight("a", speed=90.0, n=5))
    assert C.SPEED_PLAUSIBILITY in flagged_by(det)


def test_moving_against_heading_is_caught() -> None:
    det = MisbehaviourDetector()
    track = [state("a", s.timestamp_ms, *xy(s), 12.0, 270.0) for s in straight("a", n=30)]
    feed(det, track)
    assert C.POSITION_HEADING_CONSISTENCY in flagged_by(det)


def test_dos_is_caught_by_beacon_frequency() -> None:
    det = MisbehaviourDetector()
    feed(det, straight("a", n=40, step_ms=20, speed=12.0))  # 50 Hz
    assert C.BEACON_FREQUENCY in flagged_by(det)


def test_replayed_content_is_caught_as_data_replay() -> None:
    det = MisbehaviourDetector()
    target = straight("target", n=60, x0=0.0)
    # the replayer re-sends the target's reports of 1 s ago under its own id
    replay = [
        state("ghost", s.timestamp_ms + 1000, *xy(s), s.speed_mps or 0.0, s.heading_deg or 0.0)
        for s in target[:50]
    ]
    out = feed(det, interleave(target, replay))
    assert det.is_flagged("ghost") and not det.is_flagged("target")
    assert C.DATA_REPLAY in flagged_by(det)
    assert out.count(None) >= len(target)


def test_a_follower_repeating_the_leaders_profile_for_a_moment_is_not_flagged() -> None:
    # SUMO's car following (and lane-snapped positions) can put a follower exactly where the
    # leader was, at its speed and heading, for a few reports: honest, not a replay
    det = MisbehaviourDetector()
    leader = straight("leader", n=100, x0=0.0)
    follower = straight("follower", n=100, x0=-61.0)  # 1 m behind where the leader was 5 s ago
    copy = {s.timestamp_ms + 5000: s for s in leader[20:25]}
    follower = [
        state("follower", s.timestamp_ms, *xy(copy[s.timestamp_ms]), copy[s.timestamp_ms].speed_mps
              or 0.0, copy[s.timestamp_ms].heading_deg or 0.0)
        if s.timestamp_ms in copy else s
        for s in follower
    ]  # fmt: skip
    out = feed(det, interleave(leader, follower))
    assert checks(det) == {C.DATA_REPLAY}  # seen and counted as evidence ...
    assert not det.is_flagged("follower") and out.count(None) == len(out)  # ... not a flag


def test_own_old_content_resent_is_caught() -> None:
    det = MisbehaviourDetector()
    honest = straight("a", n=40)
    delayed = [
        state("a", s.timestamp_ms + 4000, *xy(s), s.speed_mps or 0.0, 90.0) for s in honest[:20]
    ]
    feed(det, honest + delayed)
    assert C.DATA_REPLAY in flagged_by(det) | checks(det)


def test_grid_sybil_ghosts_are_caught() -> None:
    det = MisbehaviourDetector()
    real = straight("real", n=60, rng=np.random.default_rng(5))
    ghosts = [
        [
            state(
                f"g{k}",
                s.timestamp_ms,
                xy(s)[0] + dx,
                xy(s)[1] + dy,
                s.speed_mps or 0.0,
                s.heading_deg or 0.0,
            )
            for s in real
        ]
        for k, (dx, dy) in enumerate([(8.0, 3.5), (-8.0, 3.5), (0.0, -3.5)])
    ]
    feed(det, interleave(real, *ghosts))
    assert {"g0", "g1", "g2"} <= {r for r in ("g0", "g1", "g2", "real") if det.is_flagged(r)}
    assert C.SYBIL in checks(det)


def test_a_liar_parked_on_the_road_is_caught_by_intersection_not_the_honest() -> None:
    det = MisbehaviourDetector()
    rng = np.random.default_rng(11)
    cars = [straight(f"c{k}", n=60, t0=k * 800, x0=-60.0, speed=12.0, rng=rng) for k in range(4)]
    # claims to stand at x=0 on the lane everyone drives along
    liar = [state("liar", t, 0.0, 0.0, 0.0, 90.0) for t in range(0, 9000, 100)]
    feed(det, interleave(liar, *cars))
    assert det.is_flagged("liar")
    assert not any(det.is_flagged(f"c{k}") for k in range(4))
    assert C.INTERSECTION in flagged_by(det)


def rsm_of(rsu: str, objects: list[ParticipantState]) -> Rsm:
    lat, lon = latlon(0.0, 0.0)
    return Rsm(msg_count=1, rsu_id=rsu, ref_lat_deg=lat, ref_lon_deg=lon,
               participants=tuple(objects))  # fmt: skip


def _perception_run(*, perceives_all: bool) -> MisbehaviourDetector:
    lat, lon = latlon(0.0, 0.0)
    det = MisbehaviourDetector(coverage=[Coverage(rsu_id="r1", lat_deg=lat, lon_deg=lon,
                                                  range_m=150.0,
                                                  perceives_all=perceives_all)])  # fmt: skip
    honest = straight("honest", x0=-60.0, n=50, rng=np.random.default_rng(2))
    offset = [state("liar", s.timestamp_ms, *(np.add(xy(s), (20.0, 30.0))), 12.0, 90.0)
              for s in straight("x", x0=-60.0, y0=-3.5, n=50)]  # fmt: skip
    truth_liar = straight("x", x0=-60.0, y0=-3.5, n=50)
    for k in range(50):
        perceived = [
            state(
                f"r1/{j}",
                s.timestamp_ms,
                *xy(s),
                s.speed_mps or 0.0,
                90.0,
                source=ParticipantSource.RSM,
            )
            for j, s in enumerate((straight("honest", x0=-60.0, n=50)[k], truth_liar[k]))
        ]
        det.screen(rsm_of("r1", perceived), received_at_ms=k * 100, source="r1")
        det.screen(honest[k], received_at_ms=k * 100, source="obu")
        det.screen(offset[k], received_at_ms=k * 100, source="obu")
    return det


def test_perception_contradiction_catches_a_ghost_and_spares_the_honest() -> None:
    det = _perception_run(perceives_all=True)
    assert det.is_flagged("liar") and not det.is_flagged("honest")
    assert C.PERCEPTION_CONTRADICTION in flagged_by(det)


def test_a_unit_that_does_not_report_every_road_user_is_no_evidence() -> None:
    # most RSUs report only what the platform cannot hear itself (unconnected road users), or
    # their coverage is unknown: their silence about a connected car's place proves nothing
    # (the demo district flagged a third of its honest senders before this rule)
    det = _perception_run(perceives_all=False)
    assert C.PERCEPTION_CONTRADICTION not in checks(det)
    assert not det.is_flagged("honest")


def test_range_and_sudden_appearance_through_an_rsu() -> None:
    lat, lon = latlon(0.0, 0.0)
    det = MisbehaviourDetector(coverage=[Coverage(rsu_id="r1", lat_deg=lat, lon_deg=lon,
                                                  range_m=300.0)])  # fmt: skip
    feed(det, straight("far", x0=600.0, n=5), source="r1")
    feed(det, straight("pop", x0=10.0, n=2), source="r1")
    feed(det, straight("edge", x0=-290.0, n=30), source="r1")
    assert C.RANGE_PLAUSIBILITY in checks(det) and C.SUDDEN_APPEARANCE in checks(det)
    assert det.is_flagged("far") and not det.is_flagged("edge")


def test_flagged_sender_is_reported_with_digest_and_refused_until_it_expires() -> None:
    det = MisbehaviourDetector()
    track = straight("a", speed=90.0, n=6)
    out = [det.screen(s, received_at_ms=s.timestamp_ms, source="obu-7",
                      certificate_digest="0011223344556677") for s in track]  # fmt: skip
    assert out[:2] == [None, None] and all(o is not None for o in out[2:])
    (report,) = det.take_reports()
    assert report.sender_id == "a" and report.certificate_digest == "0011223344556677"
    assert report.source == "obu-7" and report.reason is C.SPEED_PLAUSIBILITY
    assert len(report.evidence) == 3 and "90.0 m/s" in report.evidence[0].detail
    assert det.take_flagged() == ["a"] and det.take_flagged() == []


def test_tables_are_bounded_and_expire() -> None:
    det = MisbehaviourDetector(max_senders=50)
    for k in range(200):
        feed(det, straight(f"v{k}", x0=k * 30.0, n=3, t0=k * 10))
    assert det.stats()["senders"] == 50 and det.counts["evicted"] == 150
    feed(det, straight("late", n=2, t0=100_000))
    assert det.stats()["senders"] == 1 and det.counts["forgotten"] == 50
