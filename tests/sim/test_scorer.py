"""Scoring advisories against episodes: matching, grey zone, related families, figures."""

from __future__ import annotations

import pytest

from v2xcloud.sim.episodes import Episode
from v2xcloud.sim.scorer import family_of, group_warnings, score


def _ep(app: str, ego: str, start: float, end: float, **kw: object) -> Episode:
    return Episode(app=app, ego=ego, other="b", start_s=start, end_s=end, **kw)  # type: ignore[arg-type]


def test_grouping_merges_runs_and_counts_flicker() -> None:
    advs = [("FCW", "a", "b", t, 5.0) for t in (10.0, 10.1, 10.2, 12.0, 12.1)]
    warnings = group_warnings(advs)
    assert [(w.onset_s, w.end_s) for w in warnings] == [(10.0, 10.2), (12.0, 12.1)]
    ep = _ep(
        "FCW", "a", 10.5, 12.5, critical_s=13.0, ttc_times_s=(10.0, 11.0), ttc_values_s=(3.0, 2.0)
    )
    s = score([ep], warnings, vehicle_hours=1.0, apps={"FCW"})["FCW"]
    assert (s.episodes, s.detected, s.warnings, s.matched_warnings, s.flicker) == (1, 1, 2, 2, 1)
    assert s.lead_times_s == [pytest.approx(3.0)]
    assert s.ttc_at_onset_s == [3.0]
    assert s.summary()["precision"] == 1.0 and s.summary()["latency_median_ms"] == 5.0


def test_false_alarm_miss_and_rates() -> None:
    warnings = group_warnings([("FCW", "x", "y", 50.0, None)])
    s = score([_ep("FCW", "a", 10.0, 12.0)], warnings, vehicle_hours=2.0, apps={"FCW"})["FCW"]
    assert s.recall == 0.0 and s.precision == 0.0
    assert s.false_alarms_per_vehicle_hour == 0.5


def test_grey_zone_is_neither_miss_nor_false_alarm() -> None:
    grey = _ep("FCW", "a", 10.0, 12.0, is_required=False)
    s = score(
        [grey], group_warnings([("FCW", "a", "b", 11.0, None)]), vehicle_hours=1.0, apps={"FCW"}
    )
    assert s["FCW"].episodes == 0 and s["FCW"].precision == 1.0
    s = score([grey], [], vehicle_hours=1.0, apps={"FCW"})
    assert s["FCW"].recall is None


def test_related_family_is_not_false_but_earns_no_recall() -> None:
    lta = _ep("LTA", "a", 10.0, 12.0)
    s = score(
        [lta],
        group_warnings([("ICW", "a", "b", 11.0, None)]),
        vehicle_hours=1.0,
        apps={"ICW", "LTA"},
    )
    assert s["ICW"].precision == 1.0 and s["LTA"].recall == 0.0


def test_window_and_ego_must_match() -> None:
    ep = _ep("EBW", "a", 10.0, 12.0)
    early = group_warnings([("EBW", "a", "b", 6.9, None)])
    assert score([ep], early, vehicle_hours=1.0, apps={"EBW"})["EBW"].detected == 0
    other = group_warnings([("EBW", "c", "b", 11.0, None)])
    assert score([ep], other, vehicle_hours=1.0, apps={"EBW"})["EBW"].detected == 0
    assert family_of("BSW") == family_of("LCW") == "BSW/LCW"


def test_unobservable_episodes_are_counted_apart() -> None:
    hidden = _ep("VRUCW", "a", 10.0, 12.0, is_observable=False)
    s = score([hidden], [], vehicle_hours=1.0, apps={"VRUCW"})["VRUCW"]
    assert s.episodes == 0 and s.unobservable == 1 and s.recall is None
    assert s.summary()["unobservable"] == 1


def test_aggregate_sums_every_counter() -> None:
    from v2xcloud.sim.evaluate import aggregate
    from v2xcloud.sim.result import RunConfig, ScenarioResult

    eps = [_ep("FCW", "a", 10.0, 12.0), _ep("FCW", "c", 10.0, 12.0, is_observable=False)]
    one = score(
        eps, group_warnings([("FCW", "a", "b", 11.0, 3.0)]), vehicle_hours=1.0, apps={"FCW"}
    )
    runs = [
        ScenarioResult(name=n, apps=[], config=RunConfig(), vehicle_hours=1.0, scores=one)
        for n in ("x", "y")
    ]
    total = aggregate(runs)["FCW"]
    assert (total.episodes, total.detected, total.unobservable, total.warnings) == (2, 2, 2, 2)
    assert total.vehicle_hours == 2.0 and total.latencies_ms == [3.0, 3.0]


def test_a_lasting_state_warning_detects_every_episode_it_spans() -> None:
    # one overspeed warning 10-40 s; the ground truth splits it at a junction (no limit there)
    warnings = group_warnings([("SLW", "a", None, 10.0 + 0.5 * k, None) for k in range(61)])
    eps = [
        Episode(app="SLW", ego="a", other=None, start_s=10.0, end_s=20.0),
        Episode(app="SLW", ego="a", other=None, start_s=25.0, end_s=40.0),
    ]
    s = score(eps, warnings, vehicle_hours=1.0, apps={"SLW"})["SLW"]
    assert (s.episodes, s.detected, s.warnings, s.matched_warnings, s.flicker) == (2, 2, 1, 1, 0)
    # an event family still needs the onset in the episode's window
    fcw = [_ep("FCW", "a", 10.0, 20.0), _ep("FCW", "a", 25.0, 40.0)]
    late = group_warnings([("FCW", "a", "b", 10.0 + 0.5 * k, None) for k in range(61)])
    assert score(fcw, late, vehicle_hours=1.0, apps={"FCW"})["FCW"].detected == 1


def test_a_refresh_while_the_advisory_is_in_force_is_the_same_warning() -> None:
    """Road-side apps refresh a 2 s advisory ~1.9 s apart: one warning on the screen, not two
    (with the in-force time left off, the 1 s gap alone splits them)."""
    refreshed = [("TJW", "a", None, 10.0, None, 12.0), ("TJW", "a", None, 11.9, None, 13.9)]
    (one,) = group_warnings(refreshed)
    assert (one.onset_s, one.end_s) == (10.0, 11.9)
    assert len(group_warnings([r[:5] for r in refreshed])) == 2
    lapsed = [("TJW", "a", None, 10.0, None, 12.0), ("TJW", "a", None, 12.5, None, 14.5)]
    assert len(group_warnings(lapsed)) == 2
