"""GLOSA's effect: reading advice, SUMO's trip records and the with/without figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2xcloud.errors import SimulationError
from v2xcloud.sim.cooperation import with_baseline
from v2xcloud.sim.evaluate import run_in_process
from v2xcloud.sim.glosa_effect import effect_score, parse_advice, read_trips
from v2xcloud.sim.result import RunConfig
from v2xcloud.sim.scenario import NetworkSpec, Scenario, VehicleSpec

_VALUES = {"advised_min_mps": 5.0, "advised_max_mps": 10.0, "to_stop_m": 100.0}


def test_advice_is_an_arrival_window_at_the_stop_line() -> None:
    got = parse_advice(
        _VALUES, "node:6/phase:3", issued_s=20.0, expires_s=21.0, tls_of_node={6: "G11"}
    )
    assert got is not None and got.tls == "G11"
    assert (got.earliest_s, got.latest_s, got.max_mps) == (30.0, 40.0, 10.0)


@pytest.mark.parametrize(
    ("values", "other"),
    [
        (_VALUES, "node:7/phase:3"),  # not one of the run's traffic lights
        (_VALUES, "event:3"),
        ({**_VALUES, "advised_min_mps": 0.0}, "node:6/phase:3"),  # never arrives
        ({"advised_min_mps": 5.0, "to_stop_m": 100.0}, "node:6/phase:3"),
    ],
)
def test_unreadable_advice_is_none(values: dict[str, float], other: str) -> None:
    assert parse_advice(values, other, issued_s=0, expires_s=1, tls_of_node={6: "G11"}) is None


_TRIPS = """<tripinfos>
  <tripinfo id="a" depart="1.00" arrival="61.00" duration="60.00" waitingCount="2">
    <emissions CO2_abs="150000.0" fuel_abs="48000.0"/>
  </tripinfo>
  <tripinfo id="b" depart="5.00" arrival="-1" duration="40.00" waitingCount="0">
    <emissions CO2_abs="50000.0" fuel_abs="16000.0"/>
  </tripinfo>
</tripinfos>
"""


def test_trips_read_sumo_units(tmp_path: Path) -> None:
    path = tmp_path / "trips.xml"
    path.write_text(_TRIPS, encoding="utf-8")
    trips = read_trips(path)
    assert trips["a"].stops == 2 and trips["a"].co2_g == 150.0 and trips["a"].fuel_g == 48.0
    assert trips["a"].is_finished and not trips["b"].is_finished


def test_broken_trip_records_name_the_file_and_trip(tmp_path: Path) -> None:
    path = tmp_path / "trips.xml"
    path.write_text(_TRIPS.replace('<emissions CO2_abs="50000.0" fuel_abs="16000.0"/>', ""))
    with pytest.raises(SimulationError, match=r"trips.xml: trip #2 \(b\) lacks"):
        read_trips(path)
    path.write_text(_TRIPS[:120])
    with pytest.raises(SimulationError, match="unreadable"):
        read_trips(path)


def test_the_baseline_compares_the_same_advised_vehicles(tmp_path: Path) -> None:
    path = tmp_path / "with.xml"
    path.write_text(_TRIPS, encoding="utf-8")
    with_run = read_trips(path)
    base_path = tmp_path / "base.xml"
    base_path.write_text(_TRIPS.replace('waitingCount="2"', 'waitingCount="3"'))
    base = read_trips(base_path)
    advised = frozenset({"a"})
    score = effect_score("s", with_run, advised, emission_class="HBEFA4/x", stats={})
    baseline = effect_score("s", base, advised, emission_class="-", stats={})
    (merged,) = with_baseline([score], [baseline])
    figures = {f.name: (f.value, f.baseline) for f in merged.figures}
    assert figures["stops per advised vehicle"] == (2.0, 3.0)
    assert figures["stops per vehicle"] == (1.0, 1.5)
    assert figures["CO2 per advised vehicle"] == (150.0, 150.0)
    assert "1 connected vehicles followed" in merged.outcome and "HBEFA4/x" in merged.outcome
    idle = effect_score("s", with_run, frozenset(), emission_class="-", stats={})
    assert idle.outcome.startswith("no action")


@pytest.mark.slow
def test_a_car_following_the_advice_meets_green_instead_of_stopping() -> None:
    """One connected car reaching a fixed-time signal during its red: following GLOSA it
    slows early and passes on the next green without a stop (SUMO, both runs: ~10 s)."""
    car = VehicleSpec(
        id="car", route=("W", "C", "E"), depart_s=20.0, depart_pos_m=50.0,
        depart_speed_mps=13.89, is_connected=True,
    )  # fmt: skip
    scenario = Scenario(
        name="glosa_one_car", description="one car, one signal", seed=3, duration_s=90.0,
        apps=("GLOSA",), follows_glosa=True, vehicles=(car,),
        network=NetworkSpec(kind="cross", arm_length_m=400.0, is_signalised=True),
    )  # fmt: skip
    result = run_in_process(scenario, RunConfig())
    (glosa,) = [c for c in result.cooperation if c.app == "GLOSA"]
    figures = {f.name: (f.value, f.baseline) for f in glosa.figures}
    assert result.glosa_advised == ["car"]
    assert figures["stops per advised vehicle"] == (0.0, 1.0)  # without following: one stop
    co2, co2_without = figures["CO2 per advised vehicle"]
    assert co2 is not None and co2_without is not None and co2 < co2_without
    score = result.scores["GLOSA"]  # its advice was right (realised green) and in time
    assert (score.episodes, score.detected, score.warnings) == (1, 1, score.matched_warnings)
