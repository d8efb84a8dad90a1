"""Recorded tracks (INTERACTION-style CSV) → RSM-like perceived objects.

Columns are found by header name, so extra or reordered columns do no harm. Required:
``track_id``, ``timestamp_ms``, ``x``, ``y`` (metres east/north of the recording origin).
Optional: ``agent_type``, ``vx``, ``vy`` (m/s), ``psi_rad`` (yaw, counter-clockwise from east),
``length``, ``width`` (m). A malformed row is reported as a ``RowIssue`` and skipped.

The velocities must move the road users as their positions do: ``Tracks.velocity_scale``
measures, over moving one-second spans, how far the positions went against how far the
recorded speeds say; a recording whose ratio is off by more than ``VELOCITY_TOLERANCE`` has
velocities in another scale than its positions (the TAF-BW K733 recording's move 1.76x
their speeds, whose lane widths, body sizes and signal timing all say the positions and
clocks are true), and ``load_recording`` rescales them (``Recording.corrections``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from v2xcloud.errors import ReplayError
from v2xcloud.geo import ScaledSphericalMercator
from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState, Rsm
from v2xcloud.replay._csv import RowIssue, read_rows

__all__ = [
    "MIN_VELOCITY_SPANS",
    "MOVING_MPS",
    "VELOCITY_SPAN_MS",
    "VELOCITY_TOLERANCE",
    "Tracks",
    "kind_of_agent",
    "read_tracks",
    "rsm_frames",
]

_REQUIRED = ("track_id", "timestamp_ms", "x", "y")
_OPTIONAL_FLOATS = ("vx", "vy", "psi_rad", "length", "width")
_MAX_ABS_XY_M = 50_000.0
#: positions and recorded speeds compared over this span (a roadside track's position jitter,
#: tenths of a metre, is small against a second's travel)
VELOCITY_SPAN_MS = 1000
MOVING_MPS = 2.0  # spans slower than this (mean recorded speed) say nothing of a scale
MIN_VELOCITY_SPANS = 20  # fewer moving spans: no verdict
#: the positions' travel over the recorded speeds' may differ from 1 by this much (a
#: roadside tracker's speed lags its positions a little in acceleration) before the
#: velocities count as another scale
VELOCITY_TOLERANCE = 0.2
_AGENT_KINDS = {
    "car": ParticipantKind.VEHICLE,
    "truck": ParticipantKind.VEHICLE,
    "bus": ParticipantKind.VEHICLE,
    "van": ParticipantKind.VEHICLE,
    "motorcycle": ParticipantKind.VEHICLE,
    "vehicle": ParticipantKind.VEHICLE,
    "bike": ParticipantKind.CYCLIST,
    "bicycle": ParticipantKind.CYCLIST,
    "cyclist": ParticipantKind.CYCLIST,
    "pedestrian": ParticipantKind.PEDESTRIAN,
    "pedestrian/bicycle": ParticipantKind.CYCLIST,
}


def kind_of_agent(agent_type: str) -> ParticipantKind:
    """Participant kind of an ``agent_type`` label; unknown labels become ``UNKNOWN``."""
    return _AGENT_KINDS.get(agent_type.strip().lower(), ParticipantKind.UNKNOWN)


class Tracks:
    """All samples of a recording as column arrays, sorted by time then track."""

    def __init__(self, columns: dict[str, npt.NDArray[np.generic]]) -> None:
        order = np.lexsort((columns["track_id"], columns["timestamp_ms"]))
        self.track_id: npt.NDArray[np.str_] = columns["track_id"][order].astype(np.str_)
        self.timestamp_ms: npt.NDArray[np.int64] = columns["timestamp_ms"][order].astype(np.int64)
        self.agent_type: npt.NDArray[np.str_] = columns["agent_type"][order].astype(np.str_)
        f = {k: columns[k][order].astype(np.float64) for k in ("x", "y", *_OPTIONAL_FLOATS)}
        self.x_m, self.y_m = f["x"], f["y"]
        self.vx_mps, self.vy_mps = f["vx"], f["vy"]
        self.psi_rad, self.length_m, self.width_m = f["psi_rad"], f["length"], f["width"]
        self._fill_missing_velocity()

    def __len__(self) -> int:
        return int(self.timestamp_ms.size)

    @property
    def track_count(self) -> int:
        """Number of distinct tracks."""
        return int(np.unique(self.track_id).size)

    def frames(self) -> Iterator[tuple[int, npt.NDArray[np.intp]]]:
        """``(timestamp_ms, sample indices)`` for each recorded instant, in time order."""
        times, starts = np.unique(self.timestamp_ms, return_index=True)
        ends = np.append(starts[1:], self.timestamp_ms.size)
        for t, a, b in zip(times, starts, ends, strict=True):
            yield int(t), np.arange(a, b)

    def velocity_scale(self) -> tuple[float, int] | None:
        """How far the positions move against how far the recorded speeds say: the median,
        over every span of ``VELOCITY_SPAN_MS`` within one track whose mean recorded speed
        is at least ``MOVING_MPS``, of the straight distance moved over the distance the
        mean speed covers; with the number of spans. ``None`` with fewer than
        ``MIN_VELOCITY_SPANS`` spans (too little motion to judge)."""
        speed = np.hypot(self.vx_mps, self.vy_mps)
        ratios: list[npt.NDArray[np.float64]] = []
        order = np.lexsort((self.timestamp_ms, self.track_id))
        tids = self.track_id[order]
        bounds = np.flatnonzero(tids[1:] != tids[:-1]) + 1
        for idx in np.split(order, bounds):
            t = self.timestamp_ms[idx]
            j = np.searchsorted(t, t + VELOCITY_SPAN_MS)
            ok = j < t.size
            a, b = idx[ok], idx[j[ok]]
            exact = self.timestamp_ms[b] - self.timestamp_ms[a] == VELOCITY_SPAN_MS
            a, b = a[exact], b[exact]
            mean = (speed[a] + speed[b]) / 2.0
            moving = mean >= MOVING_MPS
            a, b, mean = a[moving], b[moving], mean[moving]
            moved = np.hypot(self.x_m[b] - self.x_m[a], self.y_m[b] - self.y_m[a])
            ratios.append(moved / (mean * VELOCITY_SPAN_MS / 1000.0))
        found = np.concatenate(ratios) if ratios else np.empty(0)
        if found.size < MIN_VELOCITY_SPANS:
            return None
        return float(np.median(found)), int(found.size)

    def rescale_velocity(self, factor: float) -> None:
        """Multiply every recorded velocity by ``factor``."""
        self.vx_mps *= factor
        self.vy_mps *= factor

    def _fill_missing_velocity(self) -> None:
        """Finite-difference velocities where the recording gives none."""
        missing = np.isnan(self.vx_mps) | np.isnan(self.vy_mps)
        if not missing.any():
            return
        for tid in np.unique(self.track_id[missing]):
            idx = np.flatnonzero(self.track_id == tid)
            if idx.size < 2:
                continue
            t_s = self.timestamp_ms[idx] / 1000.0
            vx, vy = np.gradient(self.x_m[idx], t_s), np.gradient(self.y_m[idx], t_s)
            sel = missing[idx]
            self.vx_mps[idx[sel]], self.vy_mps[idx[sel]] = vx[sel], vy[sel]


def _parse_row(cells: list[str], col: dict[str, int]) -> tuple[object, ...] | str:
    """The row's values in ``_REQUIRED`` + agent + optional order, or the reason it is bad."""
    if len(cells) < len(col):
        return f"{len(cells)} cells, header has {len(col)}"
    try:
        t = int(float(cells[col["timestamp_ms"]]))
        x, y = float(cells[col["x"]]), float(cells[col["y"]])
        opt = [
            float(cells[col[k]]) if k in col and cells[col[k]] != "" else math.nan
            for k in _OPTIONAL_FLOATS
        ]
    except ValueError as exc:
        return f"not a number ({exc})"
    if t < 0 or not (abs(x) <= _MAX_ABS_XY_M and abs(y) <= _MAX_ABS_XY_M):
        return f"implausible timestamp/position t={t} x={x} y={y}"
    if any(math.isinf(v) for v in opt):
        return "infinite value"
    track = cells[col["track_id"]].strip()
    if not track:
        return "empty track_id"
    agent = cells[col["agent_type"]].strip() if "agent_type" in col else "unknown"
    return (track, t, x, y, agent, *opt)


def read_tracks(path: Path) -> tuple[Tracks, list[RowIssue]]:
    """Read an INTERACTION-style tracks CSV; returns the tracks and the skipped rows.

    Raises ``ReplayError`` if the file is missing or lacks a required column, or if no row
    is usable. Duplicate ``(track_id, timestamp_ms)`` samples keep the first one.
    """
    header, rows = read_rows(path, required=_REQUIRED)
    col = {name: i for i, name in enumerate(header)}
    issues: list[RowIssue] = []
    good: list[tuple[object, ...]] = []
    seen: set[tuple[str, int]] = set()
    for line, cells in rows:
        parsed = _parse_row(cells, col)
        if isinstance(parsed, str):
            issues.append(RowIssue(file=path.name, line=line, reason=parsed))
            continue
        key = (str(parsed[0]), int(parsed[1]))  # type: ignore[call-overload]
        if key in seen:
            issues.append(RowIssue(file=path.name, line=line, reason="duplicate sample"))
            continue
        seen.add(key)
        good.append(parsed)
    if not good:
        raise ReplayError(f"{path}: no usable track rows ({len(issues)} malformed)")
    names = ("track_id", "timestamp_ms", "x", "y", "agent_type", *_OPTIONAL_FLOATS)
    cols = {n: np.array([r[i] for r in good]) for i, n in enumerate(names)}
    return Tracks(cols), issues


def _heading_deg(vx: float, vy: float, psi_rad: float) -> float | None:
    """Compass heading (clockwise from north) from velocity, or yaw when nearly standing."""
    if math.hypot(vx, vy) >= 0.5:
        return (90.0 - math.degrees(math.atan2(vy, vx))) % 360.0
    if math.isnan(psi_rad):
        return None
    return (90.0 - math.degrees(psi_rad)) % 360.0


def rsm_frames(
    tracks: Tracks, frame: ScaledSphericalMercator, *, base_ms: int = 0, rsu_id: str = "replay"
) -> Iterator[Rsm]:
    """One ``Rsm`` per recorded instant: every track seen then, as a perceived object.

    Object ids are ``"<rsu_id>/<track_id>"``; timestamps are ``base_ms`` + the recorded ms.
    """
    lat, lon = frame.to_wgs84(tracks.x_m, tracks.y_m)
    speed = np.hypot(tracks.vx_mps, tracks.vy_mps)
    for count, (t_ms, idx) in enumerate(tracks.frames()):
        objects = tuple(
            _participant(tracks, i, lat, lon, speed, base_ms + t_ms, rsu_id) for i in idx
        )
        yield Rsm(
            msg_count=count % 128,
            rsu_id=rsu_id,
            ref_lat_deg=frame.origin_lat_deg,
            ref_lon_deg=frame.origin_lon_deg,
            participants=objects,
        )


def _opt(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _participant(
    tr: Tracks,
    i: int,
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    speed: npt.NDArray[np.float64],
    t_ms: int,
    rsu_id: str,
) -> ParticipantState:
    return ParticipantState(
        id=f"{rsu_id}/{tr.track_id[i]}",
        kind=kind_of_agent(str(tr.agent_type[i])),
        source=ParticipantSource.RSM,
        timestamp_ms=t_ms,
        lat_deg=float(lat[i]),
        lon_deg=float(lon[i]),
        speed_mps=_opt(speed[i]),
        heading_deg=_heading_deg(tr.vx_mps[i], tr.vy_mps[i], tr.psi_rad[i]),
        length_m=_opt(tr.length_m[i]),
        width_m=_opt(tr.width_m[i]),
        sender_id=rsu_id,
        detection_source="video",
    )
