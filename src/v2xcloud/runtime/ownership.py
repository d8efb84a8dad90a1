"""Who owns which tile: the deterministic assignment every edge worker computes alike, the
lease bookkeeping it acts on, and the ids that make a warning exactly-once.

- ``assign(tiles, members)``: the tiles sorted by quadkey (Z-order, ``runtime.tiles``) cut into
  one contiguous run per live member (members sorted by id), so each worker holds a compact
  block and its halo is a thin border. Every worker that sees the same members and tiles
  computes the same answer; JetStream KV compare-and-set settles the moments they do not.
- ``Liveness``: a member is alive while its heartbeat key keeps changing; it is judged on the
  observer's own monotonic clock (the revision last changed less than ``ttl_s`` ago), so
  clocks across machines need not agree.
- ``plan(...)``: from the desired assignment and the owners recorded in KV, what this worker
  must claim (unowned, or owned by a dead member), hand over (desired elsewhere, to a live
  member) or keep.
- ``episode_key`` / ``advisory_msg_id``: an advisory's identity. The msg id (app, ego,
  other, level, tick) is the same whichever worker computed it, so JetStream's duplicate
  window stores one copy; the episode key (app, ego, other) names the warning episode in the
  KV of issued episodes, so a new owner does not warn a vehicle again for an episode its
  predecessor already warned about.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from v2xcloud.codec import message_set_of
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory
from v2xcloud.runtime.core import Runtime

__all__ = [
    "Liveness",
    "Plan",
    "advisory_msg_id",
    "assign",
    "edge_runtime",
    "episode_key",
    "plan",
]


def assign(tiles: Iterable[str], members: Iterable[str]) -> dict[str, str]:
    """Tile → member: the sorted tiles cut into ``len(members)`` contiguous runs of sizes
    differing by at most one, the runs given to the sorted members in order; ``{}`` without
    members."""
    ordered = sorted(set(tiles))
    people = sorted(set(members))
    if not people:
        return {}
    out: dict[str, str] = {}
    n, k = len(ordered), len(people)
    start = 0
    for i, member in enumerate(people):
        size = n // k + (1 if i < n % k else 0)
        for tile in ordered[start : start + size]:
            out[tile] = member
        start += size
    return out


@dataclass
class Liveness:
    """Members' heartbeats as this observer saw them: alive while the revision changed within
    ``ttl_s`` of ``clock()`` (monotonic seconds). Members not heard from for ``forget_s``
    are forgotten (the table stays bounded by the members of the last ``forget_s``)."""

    ttl_s: float
    forget_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, tuple[int, float]] = field(default_factory=dict)

    def heard(self, member: str, revision: int) -> None:
        """Record a heartbeat entry (its KV revision)."""
        before = self._seen.get(member)
        if before is None or before[0] != revision:
            self._seen[member] = (revision, self.clock())

    def gone(self, member: str) -> None:
        """The member's key was deleted (it left cleanly)."""
        self._seen.pop(member, None)

    def alive(self) -> list[str]:
        """The members alive now, sorted."""
        now = self.clock()
        for member in [m for m, (_, t) in self._seen.items() if now - t > self.forget_s]:
            del self._seen[member]
        return sorted(m for m, (_, t) in self._seen.items() if now - t <= self.ttl_s)


@dataclass(frozen=True)
class Plan:
    """What one worker does about the tiles this round."""

    claim: tuple[str, ...] = ()
    hand_over: tuple[tuple[str, str], ...] = ()  # (tile, new owner)
    keep: tuple[str, ...] = ()


def plan(
    *,
    me: str,
    desired: Mapping[str, str],
    owners: Mapping[str, str],
    alive: Sequence[str],
) -> Plan:
    """This worker's moves: claim the tiles desired for it whose recorded owner is nobody or
    a member no longer alive; hand over its own tiles desired for another live member; keep
    the rest of its own (a tile desired for a member that is not alive stays where it is)."""
    live = set(alive)
    claim, hand, keep = [], [], []
    for tile in sorted(set(desired) | set(owners)):
        want = desired.get(tile)
        owner = owners.get(tile, "")
        if owner == me:
            if want is not None and want != me and want in live:
                hand.append((tile, want))
            else:
                keep.append(tile)
        elif want == me and (not owner or owner not in live):
            claim.append(tile)
    return Plan(claim=tuple(claim), hand_over=tuple(hand), keep=tuple(keep))


def episode_key(tenant: str, adv: Advisory) -> str:
    """A KV-safe key naming the warning episode of (tenant, app, ego, other)."""
    text = f"{tenant}\x1f{adv.app}\x1f{adv.ego_id}\x1f{adv.other_id or ''}"
    return "ep." + hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def advisory_msg_id(tenant: str, adv: Advisory) -> str:
    """The ``Nats-Msg-Id`` of one tick's advisory: the same from any worker that computes it."""
    text = f"{tenant}\x1f{adv.app}\x1f{adv.ego_id}\x1f{adv.other_id or ''}\x1f{int(adv.level)}"
    digest = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    return f"adv:{digest}:{adv.issued_ms}"


def edge_runtime(*, origin_lat_deg: float, origin_lon_deg: float, message_set: str) -> Runtime:
    """An edge worker's ``Runtime``: every registered app, its local frame at the origin."""
    frame = LocalFrame(origin_lat_deg=origin_lat_deg, origin_lon_deg=origin_lon_deg)
    return Runtime(frame=frame, message_set=message_set_of(message_set))
