"""Where neither movement has priority by signs or an arrow, the law ranks them (PRC
implementing regulations of the road traffic safety law): art. 52 (2)-(4) at a junction
without signals (``_signals.equal_standing_yields``), art. 51 (7) on signals without arrows
(``_signals.turning_yields``). Checked on pairs of the four-arm test junction's movements,
and through ICW and LTA on cars crossing it."""

from __future__ import annotations

import numpy as np
from _cross_junction import FRAME, PHASES, cross_map, spat
from _cross_junction import car as _car
from _settled import on_settled_tick

from v2xcloud.apps._signals import equal_standing_yields, turning_yields
from v2xcloud.apps.icw import IntersectionCollisionWarning
from v2xcloud.apps.lta import LeftTurnAssist
from v2xcloud.model import LightState, ParticipantSource
from v2xcloud.twin import Scene
from v2xcloud.twin.movements import LEFT, RIGHT, STRAIGHT, UTURN, Movements, movements_of


def car(pid: str, x: float, y: float, heading: float, speed: float, **kw: object) -> object:
    """A car with a measured acceleration (none: the crossing apps wait for one)."""
    return _car(pid, x, y, heading, speed, accel_long_mps2=0.0, yaw_rate_dps=0.1, **kw)


# the arms by the heading of their approach lanes at the stop line
ARM = {0: "S", 90: "W", 180: "N", 270: "E"}
TURN = {STRAIGHT: "straight", LEFT: "left", RIGHT: "right", UTURN: "uturn"}
GREEN = LightState.PERMISSIVE_GREEN


def _movements(
    uturns: frozenset[str] = frozenset(),
) -> tuple[Movements, dict[tuple[str, str], int]]:
    scene = Scene(FRAME)
    scene.ingest(cross_map(uturns=uturns), received_at_ms=0, source="rsu")
    movements = movements_of(scene.update(0))
    assert movements is not None
    by_name = {}
    for p in movements.junction(0):
        arm = ARM[round(p.entry_heading_deg) % 360]
        by_name[arm, TURN[p.turn]] = p.index
    return movements, by_name


def _yields(
    a: tuple[str, str], b: tuple[str, str], rule: object = equal_standing_yields
) -> tuple[bool, bool]:
    movements, ids = _movements(frozenset({"S", "N"}) if "uturn" in (a[1], b[1]) else frozenset())
    pa, pb = np.array([ids[a]], dtype=np.int64), np.array([ids[b]], dtype=np.int64)
    ya, yb = rule(movements, pa, pb)  # type: ignore[operator]
    return bool(ya[0]), bool(yb[0])


def test_the_movements_know_their_approach_heading() -> None:
    _, ids = _movements()
    assert len(ids) == 12  # four arms, three turns each


def test_a_turning_movement_gives_way_to_a_straight_one() -> None:
    # (3): whichever side it comes from
    assert _yields(("S", "left"), ("N", "straight")) == (True, False)
    assert _yields(("N", "straight"), ("S", "left")) == (False, True)
    assert _yields(("E", "left"), ("S", "straight")) == (True, False)  # from S's right
    assert _yields(("W", "right"), ("S", "straight")) == (True, False)


def test_a_u_turn_gives_way_to_every_other_movement() -> None:
    # art. 49 of the law: a U-turn must not obstruct other vehicles, with signals or without
    for rule in (equal_standing_yields, turning_yields):
        assert _yields(("S", "uturn"), ("N", "left"), rule) == (True, False)
        assert _yields(("N", "right"), ("S", "uturn"), rule) == (False, True)
        assert _yields(("S", "uturn"), ("E", "right"), rule) == (True, False)
        assert _yields(("W", "straight"), ("N", "uturn"), rule) == (False, True)
        assert _yields(("S", "uturn"), ("N", "uturn"), rule) == (False, False)  # one kind


def test_otherwise_the_one_from_the_right_goes_first() -> None:
    # (2): E comes from the right of S (northbound): S gives way; W comes from its left
    assert _yields(("S", "straight"), ("E", "straight")) == (True, False)
    assert _yields(("S", "straight"), ("W", "straight")) == (False, True)
    assert _yields(("E", "straight"), ("N", "straight")) == (True, False)
    assert _yields(("S", "left"), ("E", "left")) == (True, False)


def test_of_two_opposite_turns_the_right_turn_gives_way_to_the_left() -> None:
    # (4): both end in the same exit (W for S's left, N's right)
    assert _yields(("N", "right"), ("S", "left")) == (True, False)
    assert _yields(("S", "left"), ("N", "right")) == (False, True)
    assert _yields(("S", "left"), ("N", "left")) == (False, False)  # one kind: equal


def test_movements_from_one_approach_are_not_ranked() -> None:
    assert _yields(("S", "straight"), ("S", "right")) == (False, False)


def test_on_signals_without_arrows_only_the_turning_rules_rank() -> None:
    """Art. 51 (7): on a green without an arrow a turn gives way to a straight movement and a
    right turn to the opposite left; the car from the right has no priority there."""
    assert _yields(("S", "left"), ("N", "straight"), turning_yields) == (True, False)
    assert _yields(("N", "right"), ("S", "left"), turning_yields) == (True, False)
    assert _yields(("S", "straight"), ("E", "straight"), turning_yields) == (False, False)
    assert _yields(("S", "left"), ("E", "left"), turning_yields) == (False, False)


def _warned(*items: object, app: type = IntersectionCollisionWarning) -> set[str]:
    scene = Scene(FRAME)
    for item in items:
        scene.ingest(item, received_at_ms=0, source="rsu")  # type: ignore[arg-type]
    return {adv.ego_id for adv in on_settled_tick(app(), scene.update(0), 0)}


def test_icw_holds_the_car_that_must_give_way_while_it_can_still_stop() -> None:
    """Two cars straight on an unmarked junction: "a" north-bound on the S arm, "b"
    west-bound from its right on the E arm, both at the crossing in about 2.7 s. a gives way:
    17 m before its line at 10 m/s (2.9 m/s²) it can stop comfortably and is held, so nobody
    is warned. 10 m before it at 14 m/s (9.8 m/s²) it cannot: both are. Coming from a's
    left (the W arm) instead, b is the one who gives way."""
    lanes = cross_map(only={"S": "straight", "E": "straight", "W": "straight"})
    bsm = ParticipantSource.BSM
    a = car("a", 1.75, -25.0, 0.0, 10.0, source=bsm)
    b = car("b", 28.5, 1.75, 270.0, 10.0, source=bsm)
    assert _warned(lanes, a, b) == set()
    fast = car("a", 1.75, -18.0, 0.0, 14.0, source=bsm)
    near = car("b", 22.0, 1.75, 270.0, 10.0, source=bsm)
    assert _warned(lanes, fast, near) == {"a", "b"}
    from_left = car("b", -27.0, -1.75, 90.0, 10.0, source=bsm)  # 19 m before its line
    assert _warned(lanes, a, from_left) == set()
    late = car("b", -14.0, -1.75, 90.0, 14.0, source=bsm)  # 6 m before it at 14 m/s
    assert _warned(lanes, car("a", 1.75, -19.0, 0.0, 10.0, source=bsm), late) == {"a", "b"}


def test_lta_counts_an_oncoming_right_turn_only_once_it_can_no_longer_give_way() -> None:
    """LTA's turner "t" (S arm, 4 m before its line at 6 m/s, indicating left) and "o"
    coming from the north indicating right, both for the west exit. Unmarked, o gives way
    to the left turn: 10 m before its line at 6 m/s it can, and t is not warned; at 10 m/s
    6 m before it (8.3 m/s²) it cannot, and t is. The same on signals without arrows
    (art. 51 (7)). Where the MAP has the left turn give way (a major road's left turn,
    SUMO's "m" link), t is warned of o either way (LTA keeps the merge of a left and an
    oncoming right turn)."""
    left = frozenset({"leftTurnSignalOn"})
    right = frozenset({"rightTurnSignalOn"})
    bsm = ParticipantSource.BSM
    t = car("t", 1.75, -12.0, 0.0, 6.0, exterior_lights=left)
    o = car("o", -1.75, 18.0, 180.0, 6.0, source=bsm, exterior_lights=right)
    late = car("o", -1.75, 14.0, 180.0, 10.0, source=bsm, exterior_lights=right)
    assert _warned(cross_map(), t, o, app=LeftTurnAssist) == set()
    assert _warned(cross_map(), t, late, app=LeftTurnAssist) == {"t"}
    permissive = spat(phase1=GREEN, phase3=GREEN, phase5=GREEN)
    signals = cross_map(phases=PHASES)
    assert _warned(signals, permissive, t, o, app=LeftTurnAssist) == set()
    assert _warned(signals, permissive, t, late, app=LeftTurnAssist) == {"t"}
    major = cross_map(yielding=frozenset({("S", "left")}))
    assert _warned(major, t, o, app=LeftTurnAssist) == {"t"}
