"""The bench's attack classes (no SUMO): who attacks, what they send, and how detection is
scored from the ground truth."""

from __future__ import annotations

import math

import pytest

from v2xcloud.model import Bsm, ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.sim.attack_score import class_rows, detection_figures
from v2xcloud.sim.attacks import ATTACK_KINDS, AttackInjector, AttackSpec, Sent

EPOCH = 1_767_254_400_000


def _bsm(pid: str, t_ms: int, x_m: float, y_m: float = 0.0) -> Bsm:
    state = ParticipantState(
        id=pid, kind=ParticipantKind.VEHICLE, source=ParticipantSource.BSM,
        timestamp_ms=EPOCH + t_ms, lat_deg=28.2 + y_m / 111_320.0,
        lon_deg=112.9 + x_m / (111_320.0 * math.cos(math.radians(28.2))),
        speed_mps=10.0, heading_deg=90.0, length_m=4.5, width_m=1.8,
    )  # fmt: skip
    return Bsm(msg_count=0, sec_mark_ms=(EPOCH + t_ms) % 60_000, participant=state)


def _run(kind: str, steps: int = 120) -> tuple[AttackInjector, list[list[Sent]]]:
    inj = AttackInjector((AttackSpec(kind=kind, targets=("bad",)),), seed=1)  # type: ignore[arg-type]
    out = []
    for k in range(steps):
        t = k * 100
        bsms = [(f"v{j}", _bsm(f"{j:016x}", t, x_m=j * 20.0 + t / 100)) for j in range(5)]
        bsms.append(("bad", _bsm("bad0000000000001", t, x_m=50.0 + t / 100, y_m=3.5)))
        out.append(inj.apply(bsms, epoch_ms=EPOCH))
    return inj, out


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_every_class_lies_only_from_the_attacker(kind: str) -> None:
    inj, steps = _run(kind)
    sent = [s for step in steps for s in step]
    lies = [s for s in sent if s.is_malicious]
    assert lies and all(s.sumo_id == "bad" for s in lies)
    honest = [s for s in sent if s.sumo_id != "bad"]
    assert len(honest) == 5 * len(steps) and not any(s.is_malicious for s in honest)
    # some lie differs from what the attacker would honestly have said at that step
    honest_at = {k: _bsm("bad0000000000001", k * 100, x_m=50.0 + k, y_m=3.5).participant
                 for k in range(len(steps))}  # fmt: skip
    assert any(
        s.bsm.participant != honest_at[k] for k, step in enumerate(steps) for s in step
        if s.is_malicious
    )  # fmt: skip
    assert inj.first_malicious_ms["bad"] >= EPOCH


def test_dos_sends_five_times_a_step_in_time_order() -> None:
    _, steps = _run("dos", steps=3)
    bad = [s.bsm.participant.timestamp_ms for s in steps[-1] if s.sumo_id == "bad"]
    assert len(bad) == 5 and bad == sorted(bad) and bad[-1] - bad[0] == 80


def test_sybil_ghosts_belong_to_their_attacker() -> None:
    inj, steps = _run("grid_sybil")
    ids = {s.bsm.participant.id for s in steps[-1] if s.sumo_id == "bad"}
    assert len(ids) == 4 and set(inj.ghost_owner) == ids - {"bad0000000000001"}
    assert set(inj.ghost_owner.values()) == {"bad"}


def test_attackers_are_drawn_from_the_seed() -> None:
    spec = (AttackSpec(kind="dos", share=0.3),)
    picks = []
    for _ in range(2):
        inj = AttackInjector(spec, seed=5)
        inj.apply([(f"v{j}", _bsm(f"{j:016x}", 0, j * 10.0)) for j in range(200)], epoch_ms=EPOCH)
        picks.append(set(inj.attackers))
    assert picks[0] == picks[1] and 40 < len(picks[0]) < 80


def test_detection_is_scored_by_vehicle_and_by_message() -> None:
    owner = {"a": "A", "g": "A", "b": "B", "h": "H"}.get
    fig = detection_figures(
        attackers={"A": ("grid_sybil", 1000), "B": ("grid_sybil", 1000)},
        owner=owner,
        flags={"g": 1500, "h": 3000},  # A caught through its ghost, B missed, honest H flagged
        messages=[
            ("a", 1200, True),
            ("g", 1500, True),
            ("g", 1600, True),
            ("b", 1600, True),
            ("h", 2900, False),
            ("h", 3000, False),
        ],
        senders={"A", "B", "H", "K"},
        epoch_ms=0,
        attacker_warnings=4,
        attacker_false_warnings=3,
    )
    fig["false_warnings_off"] = 9
    (row,) = class_rows({"grid_sybil": fig})
    assert (row["attackers"], row["detected"], row["benign_flagged"]) == (2, 1, 1)
    assert row["precision"] == 0.5 and row["recall"] == 0.5 and row["f1"] == 0.5
    assert row["msg_precision"] == 2 / 3 and row["msg_recall"] == 0.5
    assert row["ttd_median_s"] == 0.5 and row["benign_senders"] == 2
    assert (row["false_warnings_off"], row["false_warnings_on"]) == (9, 3)


def test_attackers_are_drawn_independently_of_who_is_connected() -> None:
    """With half the cars connected, every class still lands on about its share of them."""
    from v2xcloud.sim.identities import IdentityMap

    ids = IdentityMap(seed=311, connected_share=0.5, forced={})
    connected = [f"bg{i}" for i in range(2000) if ids.is_connected(f"bg{i}")]
    for kind in ATTACK_KINDS:
        inj = AttackInjector((AttackSpec(kind=kind, share=0.1),), seed=311)  # type: ignore[arg-type]
        inj.apply([(sid, _bsm(f"{k:016x}", 0, k * 10.0)) for k, sid in enumerate(connected)],
                  epoch_ms=EPOCH)  # fmt: skip
        assert 0.06 < len(inj.attackers) / len(connected) < 0.14, kind
