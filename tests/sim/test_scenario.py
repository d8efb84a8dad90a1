"""Scenario files: the library loads, and bad files fail naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2xcloud.errors import SimulationError
from v2xcloud.sim.scenario import library_names, load_library, load_scenario

HAZARD_APPS = {
    "FCW",
    "EBW",
    "ICW",
    "LTA",
    "BSW",
    "DNPW",
    "AVW",
    "CLW",
    "EVW",
    "VRUCW",
    "RLVW",
    "SLW",
}


def test_library_has_a_hazard_scenario_per_app_and_background() -> None:
    scenarios = load_library("all")
    assert [s.name for s in scenarios] == library_names()
    covered = {app for s in scenarios for app in s.apps}
    assert covered >= HAZARD_APPS
    assert any(not s.apps for s in scenarios), "needs background scenarios where nothing fires"
    for s in scenarios:
        assert s.seed > 0 and s.description


def test_library_varies_each_hazard_and_the_busy_backgrounds() -> None:
    """Issue 15: at least three hazard variants per app, some with the other party seen only
    by roadside perception; at least four busy backgrounds over grid sizes, two- and
    three-lane arterials and connected shares from 30 % to 100 %."""
    scenarios = load_library("all")
    for app in HAZARD_APPS:
        assert len([s for s in scenarios if app in s.apps]) >= 3, app
    roadside_only = {
        app
        for s in scenarios
        for app in s.apps
        if s.rsus and any(v.is_connected is False for v in s.vehicles)
    }
    assert roadside_only >= {"FCW", "EBW", "ICW", "LTA", "BSW", "DNPW"}
    busy = [s for s in scenarios if not s.apps and s.background.vehicles_per_hour >= 1500]
    assert len(busy) >= 4
    assert {s.network.grid_size for s in busy if s.network.kind == "grid"} >= {2, 3, 4}
    assert {s.network.lanes for s in busy if s.network.kind == "straight"} >= {2, 3}
    shares = [s.connected_share for s in busy]
    assert min(shares) <= 0.3 and max(shares) == 1.0


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(SimulationError, match="fcw_rear_end"):
        load_library("no_such_scenario")


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    return path


BASE = 'name = "x"\ndescription = "d"\nseed = 1\nduration_s = 5.0\n[network]\nkind = "straight"\n'


def test_unknown_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match=r"bad\.toml.*speed_kmh"):
        load_scenario(_write(tmp_path, BASE.replace("seed = 1", "seed = 1\nspeed_kmh = 3")))


def test_action_on_unknown_vehicle(tmp_path: Path) -> None:
    body = BASE + '[[actions]]\nat_s = 1.0\ntarget = "ghost"\nkind = "set_speed"\n'
    with pytest.raises(SimulationError, match="ghost"):
        load_scenario(_write(tmp_path, body))


def test_connected_share_range_and_toml_syntax(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="connected_share"):
        load_scenario(_write(tmp_path, BASE.replace("seed = 1", "seed = 1\nconnected_share = 2.0")))
    with pytest.raises(SimulationError, match="cannot read"):
        load_scenario(_write(tmp_path, "name = "))


def test_flow_needs_a_period_and_a_unique_id(tmp_path: Path) -> None:
    flow = '[[flows]]\nid = "f"\nroute = ["W", "E"]\nend_s = 4.0\nperiod_s = {p}\n'
    with pytest.raises(SimulationError, match="flow 'f' needs period_s > 0"):
        load_scenario(_write(tmp_path, BASE + flow.format(p=0.0)))
    twice = BASE + flow.format(p=1.0) + '[[vehicles]]\nid = "f"\nroute = ["W", "E"]\n'
    with pytest.raises(SimulationError, match="unique"):
        load_scenario(_write(tmp_path, twice))
