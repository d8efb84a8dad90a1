"""Misbehaving senders in the test bench: the VeReMi-extension attack classes.

A scenario's ``[[attacks]]`` names an attack class and which connected vehicles carry it
(``share`` of them, drawn from the scenario seed, and/or ``targets`` by id) from ``start_s``.
:class:`AttackInjector` turns each step's honest BSMs into what the attackers send instead:

- position: ``const_position`` (a fixed place near where the attack starts),
  ``const_position_offset`` (the true place shifted by a fixed 5–50 m), ``random_position``
  (anywhere within 300 m, new every message), ``random_position_offset`` (the true place
  shifted by a new ±30 m offset every message);
- speed: ``const_speed`` (a fixed 0–30 m/s), ``const_speed_offset`` (true ± a fixed 3–15
  m/s), ``random_speed`` (0–40 m/s, new every message), ``random_speed_offset`` (true ± up to
  10 m/s, new every message);
- ``eventual_stop``: after 2–10 s it claims to stand still where it was;
- ``disruptive``: every message carries a random neighbour's latest state under its own id;
- ``data_replay``: it re-sends a target neighbour's state of 0.5 s ago under its own id;
- ``delayed_messages``: it sends its own state of 1–5 s ago, stamped as current;
- ``dos``: its true state five times a step (50 Hz); ``dos_random``: the same rate with random
  position and speed;
- ``grid_sybil``: besides its own BSM, three ghost ids at fixed grid offsets around it,
  moving with it; ``data_replay_sybil``: ghost ids (a new one every 5 s) replaying the
  state of a nearby target.

Every message an attacker sends from ``start_s`` on is malicious in the ground truth (as in
VeReMi, the vehicle is the attacker); ghost ids map back to the attacker's SUMO id.
Per-attacker randomness is seeded from the scenario seed, so reruns send the same lies.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import msgspec
import numpy as np

from v2xcloud.model import Bsm, ParticipantState

__all__ = ["ATTACK_KINDS", "AttackInjector", "AttackKind", "AttackSpec", "Sent"]

AttackKind = Literal[
    "const_position",
    "const_position_offset",
    "random_position",
    "random_position_offset",
    "const_speed",
    "const_speed_offset",
    "random_speed",
    "random_speed_offset",
    "eventual_stop",
    "disruptive",
    "data_replay",
    "delayed_messages",
    "dos",
    "dos_random",
    "grid_sybil",
    "data_replay_sybil",
]
ATTACK_KINDS: tuple[str, ...] = AttackKind.__args__  # type: ignore[attr-defined]

M_PER_DEG_LAT = 111_320.0  # metres per degree of latitude (offsets of tens of metres)
DOS_FACTOR = 5  # DoS: this many messages per simulation step (50 Hz at 0.1 s)
GHOST_PREFIX = 0x5B  # first byte of ghost ids (honest simulated BSM ids start 0x5a)
GRID_OFFSETS_M = ((8.0, 3.5), (-8.0, 3.5), (-8.0, 0.0))  # (along, right) of grid ghosts
REPLAY_DELAY_MS = 500
SYBIL_SWITCH_MS = 5000


class AttackSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One attack class carried by a ``share`` of the connected vehicles and/or ``targets``."""

    kind: AttackKind
    share: float = 0.0
    targets: tuple[str, ...] = ()
    start_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Sent:
    """One BSM an OBU puts on the air: its SUMO id, the message, and whether it lies."""

    sumo_id: str
    bsm: Bsm
    is_malicious: bool


@dataclass(slots=True)
class _Attacker:
    kind: str
    rng: np.random.Generator
    start_ms: int
    const: tuple[float, ...] = ()
    own: deque[ParticipantState] = field(default_factory=lambda: deque(maxlen=60))
    ghosts: list[str] = field(default_factory=list)
    target: str | None = None
    switched_ms: int = 0


def _uniform(key: str) -> float:
    """A draw in [0, 1) from ``key``. Not CRC32: CRC is affine, so a CRC draw over
    ``"seed:kind:id"`` is tied to the connected draw over ``"seed:id"`` (``IdentityMap``), and
    with half the cars connected whole attack classes never landed on a connected car."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _shift(p: ParticipantState, east_m: float, north_m: float) -> tuple[float, float]:
    lat = p.lat_deg + north_m / M_PER_DEG_LAT
    lon = p.lon_deg + east_m / (M_PER_DEG_LAT * math.cos(math.radians(p.lat_deg)))
    return lat, lon


class AttackInjector:
    """Applies ``attacks`` to each step's BSMs; ``is_connected`` says who sends BSMs."""

    def __init__(self, attacks: tuple[AttackSpec, ...], *, seed: int) -> None:
        self.attacks = attacks
        self.seed = seed
        self.attackers: dict[str, _Attacker] = {}  # SUMO id -> its attack
        self.decided: set[str] = set()
        self.ghost_owner: dict[str, str] = {}  # ghost BSM id -> attacker SUMO id
        self.first_malicious_ms: dict[str, int] = {}  # attacker SUMO id -> first lie sent
        self._recent: deque[dict[str, ParticipantState]] = deque(maxlen=20)  # 2 s of states
        self._count = 0

    def _draw(self, sumo_id: str, now_ms: int) -> None:
        self.decided.add(sumo_id)
        for spec in self.attacks:
            draw = _uniform(f"{self.seed}:{spec.kind}:{sumo_id}")
            if sumo_id in spec.targets or draw < spec.share:
                rng = np.random.default_rng(zlib.crc32(f"{self.seed}/{sumo_id}".encode()))
                start = max(now_ms, int(spec.start_s * 1000))
                self.attackers[sumo_id] = _Attacker(kind=spec.kind, rng=rng, start_ms=start)
                return

    def apply(self, bsms: list[tuple[str, Bsm]], *, epoch_ms: int) -> list[Sent]:
        """What the OBUs send this step instead of ``bsms`` (SUMO id, honest BSM)."""
        states = {sid: b.participant for sid, b in bsms}
        out: list[Sent] = []
        for sid, bsm in bsms:
            if sid not in self.decided:
                self._draw(sid, bsm.participant.timestamp_ms - epoch_ms)
            att = self.attackers.get(sid)
            if att is None or bsm.participant.timestamp_ms - epoch_ms < att.start_ms:
                out.append(Sent(sid, bsm, False))
                if att is not None:
                    att.own.append(bsm.participant)
                continue
            lies = self._lie(sid, att, bsm.participant, states)
            if lies:
                self.first_malicious_ms.setdefault(sid, bsm.participant.timestamp_ms)
            out += [Sent(sid, self._bsm(p), True) for p in lies]
            att.own.append(bsm.participant)
        self._recent.append(states)
        return out

    def _bsm(self, p: ParticipantState) -> Bsm:
        self._count = (self._count + 1) % 128
        return Bsm(msg_count=self._count, sec_mark_ms=p.timestamp_ms % 60_000, participant=p)

    def _ghost(self, att: _Attacker, owner: str) -> str:
        gid = f"{GHOST_PREFIX:02x}{len(self.ghost_owner) + 1:014x}"
        self.ghost_owner[gid] = owner
        att.ghosts.append(gid)
        return gid

    def _lie(
        self, sid: str, att: _Attacker, p: ParticipantState, now: dict[str, ParticipantState]
    ) -> list[ParticipantState]:
        rng, kind, rep = att.rng, att.kind, msgspec.structs.replace
        if kind.endswith("position") or kind.endswith("position_offset"):
            lat, lon = self._position(att, p)
            return [rep(p, lat_deg=lat, lon_deg=lon)]
        if "speed" in kind:
            return [rep(p, speed_mps=self._speed(att, p))]
        if kind == "eventual_stop":
            if not att.const:
                att.const = (p.timestamp_ms + rng.uniform(2000, 10000), 0.0, 0.0)
            if p.timestamp_ms < att.const[0]:
                return [p]
            if att.const[1] == 0.0:
                att.const = (att.const[0], p.lat_deg, p.lon_deg)
            return [rep(p, lat_deg=att.const[1], lon_deg=att.const[2], speed_mps=0.0,
                        accel_long_mps2=0.0)]  # fmt: skip
        if kind == "disruptive":
            others = [q for k, q in now.items() if k != sid]
            if not others:
                return []
            q = others[int(rng.integers(len(others)))]
            return [self._as(q, p)]
        if kind in ("data_replay", "data_replay_sybil"):
            return self._replay(sid, att, p)
        if kind == "delayed_messages":
            if not att.const:
                att.const = (rng.uniform(1000, 5000),)
            old = [q for q in att.own if q.timestamp_ms <= p.timestamp_ms - att.const[0]]
            return [self._as(old[-1], p)] if old else []
        if kind in ("dos", "dos_random"):
            return self._dos(att, p)
        return self._grid(sid, att, p)  # grid_sybil

    def _position(self, att: _Attacker, p: ParticipantState) -> tuple[float, float]:
        rng, kind = att.rng, att.kind
        if kind == "const_position":
            if not att.const:
                att.const = _shift(p, *rng.uniform(-50, 50, 2))
            return att.const[0], att.const[1]
        if kind == "const_position_offset":
            if not att.const:
                r, a = rng.uniform(5, 50), rng.uniform(0, 2 * math.pi)
                att.const = (r * math.sin(a), r * math.cos(a))
            return _shift(p, att.const[0], att.const[1])
        if kind == "random_position":
            return _shift(p, *rng.uniform(-300, 300, 2))
        return _shift(p, *rng.uniform(-30, 30, 2))  # random_position_offset

    @staticmethod
    def _speed(att: _Attacker, p: ParticipantState) -> float:
        rng, kind, v = att.rng, att.kind, p.speed_mps or 0.0
        if kind == "const_speed":
            if not att.const:
                att.const = (rng.uniform(0, 30),)
            return att.const[0]
        if kind == "const_speed_offset":
            if not att.const:
                att.const = (rng.choice((-1.0, 1.0)) * rng.uniform(3, 15),)
            return max(v + att.const[0], 0.0)
        if kind == "random_speed":
            return float(rng.uniform(0, 40))
        return max(v + float(rng.uniform(-10, 10)), 0.0)  # random_speed_offset

    @staticmethod
    def _as(q: ParticipantState, p: ParticipantState) -> ParticipantState:
        """``q``'s content sent as ``p`` (its id, time and body)."""
        return msgspec.structs.replace(q, id=p.id, timestamp_ms=p.timestamp_ms,
                                       length_m=p.length_m, width_m=p.width_m)  # fmt: skip

    def _replay(self, sid: str, att: _Attacker, p: ParticipantState) -> list[ParticipantState]:
        t = p.timestamp_ms
        is_sybil = att.kind == "data_replay_sybil"
        if att.target is None or (is_sybil and t - att.switched_ms >= SYBIL_SWITCH_MS):
            att.target = self._nearest(sid, p)
            att.switched_ms = t
            if is_sybil and att.target is not None:
                self._ghost(att, sid)
        back = len(self._recent) - REPLAY_DELAY_MS // 100
        past = self._recent[back].get(att.target or "") if back >= 0 else None
        if past is None:
            return [] if is_sybil else [p]
        sent = msgspec.structs.replace(past, timestamp_ms=t)
        if is_sybil:
            return [p, msgspec.structs.replace(sent, id=att.ghosts[-1])]
        return [msgspec.structs.replace(sent, id=p.id)]

    def _nearest(self, sid: str, p: ParticipantState) -> str | None:
        if not self._recent:
            return None
        best, best_d = None, math.inf
        for k, q in self._recent[-1].items():
            d = math.hypot(q.lat_deg - p.lat_deg, q.lon_deg - p.lon_deg)
            if k != sid and k not in self.attackers and d < best_d:
                best, best_d = k, d
        return best

    def _dos(self, att: _Attacker, p: ParticipantState) -> list[ParticipantState]:
        out = []
        rad = math.radians(p.heading_deg or 0.0)
        for k in range(DOS_FACTOR):  # the copies fill the step before the true report
            dt_s = -0.1 * (DOS_FACTOR - 1 - k) / DOS_FACTOR
            ds = (p.speed_mps or 0.0) * dt_s
            lat, lon = _shift(p, ds * math.sin(rad), ds * math.cos(rad))
            q = msgspec.structs.replace(p, lat_deg=lat, lon_deg=lon,
                                        timestamp_ms=p.timestamp_ms + round(dt_s * 1000))  # fmt: skip
            if att.kind == "dos_random":
                lat, lon = _shift(p, *att.rng.uniform(-300, 300, 2))
                q = msgspec.structs.replace(q, lat_deg=lat, lon_deg=lon,
                                            speed_mps=float(att.rng.uniform(0, 40)))  # fmt: skip
            out.append(q)
        return out

    def _grid(self, sid: str, att: _Attacker, p: ParticipantState) -> list[ParticipantState]:
        if not att.ghosts:
            for _ in GRID_OFFSETS_M:
                self._ghost(att, sid)
        rad = math.radians(p.heading_deg or 0.0)
        out = [p]
        for gid, (along, right) in zip(att.ghosts, GRID_OFFSETS_M, strict=True):
            east = along * math.sin(rad) + right * math.cos(rad)
            north = along * math.cos(rad) - right * math.sin(rad)
            lat, lon = _shift(p, east, north)
            out.append(msgspec.structs.replace(p, id=gid, lat_deg=lat, lon_deg=lon))
        return out
