"""The live scene: every road user, fused from self-reports and roadside perception.

``Scene`` is mutable and owned by the runtime: messages go in with ``ingest`` as they arrive
(cheap: a clock correction and an append); ``update(now_ms)`` applies everything queued in a
few vectorised steps, expires stale participants and returns the tick's ``SceneView``.

Fusion: an RSM object whose ``reported_id`` is a BSM sender's id is that participant. While
the participant's self-report is fresh, the perception only updates a cross-check position
(``Flag.PERCEIVED``); when self-reports stop, the perception carries the participant on.
RSM objects without a reported id are fused by gating (``fuse_gate_m``, see ``_fusion``): the
nearest fresh self-reporter with a matching position, speed and heading takes the object's id
as an alias. Objects that match nobody stay separate participants.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from v2xcloud.errors import SceneError
from v2xcloud.geo import LaneMap, LocalFrame
from v2xcloud.model import (
    Bsm,
    MapData,
    MapNode,
    ParticipantSource,
    ParticipantState,
    Rsi,
    Rsm,
    Spat,
)
from v2xcloud.model.thresholds import STANDSTILL_MPS
from v2xcloud.twin._apply import Pending, apply_pending
from v2xcloud.twin._columns import FLOAT_COLUMNS, INT_COLUMNS, Columns
from v2xcloud.twin._fusion import fuse_unlabelled
from v2xcloud.twin.clocks import SourceClocks
from v2xcloud.twin.places import Places
from v2xcloud.twin.view import SceneView

FloatArray = npt.NDArray[np.float64]

__all__ = ["DEFAULT_LENGTH_M", "DEFAULT_WIDTH_M", "Scene", "SceneMessage", "SceneStats"]

SceneMessage = Bsm | Rsm | ParticipantState | MapData | Spat | Rsi

_F_X, _F_Y, _F_Z, _F_SPEED, _F_HEADING, _F_ACCEL, _F_YAW, _F_LENGTH, _F_WIDTH = (
    FLOAT_COLUMNS.index(name)
    for name in (
        "x_m",
        "y_m",
        "z_m",
        "speed_mps",
        "heading_deg",
        "accel_mps2",
        "yaw_rate_dps",
        "length_m",
        "width_m",
    )
)
_F_PPOS, _F_PVV, _F_PAA, _F_PHH, _F_PWW = (
    FLOAT_COLUMNS.index(name) for name in ("p_pos", "p_vv", "p_aa", "p_hh", "p_ww")
)
#: the standard deviation a view shows for a quantity never estimated (no heading yet, ...)
_UNKNOWN_SD = {_F_PVV: 10.0, _F_PAA: 10.0, _F_PHH: 180.0, _F_PWW: 90.0}
#: integer columns the view shows as they are (storage name → view name)
_VIEW_INTS = tuple(
    (view_name, INT_COLUMNS.index(name))
    for name, view_name in (
        ("uid", "uid"),
        ("kind", "kind"),
        ("source", "source"),
        ("flags", "flags"),
        ("t_ms", "timestamp_ms"),
        ("received_ms", "received_ms"),
        ("stopped_since_ms", "stopped_since_ms"),
    )
)

#: size assumed when a report leaves it out, indexed by ``Kind`` (unknown, vehicle, cyclist,
#: pedestrian, RSU)
DEFAULT_LENGTH_M = np.array([4.5, 4.5, 1.8, 0.5, 0.0])
DEFAULT_WIDTH_M = np.array([1.8, 1.8, 0.6, 0.5, 0.0])


def _zero_nan(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """NaN → 0 (``np.nan_to_num`` costs ~10x more on small arrays)."""
    return np.where(np.isnan(values), 0.0, values)


def _extrapolate(
    speed: FloatArray, accel: FloatArray, dt_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(distance moved m, speed m/s) after ``dt_s`` at the tracker's constant acceleration,
    as its own model predicts: a braking vehicle stops (and stays stopped), it does not
    reverse. Constant velocity instead kept a car a roadside sensor lost while braking at
    its last speed for the second it stays in the scene (demo_district: 3.5 m/s² braking,
    11.9 m/s held while it slowed to 8.7; RLVW judged it unable to stop)."""
    stops = (accel < 0.0) & (speed + accel * dt_s < 0.0)
    t = np.where(stops, speed / np.where(stops, -accel, 1.0), dt_s)
    return speed * t + 0.5 * accel * t * t, np.where(stops, 0.0, speed + accel * dt_s)


def _uncertainty(
    c: dict[str, npt.NDArray[np.generic]], floats: FloatArray, dt_s: FloatArray
) -> None:
    """The tracker's 1σ standard deviations (√ of its covariance's diagonal) into the view's
    ``*_sd_*`` columns; the position's and speed's grown over the extrapolation ``dt_s``."""
    sd = {}
    for k, unknown in _UNKNOWN_SD.items():
        var = floats[k]
        sd[k] = np.sqrt(np.where(var == var, np.maximum(var, 0.0), unknown * unknown))
    p_pos = floats[_F_PPOS]
    p_pos = np.where(p_pos == p_pos, p_pos, 100.0)
    speed_sd = np.sqrt(sd[_F_PVV] ** 2 + (sd[_F_PAA] * dt_s) ** 2)
    c["speed_sd_mps"] = speed_sd
    c["position_sd_m"] = np.sqrt(p_pos + (speed_sd * dt_s) ** 2)
    c["accel_sd_mps2"] = sd[_F_PAA]
    c["heading_sd_deg"] = sd[_F_PHH]
    c["yaw_rate_sd_dps"] = sd[_F_PWW]


class SceneStats:
    """Running counters of the scene (all since creation)."""

    def __init__(self) -> None:
        self.reports = 0  # participant reports queued
        self.applied = 0  # reports that became a participant's state
        self.late = 0  # reports older than the state already held (flagged, not applied)
        self.cross_checked = 0  # perception reports of a participant with a fresh self-report
        self.expired = 0  # participants dropped for staleness
        self.fused = 0  # roadside objects without a BSM id fused into a self-reporter by gating

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return dict(vars(self))


class Scene:
    """Participants, intersections and road events of one deployment (one ``LocalFrame``).

    ``stale_after_ms``: a participant without a report for this long is dropped.
    ``max_extrapolate_ms``: states are extrapolated to the tick at most this far.
    ``level_gap_m``: elevation difference above which two participants are on different
    levels (a bridge over a road). ``stopped_speed_mps``: at or below this a participant is
    stopped. ``clock_window_ms``: window of the per-source clock offset estimate.
    ``fuse_gate_m`` (0 disables), ``fuse_speed_gate_mps``, ``fuse_heading_gate_deg``: gates for
    fusing RSM objects without a BSM id with self-reporters.

    ``focus_refresh_ms`` turns on incremental ticks (``None``, the default: every pair every
    tick): each view then focuses the applications on the pairs that touch a participant
    with a new report since the previous view, or one not in focus for ``focus_refresh_ms``
    (a silent participant is still looked at, extrapolated). Every pair is then evaluated
    at least every ``focus_refresh_ms`` plus one tick, so a short safety tick (20–25 ms) costs
    little more than a 100 ms one and a new report is acted on within that tick; configure
    the applications' ``tick_ms``/``lookahead_s`` to that evaluation period, not the tick.

    >>> from v2xcloud.geo import LocalFrame
    >>> scene = Scene(LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9))
    >>> len(scene.update(now_ms=0))
    0
    """

    def __init__(
        self,
        frame: LocalFrame,
        *,
        stale_after_ms: int = 1000,
        max_extrapolate_ms: int = 1000,
        level_gap_m: float = 4.0,
        stopped_speed_mps: float = STANDSTILL_MPS,
        clock_window_ms: int = 30_000,
        fuse_gate_m: float = 3.0,
        fuse_speed_gate_mps: float = 2.0,
        fuse_heading_gate_deg: float = 30.0,
        focus_refresh_ms: int | None = None,
    ) -> None:
        self.frame = frame
        self.stale_after_ms = stale_after_ms
        self.max_extrapolate_ms = max_extrapolate_ms
        self.level_gap_m = level_gap_m
        self.stopped_speed_mps = stopped_speed_mps
        self.clocks = SourceClocks(window_ms=clock_window_ms)
        self.places = Places()
        self.lane_map: LaneMap | None = None
        self._lane_nodes: list[tuple[MapNode, ...]] = []  # what ``lane_map`` was built from
        self._maps_touched = False  # a MAP arrived since the lane map was last checked
        self.stats = SceneStats()
        self._cols = Columns()
        self._row_of: dict[str, int] = {}
        self._ids: list[str] = []
        self._states: list[ParticipantState | None] = []
        # queued reports as parallel lists: no per-report tuple for the garbage collector
        self._pending = Pending()
        self._perception_seen = False  # any roadside perception queued yet
        self._last_view: SceneView | None = None
        self._unmatched: tuple[npt.NDArray[np.int64], FloatArray, FloatArray, FloatArray] | None = (
            None
        )
        self._view_cache: tuple[int, npt.NDArray[np.int64], list[str], dict[str, int]] | None = None
        self._next_uid = 0
        self._aliases: dict[int, list[str]] = {}  # row -> ids of roadside objects fused into it
        self._alias_ms: dict[str, int] = {}  # fused object id -> its latest report (ms)
        self.fuse_gate_m = fuse_gate_m
        self.fuse_speed_gate_mps = fuse_speed_gate_mps
        self.fuse_heading_gate_deg = fuse_heading_gate_deg
        self.focus_refresh_ms = focus_refresh_ms
        self._written: list[npt.NDArray[np.int64]] = []  # rows with a report since the last view

    def __len__(self) -> int:
        return len(self._row_of)

    def evicted(self) -> dict[str, int]:
        """Entries of the scene's size-limited tables dropped for their limit, per table
        (participants are not among them: they expire after ``stale_after_ms``)."""
        return {"clock_sources": self.clocks.evicted, **self.places.evicted()}

    def ingest(self, message: SceneMessage, *, received_at_ms: int, source: str) -> int:
        """Queue one decoded message; returns how many participant reports it carried.

        ``source`` names the sender's clock domain (an RSU, an OBU, or a gateway whose senders
        share GNSS time); RSM clocks are tracked per ``source`` and RSU id. Raises
        ``SceneError`` (reason ``unsupported_message``) for a message type the scene does not
        hold. The scene trusts its input: positions, speeds and headings were judged once,
        before ingestion, by the codec's validity stage (``codec.check_model``).
        """
        if isinstance(message, Bsm):
            return self._queue_self(message.participant, received_at_ms, source)
        if isinstance(message, ParticipantState):
            return self._queue_self(message, received_at_ms, source)
        if isinstance(message, Rsm):
            return self._queue_rsm(message, received_at_ms, source)
        if isinstance(message, MapData):
            self._add_map(message)
        elif isinstance(message, Spat):
            self.places.add_spat(message, received_at_ms)
        elif isinstance(message, Rsi):
            self.places.add_rsi(message, received_at_ms)
        else:
            raise SceneError(
                f"scene cannot hold a {type(message).__name__} from {source!r}; "
                "pass Bsm, Rsm, ParticipantState, MapData, Spat or Rsi"
            )
        return 0

    def _queue_self(self, state: ParticipantState, received_at_ms: int, source: str) -> int:
        t = self.clocks.to_platform(
            source, frame_ms=state.timestamp_ms, received_at_ms=received_at_ms
        )
        pending = self._pending
        pending.states.append(state)
        pending.t_ms.append(t)
        pending.received_ms.append(received_at_ms)
        perceived = state.source is ParticipantSource.RSM
        pending.perceived.append(perceived)
        self._perception_seen |= perceived
        self.stats.reports += 1
        return 1

    def _queue_rsm(self, rsm: Rsm, received_at_ms: int, source: str) -> int:
        good = rsm.participants
        if not good:
            return 0
        frame_ms = max(p.timestamp_ms for p in good)
        t_frame = self.clocks.to_platform(
            f"{source}/{rsm.rsu_id}", frame_ms=frame_ms, received_at_ms=received_at_ms
        )
        shift = t_frame - frame_ms
        self._perception_seen = True
        add = self._pending.add
        for p in good:
            add(p, p.timestamp_ms + shift, received_at_ms, True)
        self.stats.reports += len(good)
        return len(good)

    def _add_map(self, map_data: MapData) -> None:
        lat = [n.lat_deg for n in map_data.nodes]
        lon = [n.lon_deg for n in map_data.nodes]
        x, y = self.frame.to_local(lat, lon)
        positions = {n.id: (float(x[k]), float(y[k])) for k, n in enumerate(map_data.nodes)}
        self.places.add_map(map_data, positions)
        self._maps_touched = True

    def _refresh_lanes(self) -> None:
        """Rebuild the lane map once per tick, and only if the MAPs' nodes changed.

        RSUs repeat their MAP every second or so; the repeats carry the same nodes, so the
        lane map (whose cost grows with every lane of the deployment) is kept. It is built
        from the held MAPs in the same order as before, so lane indices are the ones a
        rebuild would give.
        """
        self._maps_touched = False
        maps = list({id(m): m for m in self.places.maps.values()}.values())
        nodes = [m.nodes for m in maps]
        if nodes != self._lane_nodes or self.lane_map is None:
            self.lane_map = LaneMap(maps, self.frame)
            self._lane_nodes = nodes

    def row_for(self, participant_id: str) -> int:
        """The storage row of an id, allocating one for a new participant."""
        row = self._row_of.get(participant_id)
        if row is None:
            row = self._cols.allocate()
            self._cols.uid[row] = self._next_uid
            self._next_uid = (self._next_uid + 1) % (1 << 31)
            self._row_of[participant_id] = row
            while len(self._ids) <= row:
                self._ids.append("")
                self._states.append(None)
            self._ids[row] = participant_id
        return row

    def update(self, now_ms: int) -> SceneView:
        """Apply queued reports, drop stale participants and return the view at ``now_ms``."""
        pending, self._pending = self._pending, Pending()
        if pending.states:
            apply_pending(self, pending)
            if self.fuse_gate_m > 0 and any(pending.perceived):
                self.stats.fused += fuse_unlabelled(
                    self,
                    gate_m=self.fuse_gate_m,
                    speed_gate_mps=self.fuse_speed_gate_mps,
                    heading_gate_deg=self.fuse_heading_gate_deg,
                )
        if self._maps_touched:
            self._refresh_lanes()
        self._expire(now_ms)
        self.places.expire(now_ms)
        if self._last_view is not None:
            self._last_view.release()  # its pair tables are freed now, not by the cyclic GC
        view = self._last_view = self._view(now_ms)
        return view

    def _expire(self, now_ms: int) -> None:
        cols = self._cols
        used = cols.used
        stale = cols.alive[:used] & (cols.t_ms[:used] < now_ms - self.stale_after_ms)
        for row in stale.nonzero()[0].tolist():
            del self._row_of[self._ids[row]]
            for alias in self._aliases.pop(row, ()):
                self._row_of.pop(alias, None)
                self._alias_ms.pop(alias, None)
            self._states[row] = None
            cols.release(row)
            self.stats.expired += 1

    def _rows(self) -> tuple[npt.NDArray[np.int64], list[str], dict[str, int]]:
        """Live rows, their ids and id → view row; rebuilt only when rows come or go."""
        cols = self._cols
        cached = self._view_cache
        if cached is None or cached[0] != cols.layout:
            rows = cols.alive[: cols.used].nonzero()[0]
            ids = [self._ids[r] for r in rows.tolist()]
            cached = (cols.layout, rows, ids, {pid: k for k, pid in enumerate(ids)})
            self._view_cache = cached
        return cached[1], cached[2], cached[3]

    def _focus(self, rows: npt.NDArray[np.int64], now_ms: int) -> npt.NDArray[np.bool_] | None:
        """Per view row: updated since the last view, or out of focus for too long."""
        if self.focus_refresh_ms is None:
            return None
        cols = self._cols
        due = now_ms - cols.focus_ms[: cols.used] >= self.focus_refresh_ms  # new rows: -1
        for written in self._written:
            due[written] = True
        self._written = []
        cols.focus_ms[: cols.used][due] = now_ms
        return due[rows]

    def _view(self, now_ms: int) -> SceneView:
        cols = self._cols
        rows, ids, row_of = self._rows()
        focus = self._focus(rows, now_ms)
        n = rows.size
        if n == cols.used:  # every row live: one slice copy per block
            floats, ints = cols.floats[:, :n].copy(), cols.ints[:, :n].copy()
        else:
            floats, ints = cols.floats[:, rows], cols.ints[:, rows]
        c: dict[str, npt.NDArray[np.generic]] = {
            name: ints[k]
            for name, k in _VIEW_INTS  # rows of the private copy: no more copies
        }
        t_ms, kind = c["timestamp_ms"], c["kind"]
        length, width = floats[_F_LENGTH], floats[_F_WIDTH]
        if np.isnan(length.sum() + width.sum()):  # some size not reported: a default by kind
            length = np.where(length != length, DEFAULT_LENGTH_M[kind], length)
            width = np.where(width != width, DEFAULT_WIDTH_M[kind], width)
        c["length_m"], c["width_m"], c["z_m"] = length, width, floats[_F_Z]
        c["accel_mps2"] = accel = _zero_nan(floats[_F_ACCEL])
        c["yaw_rate_dps"] = _zero_nan(floats[_F_YAW])
        heading = floats[_F_HEADING]
        no_heading = heading != heading
        speed = np.where(no_heading, 0.0, _zero_nan(floats[_F_SPEED]))  # no direction: still
        heading[no_heading] = 0.0
        rad = np.radians(heading)
        sin_h, cos_h = np.sin(rad), np.cos(rad)
        c["sin_heading"], c["cos_heading"] = sin_h, cos_h
        dt_s = np.minimum(np.maximum(now_ms - t_ms, 0), self.max_extrapolate_ms) * 0.001
        moved_m, speed = _extrapolate(speed, accel, dt_s)
        c["speed_mps"], c["heading_deg"] = speed, heading
        c["vx_mps"], c["vy_mps"] = speed * sin_h, speed * cos_h
        c["x_m"] = floats[_F_X] + moved_m * sin_h
        c["y_m"] = floats[_F_Y] + moved_m * cos_h
        _uncertainty(c, floats, dt_s)
        self._match_lanes(c)
        held = self._states
        return SceneView(
            now_ms=now_ms,
            ids=ids,
            columns=c,
            frame=self.frame,
            lanes=self.lane_map,
            states=held[:n] if n == cols.used else [held[r] for r in rows.tolist()],  # type: ignore[arg-type]
            intersections=self.places.intersections,
            events=tuple(self.places.events.values()),
            signs=tuple(self.places.signs.values()),
            level_gap_m=self.level_gap_m,
            row_of=row_of,
            focus=focus,
        )

    def _match_lanes(self, c: dict[str, npt.NDArray[np.generic]]) -> None:
        n = c["x_m"].size
        if self.lane_map is None:  # no MAP: the same read-only "unmatched" columns every tick
            cached = self._unmatched
            if cached is None or cached[0].size != n:
                nan = np.full(n, np.nan)
                cached = (np.full(n, -1, dtype=np.int64), nan, nan, nan)
                self._unmatched = cached
            c["lane"], c["lane_offset_m"], c["to_stop_m"], c["lane_heading_deg"] = cached
            return
        match = self.lane_map.match(c["x_m"], c["y_m"], c["heading_deg"])  # type: ignore[arg-type]
        c["lane"], c["lane_offset_m"], c["to_stop_m"] = match.lane, match.lateral_m, match.to_stop_m
        c["lane_heading_deg"] = match.lane_heading_deg
