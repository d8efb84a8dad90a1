"""Dissemination: the right recipients, refresh while valid, expire when over, no duplicates."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))

from _roadside_scene import latlon, vehicle, view_of

from v2xcloud.model import Advisory, AdvisoryLevel, RoadEvent
from v2xcloud.model.road import ReferencePath
from v2xcloud.runtime.dissemination import ANNOUNCED_KEPT_MS, Disseminator, Rsu


def _rsu(rid: str, x: float, y: float) -> Rsu:
    lat, lon = latlon(x, y)
    return Rsu(rsu_id=rid, lat_deg=lat, lon_deg=lon, range_m=300.0)


def _adv(t: int, level: AdvisoryLevel = AdvisoryLevel.WARNING) -> Advisory:
    return Advisory(
        app="RLVW", level=level, ego_id="a", issued_ms=t, expires_ms=t + 1000, other_id="lane:1"
    )


def test_advisory_goes_to_its_ego_and_nearby_rsu_then_dedups_refreshes_and_expires() -> None:
    d = Disseminator(rsus=(_rsu("near", 0, 100), _rsu("far", 5000, 0)), refresh_ms=1000)
    view = view_of(vehicle("a", 0, 0, 10.0), vehicle("b", 0, 50, 10.0))
    (first,) = d.advisories([_adv(0)], view, 0)
    assert (first.reason, first.participants, first.rsus) == ("new", ("a",), ("near",))
    assert d.advisories([_adv(100)], view, 100) == []  # duplicate within the refresh period
    (upd,) = d.advisories([_adv(200, AdvisoryLevel.IMMINENT)], view, 200)
    assert upd.reason == "update"
    (ref,) = d.advisories([_adv(1200, AdvisoryLevel.IMMINENT)], view, 1200)
    assert ref.reason == "refresh"
    assert d.expire(2000) == []
    (gone,) = d.expire(2300)
    assert gone.reason == "expired" and gone.rsus == ("near",)
    assert d.stats["duplicate"] == 1


def _event(end_ms: int | None = None) -> RoadEvent:
    path = ReferencePath(points=(latlon(0, -300), latlon(0, 200)), radius_m=5.0)
    lat, lon = latlon(0, 200)
    return RoadEvent(
        event_id=4,
        event_type=902,
        source="detection",
        kind="stopped_vehicle",
        lat_deg=lat,
        lon_deg=lon,
        radius_m=10.0,
        end_ms=end_ms,
        reference_paths=(path,),
    )


def test_event_reaches_only_concerned_participants_and_newcomers_get_it_at_once() -> None:
    d = Disseminator(rsus=(_rsu("r1", 0, 150), _rsu("r2", 3000, 3000)))
    view = view_of(
        vehicle("along", 0, 0, 10.0),
        vehicle("opposite", 0, 0, 10.0, 180.0),
        vehicle("side", 300, 0, 10.0),
    )
    (first,) = d.events([_event(end_ms=10_000)], view, 0)
    assert first.participants == ("along",) and first.rsus == ("r1",)
    later = view_of(vehicle("along", 0, 10, 10.0), vehicle("new", 0, -100, 10.0), now_ms=300)
    (upd,) = d.events([_event(end_ms=10_000)], later, 300)
    assert (upd.reason, upd.participants) == ("update", ("new",))
    assert d.events([_event(end_ms=10_000)], later, 600) == []
    (ref,) = d.events([_event(end_ms=10_000)], later, 1000)
    assert ref.reason == "refresh" and ref.participants == ("along", "new")


def test_ended_event_is_not_sent_and_expires() -> None:
    d = Disseminator()
    view = view_of(vehicle("along", 0, 0, 10.0))
    assert len(d.events([_event(end_ms=2000)], view, 0)) == 1
    assert d.events([_event(end_ms=500)], view, 600) == []
    (gone,) = d.expire(2000)
    assert gone.reason == "expired" and gone.key == "event|detection|stopped_vehicle|4"


def test_an_event_a_predecessor_announced_goes_on_as_a_refresh_not_new() -> None:
    """A worker taking a tile over carries on the events the previous owner announced: their
    first delivery here refreshes everyone concerned; an RSU or car acting on ``new`` must not
    see one event announced twice. Keys not decided about in time are forgotten."""
    key = "event|detection|stopped_vehicle|4"
    view = view_of(vehicle("along", 0, 0, 10.0), vehicle("far", 0, -250, 10.0))
    d = Disseminator(rsus=(_rsu("r1", 0, 150),))
    assert d.continue_announced([key], 0) == 1
    (first,) = d.events([_event(end_ms=30_000)], view, 100)
    assert (first.reason, first.participants, first.rsus) == ("refresh", ("along", "far"), ("r1",))
    assert d.events([_event(end_ms=30_000)], view, 300) == []  # then as any item sent here
    assert d.continue_announced([key], 400) == 0  # already carried on
    # a key handed over but not seen again within ANNOUNCED_KEPT_MS: the item ended
    late = Disseminator()
    late.continue_announced([key], 0)
    late.expire(ANNOUNCED_KEPT_MS + 1)
    (again,) = late.events([_event(end_ms=30_000)], view, ANNOUNCED_KEPT_MS + 100)
    assert again.reason == "new"
    assert (
        d.stats["announced_taken"] == 1
        and Disseminator().events([_event(end_ms=30_000)], view, 0)[0].reason == "new"
    )
