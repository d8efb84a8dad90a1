"""Who owns which tile: the deterministic assignment every edge worker computes alike, the
lease bookkeeping it acts on, and the ids that make a warning exactly-once.

- ``assign(tiles, members)``: the tiles sorted by quadkey (Z-order, ``runtime.tiles``) cut into
  one contiguous run per live member (members sorted by id), so each worker holds a compact
  block and its halo is a thin border. Every worker that sees the same members and tiles
  computes the same answer; JetStream KV compare-and-set settles the moments they do not.
- ``assign_by_load(tiles, members, loads, current)``: the same contiguous Z-order runs, but
  cut where the measured load (frames/s filed per tile: ``tile_loads``) balances, not the tile count, so the busiest worker carries
  about the mean. Hysteresis: while every tile has a live owner, every live member holds a
  tile and the busiest carries at most ``REBALANCE_SLACK`` above the best cut's busiest, the
  current owners stay (measured loads wander; tiles do not follow them). When it re-cuts,
  each run goes to the member that already holds most of its load, so few tiles move.
- ``split_hot(tiles, load_of, limit)``: a tile whose load alone exceeds ``limit`` (too dense
  for one worker) is owned as its four children (quadkey zoom + 1), recursively, down to
  ``FINEST_UNIT_ZOOM``; ``unit_of(place, units)`` finds the unit a frame's place is in.
- ``MergeWatch``: when a split tile cools, its children merge back. Hysteresis, so a tile
  near the limit does not split and merge by turns: the children's loads together must stay
  below a clearly lower limit (``MERGE_SHARE`` of the split's) for ``hold_s``, and the tile
  must have been split for ``hold_s`` at least.
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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from v2xcloud.codec import message_set_of
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory
from v2xcloud.runtime.core import Runtime
from v2xcloud.runtime.screen import MisbehaviourScreen

__all__ = [
    "FINEST_UNIT_ZOOM",
    "MERGE_HOLD_S",
    "MERGE_SHARE",
    "REBALANCE_SLACK",
    "Liveness",
    "MergeWatch",
    "Plan",
    "advisory_msg_id",
    "assign",
    "assign_by_load",
    "children_of",
    "cut_by_load",
    "edge_runtime",
    "episode_key",
    "event_digest",
    "event_msg_id",
    "plan",
    "split_hot",
    "tile_loads",
    "unit_of",
]

#: the current owners stay while the busiest carries at most this share above the best cut's
REBALANCE_SLACK = 0.25
#: a hot tile is split no finer than this zoom (the far-filed own reports' cells,
#: ``runtime.tiles.FAR_CELL_ZOOM``: a finer unit would share its far cell with its siblings)
FINEST_UNIT_ZOOM = 17
#: a split tile merges back when its children's loads together stay below this share of the
#: split limit: the merged tile's own frames are then at most half of what splits it, so the
#: halo the merged tile adds (a border, read at the split limit too) must double its reads
#: before it splits again
MERGE_SHARE = 0.5
#: a split tile merges back only once split and cool this long (seconds): a load that wanders
#: across the limit within this moves no ownership
MERGE_HOLD_S = 30.0


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


def _bottleneck(weights: Sequence[float], k: int) -> float:
    """The least possible load of the busiest of ``k`` contiguous runs of ``weights``
    (bisection on the bound; greedy packing decides feasibility exactly)."""

    def runs_needed(bound: float) -> int:
        runs, acc = 1, 0.0
        for w in weights:
            if acc + w > bound and acc > 0.0:
                runs, acc = runs + 1, w
            else:
                acc += w
        return runs

    low, high = max(max(weights), sum(weights) / k), sum(weights)
    for _ in range(48):
        if high - low <= 1e-6 * max(high, 1e-9):
            break
        mid = (low + high) / 2
        if runs_needed(mid) <= k:
            high = mid
        else:
            low = mid
    return high


def cut_by_load(ordered: Sequence[str], weights: Mapping[str, float], k: int) -> list[list[str]]:
    """``ordered`` (tiles in Z-order) cut into ``min(k, len(ordered))`` non-empty contiguous
    runs (``weights``: tile → load >= 0): the busiest carries the least possible load
    (``_bottleneck``), and within that bound each run ends nearest to an even share of the
    load still to place (a cut is moved earlier only while the rest still fits the bound:
    ``need[i]``, the runs the tiles from ``i`` on need, packed greedily from the end)."""
    if k <= 0 or not ordered:
        return []
    w = [max(0.0, float(weights.get(t, 0.0))) for t in ordered]
    n, k = len(ordered), min(k, len(ordered))
    bound = _bottleneck(w, k) * (1 + 1e-9) if sum(w) > 0 else 0.0
    need = [0] * (n + 1)
    runs_from_end, acc = 0, 0.0
    for i in range(n - 1, -1, -1):
        if runs_from_end == 0 or (acc + w[i] > bound and acc > 0.0):
            runs_from_end, acc = runs_from_end + 1, 0.0
        acc += w[i]
        need[i] = runs_from_end
    runs: list[list[str]] = [[]]
    remaining, acc = sum(w), 0.0
    for i, tile in enumerate(ordered):
        if runs[-1]:
            left_runs = k - len(runs)  # runs still to open after the current one
            target = remaining / (left_runs + 1)
            forced = acc + w[i] > bound or n - i <= left_runs
            soft = acc + w[i] / 2 > target and need[i] <= left_runs
            if left_runs > 0 and (forced or soft):
                runs.append([])
                remaining -= acc
                acc = 0.0
        runs[-1].append(tile)
        acc += w[i]
    return runs


def _owned_load(weights: Mapping[str, float], owners: Mapping[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for tile, owner in owners.items():
        out[owner] = out.get(owner, 0.0) + weights.get(tile, 0.0)
    return out


def assign_by_load(
    tiles: Iterable[str],
    members: Iterable[str],
    loads: Mapping[str, float],
    current: Mapping[str, str] | None = None,
    *,
    slack: float = REBALANCE_SLACK,
) -> dict[str, str]:
    """Tile → member balancing the measured ``loads`` (tile → frames/s; see the module
    docstring): ``assign`` when no tile has a load yet; a tile without a measured load
    counts as the mean of those with one. ``current`` (tile → owner, ``""`` for none) is
    kept while it is balanced within ``slack``; otherwise the best contiguous cut, each run
    given to the member holding most of its load now (ties and the rest in sorted order)."""
    ordered = sorted(set(tiles))
    people = sorted(set(members))
    if not people or not ordered:
        return {}
    known = [float(loads[t]) for t in ordered if t in loads and loads[t] >= 0]
    if not known or sum(known) <= 0:
        return assign(ordered, people)
    mean = sum(known) / len(known)
    weights = {t: float(loads[t]) if t in loads and loads[t] >= 0 else mean for t in ordered}
    k = min(len(people), len(ordered))
    best = _bottleneck([weights[t] for t in ordered], k)
    now = dict(current or {})
    live = set(people)
    if all(now.get(t, "") in live for t in ordered):
        held = _owned_load(weights, {t: now[t] for t in ordered})
        everyone = len(held) == k  # every member holds a tile (or every tile is a member's)
        if everyone and max(held.values()) <= (1 + slack) * best:
            return {t: now[t] for t in ordered}
    runs = cut_by_load(ordered, weights, k)
    overlap = []
    for r, run in enumerate(runs):
        for member, load in _owned_load(weights, {t: now.get(t, "") for t in run}).items():
            if member in live:
                overlap.append((-load, r, member))
    given: dict[int, str] = {}
    taken: set[str] = set()
    for _, r, member in sorted(overlap):
        if r not in given and member not in taken:
            given[r] = member
            taken.add(member)
    rest = iter(m for m in people if m not in taken)
    out: dict[str, str] = {}
    for r, run in enumerate(runs):
        member = given.get(r) or next(rest)
        for tile in run:
            out[tile] = member
    return out


def tile_loads(own: Mapping[str, float]) -> dict[str, float]:
    """A worker's measured load per owned tile: the frames/s filed in it (``own``), each to
    two significant figures so that every worker computes the same assignment from slightly
    wandering measures.

    The halo a worker reads is not in it: that cost depends on who owns the neighbours, so a
    load that carried it changed with every re-cut and the cut chased it (measured: two
    workers handed a split tile's children back and forth, each move raising the other's
    share). A tile's own frames do not depend on the assignment; the contiguous Z-order runs
    keep the halo a thin border."""
    return {t: _two_figures(v) for t, v in own.items()}


def _two_figures(value: float) -> float:
    if value <= 0:
        return 0.0
    return float(f"{value:.2g}")


def split_hot(
    tiles: Iterable[str],
    load_of: Callable[[str], float],
    limit: float,
    *,
    finest: int = FINEST_UNIT_ZOOM,
) -> list[str]:
    """The ownership units (quadkeys, sorted): each tile, or, when its ``load_of`` exceeds
    ``limit``, its four children (those with any load; the first child always, it holds the
    tile's roadside frames, ``unit_of``) split again while hot, down to zoom ``finest``.
    A unit at ``finest`` stays whole however hot (it is reported: its load is the floor of
    the busiest worker)."""
    out: list[str] = []
    todo = sorted(set(tiles), reverse=True)
    while todo:
        unit = todo.pop()
        if len(unit) < finest and load_of(unit) > limit:
            kids = [unit + d for d in "0123"]
            todo.extend(sorted((k for k in kids if k == kids[0] or load_of(k) > 0), reverse=True))
        else:
            out.append(unit)
    return sorted(out)


def unit_of(place: str, units: Collection[str], *, zoom: int) -> str | None:
    """The unit (of ``units``, quadkeys of zoom >= ``zoom``, disjoint) a frame filed at
    ``place`` belongs to: the unit that is a prefix of it; a place coarser than the units
    split beneath it (a tile's roadside frames under a split tile) belongs to its first
    descendant unit (``place + "0..."``), the same rule on every worker; ``None`` if none."""
    for end in range(zoom, len(place) + 1):
        if place[:end] in units:
            return place[:end]
    for pad in range(1, FINEST_UNIT_ZOOM - len(place) + 1):
        if place + "0" * pad in units:
            return place + "0" * pad
    return None


def children_of(tile: str, units: Iterable[str]) -> list[str]:
    """The units (of ``units``) one zoom finer than ``tile`` inside it, sorted."""
    return sorted(u for u in units if len(u) == len(tile) + 1 and u.startswith(tile))


@dataclass
class MergeWatch:
    """Which split tiles may merge back (``due``), judged on the observer's own monotonic
    ``clock`` (the ``Liveness`` rule: clocks across machines need not agree): a split tile
    whose child units are all whole (none split again) and all have a measured load, the
    loads summing below ``limit``, continuously for ``hold_s``, and split (seen split by this
    observer) for ``hold_s`` at least. One observation above the limit, a child without a
    load, or a child split again starts the cool time again."""

    hold_s: float = MERGE_HOLD_S
    clock: Callable[[], float] = time.monotonic
    _split_seen: dict[str, float] = field(default_factory=dict)
    _cool_since: dict[str, float] = field(default_factory=dict)

    def due(
        self,
        split: Collection[str],
        units: Collection[str],
        loads: Mapping[str, float],
        limit: float,
    ) -> list[str]:
        """The tiles of ``split`` to merge now, sorted (``units``: the keys owned whole;
        ``loads``: unit -> frames/s as measured by its owner)."""
        now = self.clock()
        tiles = set(split)
        for gone in [t for t in self._split_seen if t not in tiles]:
            del self._split_seen[gone]
            self._cool_since.pop(gone, None)
        out = []
        for tile in sorted(tiles):
            seen = self._split_seen.setdefault(tile, now)
            kids = children_of(tile, units)
            nested = any(t != tile and t.startswith(tile) for t in tiles)
            known = bool(kids) and all(k in loads for k in kids)
            if nested or not known or sum(loads[k] for k in kids) >= limit:
                self._cool_since.pop(tile, None)
                continue
            cool = self._cool_since.setdefault(tile, now)
            if now - seen >= self.hold_s and now - cool >= self.hold_s:
                out.append(tile)
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


def edge_runtime(
    *,
    origin_lat_deg: float,
    origin_lon_deg: float,
    message_set: str,
    screen: MisbehaviourScreen | None = None,
) -> Runtime:
    """An edge worker's ``Runtime``: every registered app and event detector, its local frame
    at the origin, detected events with ids stable across processes (a takeover keeps them),
    the misbehaviour ``screen`` when given."""
    frame = LocalFrame(origin_lat_deg=origin_lat_deg, origin_lon_deg=origin_lon_deg)
    return Runtime(
        frame=frame,
        message_set=message_set_of(message_set),
        stable_event_ids=True,
        screen=screen,
    )


def event_msg_id(tenant: str, kind: str, key: str, now_ms: int, what: str = "evt") -> str:
    """The ``Nats-Msg-Id`` of a detected event's report (``what``: ``evt`` on the events
    stream, ``rsi:<reason>`` on the deliveries stream) in the second of ``now_ms``: the same
    from any worker that detects the condition ``key`` of ``kind`` in that second, so a
    worker still reporting a tile its successor has taken is stored once."""
    return f"{what}:{event_digest(tenant, kind, key)}:{now_ms // 1000}"


def event_digest(tenant: str, kind: str, key: str) -> str:
    """A detected event's identity across workers: (tenant, kind, condition key) hashed."""
    text = f"{tenant}\x1f{kind}\x1f{key}"
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
