"""Ground-truth hazard episodes: SUMO's SSM conflicts and collisions, and the harness's own.

An episode says: road user ``ego`` (SUMO id) should have been warned by application family
``app`` about ``other`` between ``start_s`` and ``end_s``. ``critical_s`` is when the hazard
culminates (a collision, or where the pair would have collided at its most critical moment);
``ttc`` samples let the scorer read the true time-to-collision at the first warning.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.parsers import expat

import msgspec

from v2xcloud.errors import SimulationError

__all__ = [
    "SSM_FAMILIES",
    "Episode",
    "EpisodeTracker",
    "TurnsLeft",
    "read_collisions",
    "ssm_episodes",
]

_FOLLOWING = {1, 2, 18}  # ego follows foe (SUMO SSM encounter types)
_MERGING = {5, 7, 8}
_CROSSING = {9, 10, 11, 12, 13, 14}
SSM_TTC_S = 3.0  # SUMO's conflict threshold: the episode's extent
# An app must warn when the true minimum TTC falls to this (STANDARDS.md warning thresholds);
# conflicts that stay between this and SSM_TTC_S are a grey zone: a warning there is not a
# false alarm, a missing one is not a miss.
REQUIRED_TTC_S = {"FCW": 2.7, "ICW": 2.0, "LTA": 2.0, "BSW/LCW": 2.0}
#: The apps SUMO's SSM conflicts are filed under: only their ``min_ttc_s`` is a time to
#: collision. The harness's and the V2I truth's episodes carry each app's own "time to
#: reach" (EVW: the emergency vehicle to a crossing point or a car ahead in any lane; DNPW,
#: TJW: centre distance over closing speed), which is no measure of danger.
SSM_FAMILIES = frozenset(REQUIRED_TTC_S)
# Crossings that never had a TTC (one vehicle cleared the conflict area before the other came)
# count by post-encroachment time: a near miss below REQUIRED_PET_S must be warned, one below
# SSM_PET_S (SUMO's default threshold) is grey zone. The warning window opens PET_WINDOW_S
# before the second vehicle enters the conflict area.
SSM_PET_S = 2.0
BURST_GAP_S = 1.0  # TTC back above the threshold this long ends an episode
#: SUMO's (and STANDARDS.md's) conflict DRAC: a follower needing more deceleration than this
#: to avoid its leader is in conflict whatever it does
SSM_DRAC_MPS2 = 3.0
#: a follower slower than this throughout its conflict creeps up a queue: the FCW grey zone
#: (every collision warning's lower speed: the apps' ``WARN_MIN_SPEED_MPS``, the harness's
#: VRUCW, EBW and lane-change truths)
CRAWL_MPS = 2.0
REQUIRED_PET_S = 0.5
PET_WINDOW_S = 3.0
#: SUMO's FOLLOWING_PASSED: the leader has left the follower's route (onto another lane of a
#: junction) and SSM measures no TTC any more, though it may still stand in the way
_FOLLOWING_PASSED = 18
#: a leader whose front is this close to the follower's heading line still overlaps its body
#: (two ~1.8 m wide cars side by side are ~1.8 m apart centre to centre; SSM's positions are
#: the front bumpers' centres, so a leader turning away is measured at its swung front)
_PASSED_OVERLAP_M = 1.8
#: SSM does not give the leader's length: a car's (SUMO's passenger default)
_PASSED_LEADER_LENGTH_M = 5.0


class Episode(msgspec.Struct, frozen=True, kw_only=True):
    """One ground-truth hazard for one road user. Times in simulation seconds."""

    app: str
    ego: str
    other: str | None
    start_s: float
    end_s: float
    critical_s: float | None = None
    min_ttc_s: float | None = None
    is_collision: bool = False
    is_required: bool = True  # False: grey zone, counted neither as miss nor as false alarm
    is_observable: bool = True  # False: the ego cannot be told or the other is never seen
    ttc_times_s: tuple[float, ...] = ()
    ttc_values_s: tuple[float, ...] = ()

    def ttc_at(self, time_s: float) -> float | None:
        """The true TTC at ``time_s`` (from the nearest sample; extrapolated before onset)."""
        if not self.ttc_times_s:
            return None
        if time_s < self.ttc_times_s[0]:
            return self.ttc_values_s[0] + (self.ttc_times_s[0] - time_s)
        k = min(range(len(self.ttc_times_s)), key=lambda i: abs(self.ttc_times_s[i] - time_s))
        return self.ttc_values_s[k]


class EpisodeTracker:
    """Merges per-step "this pair is in danger" observations into episodes (gaps ≤ ``gap_s``)."""

    def __init__(self, *, gap_s: float = 0.5, min_duration_s: float = 0.2) -> None:
        self._gap_s = gap_s
        self._min_s = min_duration_s
        self._open: dict[tuple[str, str, str | None], list[float]] = {}
        self._ttc: dict[tuple[str, str, str | None], list[tuple[float, float]]] = {}
        self._critical: dict[tuple[str, str, str | None], float] = {}
        self.episodes: list[Episode] = []
        #: episodes shorter than ``min_duration_s``: no episode of this tracker's kind, kept for
        #: a caller that counts a momentary danger as a grey zone (``V2iTruth``)
        self.short: list[Episode] = []

    def observe(
        self,
        app: str,
        ego: str,
        other: str | None,
        time_s: float,
        *,
        ttc_s: float | None = None,
        critical_s: float | None = None,
    ) -> None:
        """Record that ``ego`` is in an ``app`` hazard with ``other`` at ``time_s``."""
        key = (app, ego, other)
        span = self._open.get(key)
        if span is not None and time_s - span[1] > self._gap_s:
            self._close(key)
            span = None
        if span is None:
            self._open[key] = [float(time_s), float(time_s)]
            self._ttc[key] = []
        else:
            span[1] = float(time_s)
        if ttc_s is not None and math.isfinite(ttc_s):
            self._ttc[key].append((float(time_s), float(ttc_s)))  # plain floats: serialisable
        if critical_s is not None and key not in self._critical:
            self._critical[key] = float(critical_s)

    def _close(self, key: tuple[str, str, str | None]) -> None:
        start, end = self._open.pop(key)
        samples = self._ttc.pop(key, [])
        critical = self._critical.pop(key, None)
        ttc = min((v for _, v in samples), default=None)
        (self.episodes if end - start >= self._min_s else self.short).append(Episode(
            app=key[0], ego=key[1], other=key[2], start_s=start, end_s=end,
            critical_s=critical, min_ttc_s=ttc,
            ttc_times_s=tuple(t for t, _ in samples), ttc_values_s=tuple(v for _, v in samples),
        ))  # fmt: skip

    def finish(self) -> list[Episode]:
        """Close every open episode and return all of them."""
        for key in list(self._open):
            self._close(key)
        return self.episodes


def _texts(conflict: ET.Element, tag: str) -> list[str]:
    elem = conflict.find(tag)
    return elem.get("values", "").split() if elem is not None else []


def _floats(conflict: ET.Element, tag: str) -> list[float]:
    return [float(v) if v != "NA" else math.inf for v in _texts(conflict, tag)]


def _family(types: list[int], velocities: list[str]) -> str | None:
    kinds = set(types)
    if kinds & _FOLLOWING and not kinds & _CROSSING:
        return "FCW"
    if kinds & _CROSSING:
        (ex, ey), (fx, fy) = (tuple(map(float, v.split(","))) for v in velocities[:2])
        cos = (ex * fx + ey * fy) / max(1e-6, math.hypot(ex, ey) * math.hypot(fx, fy))
        return "LTA" if cos < -0.5 else "ICW"
    if kinds & _MERGING:
        return "BSW/LCW"
    return None


def read_collisions(path: Path) -> dict[frozenset[str], float]:
    """SUMO's collision output (``--collision-output``): the pair of road users -> the time (s)
    of their first collision.

    A file without ``<collision>`` elements means no collisions. A file that is missing,
    truncated or corrupt, not a ``<collisions>`` document, or has a collision without its
    ``time``/``collider``/``victim`` or with a time that is not finite seconds raises
    ``SimulationError`` naming the file and the line: "no collisions" must never be the
    reading of a file that could not be read.
    """
    out: dict[frozenset[str], float] = {}
    parser = expat.ParserCreate()
    seen_root: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        at = f"collision output {path}, line {parser.CurrentLineNumber}"
        if not seen_root:
            seen_root.append(tag)
            if tag != "collisions":
                raise SimulationError(f"{at}: root <{tag}>, expected SUMO's <collisions>")
            return
        if tag != "collision":
            return
        missing = [name for name in ("time", "collider", "victim") if not attrs.get(name)]
        if missing:
            raise SimulationError(f"{at}: <collision> without {', '.join(missing)}")
        try:
            time_s = float(attrs["time"])
        except ValueError:
            time_s = math.nan
        if not math.isfinite(time_s):
            raise SimulationError(f"{at}: <collision time={attrs['time']!r}> is not seconds")
        out.setdefault(frozenset((attrs["collider"], attrs["victim"])), time_s)

    handler: Any = start
    parser.StartElementHandler = handler
    try:
        with path.open("rb") as handle:
            parser.ParseFile(handle)
    except OSError as exc:
        raise SimulationError(f"collision output {path} unreadable: {exc.strerror}") from exc
    except expat.ExpatError as exc:  # truncated (SUMO killed mid-write) or not XML at all
        raise SimulationError(
            f"collision output {path}, line {exc.lineno}, column {exc.offset}: corrupt "
            f"({expat.ErrorString(exc.code)})"
        ) from exc
    return out


#: whether a vehicle's movement through the junction it is at or approaching at a time (s)
#: turns left (or U-turns); ``None`` when its route there is not known
TurnsLeft = Callable[[str, float], bool | None]


def ssm_episodes(
    path: Path, collisions: dict[frozenset[str], float], *, turns_left: TurnsLeft | None = None
) -> list[Episode]:
    """Vehicle–vehicle episodes from SUMO's SSM output (``collisions``: pair -> time).

    LTA must warn the turner only: the ego whose movement through the conflict's junction
    turns left or U-turns (``turns_left``, from the vehicles' routes:
    ``HarnessTruth.turns_left``); where that is not known (or without it), the ego whose
    velocity turns by more than 45° over the SSM encounter (``_turns``).

    Raises ``SimulationError`` if the file is missing or not SSM XML.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise SimulationError(f"SSM output {path} unreadable: {exc}") from exc
    out = []
    for c in root.iter("conflict"):
        out += _conflict_episodes(c, collisions, turns_left)
    return out


def _is_turner(
    family: str, ego: str, time_s: float, ego_v: list[str], turns_left: TurnsLeft | None
) -> bool:
    """Whether ``ego`` may be required to be warned in an episode of ``family``: every ego
    but in LTA, where only the left (or U-) turner is (``ssm_episodes``). The velocity test
    spans the whole SSM encounter, which can last tens of seconds: a car going straight on
    that turned at the next junction read as the turner, and a turner waiting in the box (at
    a standstill when the encounter ended) as not (demo_district, seed 0: 2 of 3 missed LTA
    episodes were through cars)."""
    if family != "LTA":
        return True
    known = turns_left(ego, time_s) if turns_left is not None else None
    return _turns(ego_v) if known is None else known


def _turns(velocities: list[str]) -> bool:
    """Whether the velocity samples of a conflict change direction by more than 45 degrees."""
    if len(velocities) < 2:
        return False
    (ax, ay), (bx, by) = (tuple(map(float, v.split(","))) for v in (velocities[0], velocities[-1]))
    norm = math.hypot(ax, ay) * math.hypot(bx, by)
    return norm > 0 and (ax * bx + ay * by) / norm < math.cos(math.radians(45.0))


def _conflict_episodes(
    c: ET.Element, collisions: dict[frozenset[str], float], turns_left: TurnsLeft | None = None
) -> list[Episode]:
    """One episode per burst of TTC ≤ SSM_TTC_S (a long SSM encounter, e.g. a queue, can hold
    several dangerous moments); a crossing without any TTC counts by its PET."""
    times, ttc = _floats(c, "timeSpan"), _floats(c, "TTCSpan")
    types = [int(float(t)) for t in _texts(c, "typeSpan")]
    danger = [i for i in range(len(times)) if i < len(ttc) and ttc[i] <= SSM_TTC_S]
    passed = _passed_episodes(c, times, types, danger)
    if not danger:
        pet = _pet_episode(c, types, turns_left)
        return ([pet] if pet is not None else []) + passed
    found = (
        _conflict_episode(c, collisions, times, ttc, types, burst, turns_left)
        for burst in _bursts(times, danger)
    )
    return [e for e in found if e is not None] + passed


def _bursts(times: list[float], rows: list[int]) -> list[list[int]]:
    """``rows`` (sample indices, ascending) split where ``BURST_GAP_S`` passes between two."""
    bursts: list[list[int]] = [[rows[0]]] if rows else []
    for i in rows[1:]:
        if times[i] - times[bursts[-1][-1]] > BURST_GAP_S:
            bursts.append([])
        bursts[-1].append(i)
    return bursts


def _passed_episodes(
    c: ET.Element, times: list[float], types: list[int], danger: list[int]
) -> list[Episode]:
    """Grey FCW episodes where SSM went blind: samples typed FOLLOWING_PASSED (the leader has
    turned onto another lane of the junction; SSM measures no TTC) while the leader's front
    is still ahead within ``_PASSED_OVERLAP_M`` of the follower's heading line and the
    follower closes on it with a TTC ≤ ``SSM_TTC_S`` (gap: the fronts' distance along the
    heading less a car's length). Grey, not must: the positions and the assumed length are
    only SSM's, and whether the leader clears the follower's path in time is not known;
    bursts overlapping the conflict's SSM bursts are left to those (docs/scoring.md)."""
    ego_p, foe_p = _texts(c, "egoPosition"), _texts(c, "foePosition")
    ego_v, foe_v = _texts(c, "egoVelocity"), _texts(c, "foeVelocity")
    n = min(len(times), len(types), len(ego_p), len(foe_p), len(ego_v), len(foe_v))
    close: list[tuple[int, float]] = []
    for i in range(n):
        if types[i] != _FOLLOWING_PASSED:
            continue
        (ex, ey), (fx, fy) = (tuple(map(float, p.split(","))) for p in (ego_p[i], foe_p[i]))
        (evx, evy), (fvx, fvy) = (tuple(map(float, v.split(","))) for v in (ego_v[i], foe_v[i]))
        speed = math.hypot(evx, evy)
        if speed < CRAWL_MPS:
            continue  # creeping up behind it: the FCW grey zone already
        ux, uy = evx / speed, evy / speed
        along = (fx - ex) * ux + (fy - ey) * uy
        across = abs((fx - ex) * uy - (fy - ey) * ux)
        closing = speed - (fvx * ux + fvy * uy)
        gap = along - _PASSED_LEADER_LENGTH_M
        if along > 0 and across <= _PASSED_OVERLAP_M and closing > 0 and gap / closing <= SSM_TTC_S:
            close.append((i, max(gap, 0.0) / closing))
    if not close:
        return []
    ttc_of = dict(close)
    spans = [
        (times[b[0]] - BURST_GAP_S, times[b[-1]] + BURST_GAP_S) for b in _bursts(times, danger)
    ]
    out = []
    for burst in _bursts(times, [i for i, _ in close]):
        start, end = times[burst[0]], times[burst[-1]]
        if any(lo <= end and start <= hi for lo, hi in spans):
            continue
        out.append(Episode(
            app="FCW", ego=c.get("ego", ""), other=c.get("foe", ""), start_s=start, end_s=end,
            min_ttc_s=min(ttc_of[i] for i in burst), is_required=False,
            ttc_times_s=tuple(times[i] for i in burst),
            ttc_values_s=tuple(ttc_of[i] for i in burst),
        ))  # fmt: skip
    return out


def _conflict_episode(
    c: ET.Element,
    collisions: dict[frozenset[str], float],
    times: list[float],
    ttc: list[float],
    types: list[int],
    danger: list[int],
    turns_left: TurnsLeft | None = None,
) -> Episode | None:
    ego_v, foe_v = _texts(c, "egoVelocity"), _texts(c, "foeVelocity")
    first = danger[0]
    vel = [
        ego_v[first] if first < len(ego_v) else "0,0",
        foe_v[first] if first < len(foe_v) else "0,0",
    ]
    family = _family([types[i] for i in danger if i < len(types)], vel)
    if family is None:
        return None
    ego, foe = c.get("ego", ""), c.get("foe", "")
    is_turner = _is_turner(family, ego, times[first], ego_v, turns_left)
    hit = collisions.get(frozenset((ego, foe)))
    if hit is not None and not times[first] - 1.0 <= hit <= times[danger[-1]] + 5.0:
        hit = None  # the pair collided at another time: not this conflict's outcome
    samples = [(times[i], ttc[i]) for i in danger if i < len(ttc) and math.isfinite(ttc[i])]
    critical = times[danger[-1]]
    min_ttc = None
    if samples:
        at_s, min_ttc = min(samples, key=lambda s: s[1])
        critical = at_s + min_ttc  # when the pair would have collided at its worst moment
    is_close = min_ttc is not None and min_ttc <= REQUIRED_TTC_S[family]
    if is_close and hit is None and family == "FCW":
        is_close = not (
            _braking_enough(c, times, ttc, ego_v, danger) or _crawling(ttc, ego_v, danger)
        )
    return Episode(
        app=family, ego=ego, other=foe, start_s=times[first], end_s=times[danger[-1]],
        critical_s=hit if hit is not None else critical, min_ttc_s=min_ttc,
        is_collision=hit is not None,
        is_required=is_turner and (hit is not None or is_close),
        ttc_times_s=tuple(t for t, _ in samples), ttc_values_s=tuple(v for _, v in samples),
    )  # fmt: skip


def _crawling(ttc: list[float], ego_v: list[str], danger: list[int]) -> bool:
    """Whether the follower crawled below ``CRAWL_MPS`` at every sample with TTC ≤
    ``REQUIRED_TTC_S["FCW"]`` (docs/scoring.md: creeping up a queue behind a standing car, at
    walking pace the driver is in control). Without velocity samples: not known, so not."""
    close = [i for i in danger if i < len(ttc) and ttc[i] <= REQUIRED_TTC_S["FCW"]]
    if not close or any(i >= len(ego_v) for i in close):
        return False
    return all(math.hypot(*map(float, ego_v[i].split(","))) < CRAWL_MPS for i in close)


def _braking_enough(
    c: ET.Element, times: list[float], ttc: list[float], ego_v: list[str], danger: list[int]
) -> bool:
    """Whether the follower was already braking as hard as the conflict required at every
    sample with TTC ≤ ``REQUIRED_TTC_S["FCW"]``: its deceleration (from its velocity samples)
    at least SSM's DRAC there, and that DRAC within ``SSM_DRAC_MPS2`` (docs/scoring.md: a
    controlled stop behind a queue is a grey zone, a warning adds nothing to it). Without DRAC
    or velocity samples: not known, so not."""
    drac = _floats(c, "DRACSpan")
    speed = [math.hypot(*map(float, v.split(","))) for v in ego_v]
    close = [i for i in danger if i < len(ttc) and ttc[i] <= REQUIRED_TTC_S["FCW"]]
    if not close:
        return False
    for i in close:
        lo, hi = max(i - 1, 0), min(i + 1, len(speed) - 1, len(times) - 1)
        if i >= len(drac) or not math.isfinite(drac[i]) or hi <= lo or times[hi] <= times[lo]:
            return False
        decel = (speed[lo] - speed[hi]) / (times[hi] - times[lo])
        if drac[i] > SSM_DRAC_MPS2 or decel < drac[i]:
            return False
    return True


def _pet_episode(
    c: ET.Element, types: list[int], turns_left: TurnsLeft | None = None
) -> Episode | None:
    pet = c.find("PET")
    if pet is None or pet.get("value", "NA") == "NA" or not set(types) & _CROSSING:
        return None
    value, at_s = float(pet.get("value", "inf")), float(pet.get("time", "0"))
    if value > SSM_PET_S:
        return None
    ego_v, foe_v = _texts(c, "egoVelocity"), _texts(c, "foeVelocity")
    family = _family(types, [(ego_v or ["0,0"])[0], (foe_v or ["0,0"])[0]])
    if family is None:
        return None
    # when the first of the two was at the conflict point: both at (or before) the junction
    is_turner = _is_turner(family, c.get("ego", ""), at_s - value, ego_v, turns_left)
    return Episode(
        app=family, ego=c.get("ego", ""), other=c.get("foe", ""), start_s=at_s - PET_WINDOW_S,
        end_s=at_s, critical_s=at_s, is_required=is_turner and value <= REQUIRED_PET_S,
    )  # fmt: skip
