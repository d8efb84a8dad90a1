"""V2X identities of simulated road users: stable, seeded, reversible."""

from __future__ import annotations

from v2xcloud.sim.identities import IdentityMap


def test_connected_share_is_seeded_and_forced_ids_win() -> None:
    ids = IdentityMap(seed=5, connected_share=0.3, forced={"ego": True, "dumb": False})
    flags = [ids.is_connected(f"v{k}") for k in range(4000)]
    assert 0.27 < sum(flags) / len(flags) < 0.33
    again = IdentityMap(seed=5, connected_share=0.3, forced={})
    assert flags == [again.is_connected(f"v{k}") for k in range(4000)]
    assert ids.is_connected("ego") and not ids.is_connected("dumb")
    assert not ids.is_connected("walker", is_pedestrian=True)


def test_ids_are_wire_shaped_and_resolve_back() -> None:
    ids = IdentityMap(seed=1, connected_share=1.0, forced={})
    bsm = ids.bsm_id("car")
    assert len(bsm) == 16 and int(bsm, 16) > 0 and ids.bsm_id("car") == bsm
    rsm = ids.rsm_id("5200000000000001", "walker")
    assert rsm == "5200000000000001/1"
    assert ids.sumo_id(bsm) == "car" and ids.sumo_id(rsm) == "walker"
    assert ids.sumo_id("unknown") is None and ids.sumo_id(None) is None
