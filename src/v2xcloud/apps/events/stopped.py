"""Stopped vehicle / possible incident in a travel lane.

A motor vehicle standing still counts towards an incident only while nothing explains it. A
vehicle stopped in a queue is not a hazard; a lone stopped vehicle in a moving lane is. What
explains standing:

- **a queue ahead**: another standing vehicle ahead of it in its lane (or the next one, same
  direction) within ``queue_gap_m``. Most fleets are partly connected: the car right in front
  may send nothing, so the gap allows for two unseen standing cars between (a standing queue
  holds one car per ~7.5 m);
- **its light**: one of its lane's movements shows red or yellow, or its queue is still
  discharging after the green began (a standing queue starts moving from the stop line back
  at ``discharge_mps``, plus ``startup_s`` for the first car);
- **waiting to enter the junction**: within ``stop_line_m`` of its stop line, unless every
  movement of its lane has a protected green and no standing vehicle blocks the way across
  the junction (``exit_m`` ahead): at a junction without signals, or on a permissive green, a
  car at the line waits for a gap, and on any green it may wait for space beyond;
- **a queue waiting for gaps**: within ``gap_queue_m`` (~8 cars) of its stop line where its
  lane has no protected green (no signals, or a permissive green), while there is other
  traffic to wait for: a vehicle moving on another approach of the junction within
  ``gap_queue_m`` of its stop line in the last ``cycle_s``. The cars ahead of it wait for
  gaps in that traffic, and in a partly connected fleet they may all be unseen
  (background_district: a car 21 m back in a permissive left-turn queue of three
  unconnected cars became a stopped vehicle, HLW's 23 false warnings there). With no
  traffic at the junction there is no gap to wait for: a car standing alone 50 m before an
  empty crossing (fcw_stopped_at_junction) is a hazard;
- **off the mapped lanes** (parked, in a car park): with a map, only vehicles on a mapped
  approach lane (a travel lane) count.

None of these explains away what the vehicle reports of itself: a standing vehicle with its
hazard lights on or reporting a breakdown (disabled vehicle, flat tyre, air bag deployed) is
a stopped-vehicle event at once, confidence 1 (issue 15: avw_after_junction's broken-down car
was an AVW warning to the car behind, V2V, but no HLW hazard for the platform's RSI for 20 s).

Without any map the detector cannot tell a stop line; geometry alone explains standing by
the queue, and by **cross traffic ahead**: a vehicle ahead of it (within ``junction_m``)
moving across its heading (45°–135°) within the last ``cycle_s`` (a signal's whole cycle)
means it waits at a junction. A vehicle broken down just before a junction is therefore not
found without a map (issue 15: on the K733 recording without its MAP, every car waiting out a
red light at the stop line became a stopped-vehicle hazard, 84 HLW warnings in 0.27
vehicle-hours).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._v2i import OnApproach, is_vehicle, on_approaches
from v2xcloud.apps.events.book import DEFAULT_EVENT_TYPES, EventBook
from v2xcloud.bounded import LruTable
from v2xcloud.model import LightState, RoadEvent
from v2xcloud.model.thresholds import STANDSTILL_MPS, UNEXPLAINED_STOP_S
from v2xcloud.twin import SceneView
from v2xcloud.twin.flags import Flag
from v2xcloud.twin.junction import junctions_of

__all__ = ["StoppedVehicleDetector", "queued_behind"]

#: what a vehicle reports of itself that makes its standing a hazard at once, whatever else
#: might explain it: hazard lights, or a breakdown (disabled vehicle, flat tyre, air bag)
_SELF_REPORTED = int(Flag.HAZARD_LIGHTS) | int(Flag.DISABLED)


def queued_behind(
    view: SceneView,
    *,
    stopped: np.ndarray,
    gap_m: float = 12.0,
    cone_deg: float = 25.0,
    lateral_m: float | None = None,
    max_heading_diff_deg: float | None = None,
) -> np.ndarray:
    """Mask of stopped vehicles with another stopped vehicle within ``gap_m`` ahead (pairs
    from the view's spatial grid, so a large scene is no stopped × stopped matrix): within
    ``cone_deg`` of its heading, and, when given, at most ``lateral_m`` to its side and
    heading within ``max_heading_diff_deg`` of it (a standing car of the opposite direction
    explains nothing)."""
    idx = np.flatnonzero(stopped)
    out = np.zeros(len(view.ids), dtype=bool)
    if idx.size < 2:
        return out
    pairs = view.neighbours(idx, gap_m, focused=False)
    q, j = pairs.ego, pairs.other
    keep = stopped[j]
    q, j = q[keep], j[keep]
    dx, dy = view.x_m[j] - view.x_m[q], view.y_m[j] - view.y_m[q]
    dist = np.hypot(dx, dy)
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    off = np.abs((bearing - view.heading_deg[q] + 180.0) % 360.0 - 180.0)
    ahead = (off <= cone_deg) & (dist > 0.1) & (dist <= gap_m)
    if lateral_m is not None:
        h = np.radians(view.heading_deg[q])
        ahead &= np.abs(dx * np.cos(h) - dy * np.sin(h)) <= lateral_m
    if max_heading_diff_deg is not None:
        turn = np.abs((view.heading_deg[j] - view.heading_deg[q] + 180.0) % 360.0 - 180.0)
        ahead &= turn <= max_heading_diff_deg
    out[q[ahead]] = True
    return out


class StoppedVehicleDetector:
    """``stopped_vehicle`` events for vehicles standing unexplained ≥ ``min_stopped_s``
    (module docstring); without any map, ≥ ``min_stopped_no_map_s``: the stop lines, lights
    and gap queues that explain most standing cannot be ruled out there, only guessed from
    geometry (the real K733 recording without its MAP: 12 HLW warnings at a 10 s wait, 0 at
    20 s; with its MAP and SPAT, 0 at either)."""

    kind = "stopped_vehicle"

    def __init__(
        self,
        *,
        min_stopped_s: float = UNEXPLAINED_STOP_S,
        min_stopped_no_map_s: float = 20.0,
        standstill_mps: float = STANDSTILL_MPS,
        moving_mps: float = 2.0,
        queue_gap_m: float = 25.0,
        stop_line_m: float = 15.0,
        exit_m: float = 40.0,
        discharge_mps: float = 4.0,
        startup_s: float = 3.0,
        event_type: int | None = None,
        junction_m: float = 40.0,
        cycle_s: float = 180.0,
        gap_queue_m: float = 60.0,
    ) -> None:
        self.min_stopped_ms = int(min_stopped_s * 1000)
        self.min_stopped_no_map_ms = int(max(min_stopped_s, min_stopped_no_map_s) * 1000)
        self.junction_m = junction_m
        self.gap_queue_m = gap_queue_m
        self.cycle_ms = int(cycle_s * 1000)
        # vehicle id -> last time cross traffic passed ahead of it (no-map junction evidence)
        self._crossed_ms: LruTable[str, int] = LruTable(
            limit=20_000, name="stopped-vehicle detector cross traffic"
        )
        self.standstill_mps = standstill_mps
        self.moving_mps = moving_mps
        self.queue_gap_m = queue_gap_m
        self.stop_line_m = stop_line_m
        self.exit_m = exit_m
        self.discharge_mps = discharge_mps
        self.startup_s = startup_s
        self.book = EventBook(
            kind=self.kind, event_type=event_type or DEFAULT_EVENT_TYPES[self.kind]
        )
        self._unexplained_ms: dict[str, int] = {}
        # (node, ingress lane) -> last time one of its movements was not green (ms): bounded
        # by the map's lanes, and by this table's limit across MAP revisions
        self._red_ms: LruTable[tuple[int, int], int] = LruTable(
            limit=20_000, name="stopped-vehicle detector lane lights"
        )
        # (node, approach) -> last time a vehicle moved on it near the stop line (ms): the
        # traffic a queue waiting for gaps waits for; bounded like ``_red_ms``
        self._moving_ms: LruTable[tuple[int, int], int] = LruTable(
            limit=20_000, name="stopped-vehicle detector junction traffic"
        )
        self._last_ms: int | None = None

    def _approach_explains(
        self,
        view: SceneView,
        now_ms: int,
        stopped: npt.NDArray[np.bool_],
        exit_blocked: npt.NDArray[np.bool_],
    ) -> tuple[set[int], set[int]]:
        """Rows on a mapped approach lane, and those of them whose light or junction explains
        standing (module docstring)."""
        in_lane, explained = set(), set()
        approaches = list(on_approaches(view, range_m=1e9))
        speed = view.speed_mps
        for a in approaches:
            if speed[a.index] >= self.moving_mps and a.to_stop_m <= self.gap_queue_m:
                self._moving_ms[(a.junction.node.id.id, a.junction.approach[a.lane])] = now_ms
        for a in approaches:
            in_lane.add(a.index)
            if stopped[a.index] and self._light_explains(a, now_ms, bool(exit_blocked[a.index])):
                explained.add(a.index)
        return in_lane, explained

    def _other_traffic(self, a: OnApproach, now_ms: int) -> bool:
        """Whether a vehicle moved near the stop line of another approach of ``a``'s junction
        within the last ``cycle_ms`` (traffic a queue may be waiting for gaps in)."""
        node, own = a.junction.node.id.id, a.junction.approach[a.lane]
        for approach in range(len(a.junction.node.in_links)):
            if approach != own:
                seen = self._moving_ms.get((node, approach))
                if seen is not None and now_ms - seen <= self.cycle_ms:
                    return True
        return False

    def _light_explains(self, a: OnApproach, now_ms: int, exit_blocked: bool) -> bool:
        timings = [a.junction.phase(c.phase_id, now_ms) for c in a.junction.movements(a.lane)]
        key = (a.junction.node.id.id, a.lane)
        if any(t is not None and not t.light.is_green for t in timings):
            self._red_ms[key] = now_ms
            return True
        red_ms = self._red_ms.get(key)
        discharge_ms = 1000.0 * (self.startup_s + a.to_stop_m / self.discharge_mps)
        if red_ms is not None and now_ms - red_ms <= discharge_ms:
            return True  # the queue in front is still moving off
        protected = bool(timings) and all(
            t is not None and t.light is LightState.PROTECTED_GREEN for t in timings
        )
        if not protected and a.to_stop_m <= self.gap_queue_m and self._other_traffic(a, now_ms):
            return True  # a queue waiting for gaps: the cars ahead may send nothing
        if a.to_stop_m > self.stop_line_m:
            return False
        return not protected or exit_blocked

    def on_tick(self, view: SceneView, now_ms: int) -> list[RoadEvent]:
        """Update per-vehicle standstill clocks; return active and just-ended events."""
        dt = 0 if self._last_ms is None else now_ms - self._last_ms
        self._last_ms = now_ms
        vehicles = is_vehicle(view)
        stopped = vehicles & (view.speed_mps < self.standstill_mps)
        queued = queued_behind(
            view, stopped=stopped, gap_m=self.queue_gap_m, lateral_m=4.0, max_heading_diff_deg=45.0
        )
        exit_blocked = queued_behind(
            view, stopped=stopped, gap_m=self.exit_m, lateral_m=4.0, max_heading_diff_deg=45.0
        )
        in_lane, by_approach = self._approach_explains(view, now_ms, stopped, exit_blocked)
        has_map = any(len(j.lanes) for j in junctions_of(view).junctions)
        at_junction = np.zeros(len(view.ids), dtype=bool)
        if not has_map:
            at_junction = self._cross_traffic(view, stopped, vehicles, now_ms)
        need_ms = self.min_stopped_ms if has_map else self.min_stopped_no_map_ms
        reports = (view.flags & _SELF_REPORTED) != 0
        clocks = {}
        for i in np.flatnonzero(vehicles & (view.speed_mps < self.moving_mps)):
            pid = view.ids[i]
            off_road = has_map and int(i) not in in_lane
            unexplained = stopped[i] and not (
                queued[i] or off_road or int(i) in by_approach or at_junction[i]
            )
            clocks[pid] = self._unexplained_ms.get(pid, 0) + (dt if unexplained else 0)
            if reports[i] and stopped[i]:  # its own report says why it stands: at once
                self.book.seen_vehicle(
                    view,
                    int(i),
                    now_ms,
                    radius_m=10.0,
                    confidence=1.0,
                    description=f"vehicle {pid} stopped, reports hazard lights or a breakdown",
                    start_ms=now_ms - clocks[pid],
                )
            elif clocks[pid] >= need_ms and stopped[i]:
                conf = min(1.0, 0.5 + (clocks[pid] - need_ms) / 60_000)
                self.book.seen_vehicle(
                    view,
                    int(i),
                    now_ms,
                    radius_m=10.0,
                    confidence=conf,
                    description=f"vehicle {pid} stopped {clocks[pid] / 1000:.0f} s",
                    start_ms=now_ms - clocks[pid],
                )
        self._unexplained_ms = clocks  # vehicles that moved off or left start from zero
        return self.book.tick(now_ms)

    def _cross_traffic(
        self,
        view: SceneView,
        stopped: npt.NDArray[np.bool_],
        vehicles: npt.NDArray[np.bool_],
        now_ms: int,
    ) -> npt.NDArray[np.bool_]:
        """Mask of the stopped vehicles that saw a vehicle cross their way ahead within the
        last ``cycle_ms`` (module docstring: waiting at a junction, no map needed)."""
        out = np.zeros(len(view.ids), dtype=bool)
        idx = np.flatnonzero(stopped)
        if idx.size == 0:
            return out
        pairs = view.neighbours(idx, self.junction_m, focused=False)
        crossing = (
            (pairs.along_m > 0.0)
            & (np.abs(pairs.heading_cos) <= np.cos(np.radians(45.0)))
            & (view.speed_mps[pairs.other] >= self.moving_mps)
            & vehicles[pairs.other]
        )
        for i in np.unique(pairs.ego[crossing]).tolist():
            self._crossed_ms[view.ids[i]] = now_ms
        for i in idx.tolist():
            seen = self._crossed_ms.get(view.ids[i])
            out[i] = seen is not None and now_ms - seen <= self.cycle_ms
        return out

    def handover(self, ids: Collection[str]) -> dict[str, int]:
        """The standstill clocks (unexplained ms) of the vehicles ``ids``: what the process
        taking over their place needs so a standing vehicle's event goes on there."""
        return {pid: ms for pid, ms in self._unexplained_ms.items() if pid in ids}

    def adopt(self, clocks: Mapping[str, int], at_ms: int) -> int:
        """Take over clocks handed at ``at_ms`` (the predecessor's round they were true at):
        each is set to what it was at this detector's last round, so that the next round's
        step makes it what it is then: grown by the time from ``at_ms`` to the last round,
        or shrunk by it when the last round came before ``at_ms`` (clamping that to nothing
        would count the stretch twice and move the event's start earlier). A vehicle that
        moved off meanwhile is dropped at the next round; the longer of two clocks of one
        vehicle wins."""
        if self._last_ms is None:  # no round yet: the first one steps from the handover
            self._last_ms = at_ms
        gone = self._last_ms - at_ms
        for pid, ms in clocks.items():
            self._unexplained_ms[pid] = max(self._unexplained_ms.get(pid, 0), ms + gone, 0)
        return len(clocks)
