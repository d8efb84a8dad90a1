"""Draw a replayed intersection: lanes, stop lines, tracks and where advisories were issued."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from v2xcloud.model import MapData
from v2xcloud.replay.recording import Recording
from v2xcloud.replay.tracks import kind_of_agent

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_replay"]

_TRACK_COLOURS = {"vehicle": "#1f77b4", "cyclist": "#2ca02c", "pedestrian": "#ff7f0e"}
_APP_MARKERS = {
    "RLVW": ("X", "red"),
    "GLOSA": (".", "limegreen"),
    "ICW": ("^", "darkorange"),
    "VRUCW": ("v", "purple"),
    "FCW": ("s", "brown"),
    "LTA": ("<", "magenta"),
    "TJW": ("d", "black"),
    "HLW": ("*", "crimson"),
}


def _draw_map(ax: Axes, map_data: MapData, rec: Recording) -> None:
    for link in map_data.nodes[0].in_links:
        for lane in link.lanes:
            lat = np.array([p[0] for p in lane.points])
            lon = np.array([p[1] for p in lane.points])
            x, y = rec.georef.to_local(lat, lon)
            if lane.lane_type == "crosswalk":
                ax.plot(x, y, ":", color="0.5", lw=0.8)
            elif not lane.connections:
                ax.plot(x, y, "-", color="0.82", lw=2.5, zorder=0)
            else:
                ax.plot(x, y, "-", color="0.65", lw=2.5, zorder=0)
                d = np.array([x[-1] - x[-2], y[-1] - y[-2]])
                n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9) * 1.7
                ax.plot(
                    [x[-1] - n[0], x[-1] + n[0]],
                    [y[-1] - n[1], y[-1] + n[1]],
                    "-",
                    color="k",
                    lw=2.2,
                )


def plot_replay(rec: Recording, jsonl: Path, png: Path, *, half_size_m: float = 90.0) -> None:
    """Write a PNG of the recording's map, tracks and the first position of each advisory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 7.5))
    if rec.map is not None:
        _draw_map(ax, rec.map, rec)
    tr = rec.tracks
    for tid in np.unique(tr.track_id):
        idx = np.flatnonzero(tr.track_id == tid)
        colour = _TRACK_COLOURS.get(str(kind_of_agent(str(tr.agent_type[idx[0]]))), "0.3")
        ax.plot(tr.x_m[idx], tr.y_m[idx], "-", color=colour, lw=0.6, alpha=0.55)
    seen: dict[str, list[tuple[float, float]]] = {}
    with jsonl.open(encoding="utf-8") as fh:
        for line in fh:
            rec_line = json.loads(line)
            if rec_line.get("type") != "advisory" or rec_line.get("reason") != "new":
                continue
            p = rec_line["payload"]
            if p["app"] in _APP_MARKERS and p.get("lat_deg") is not None:
                x, y = rec.georef.to_local(p["lat_deg"], p["lon_deg"])
                seen.setdefault(p["app"], []).append((float(x), float(y)))
    for app, points in sorted(seen.items()):
        marker, colour = _APP_MARKERS[app]
        xs, ys = zip(*points, strict=True)
        ax.scatter(xs, ys, marker=marker, c=colour, s=40, label=f"{app} ({len(points)})", zorder=5)
    for kind, colour in _TRACK_COLOURS.items():
        ax.plot([], [], "-", color=colour, label=f"{kind} tracks")
    ax.plot([], [], "-", color="k", lw=2.2, label="stop lines")
    cx, cy = float(np.median(tr.x_m)), float(np.median(tr.y_m))
    ax.set_xlim(cx - half_size_m, cx + half_size_m)
    ax.set_ylim(cy - half_size_m, cy + half_size_m)
    ax.set_aspect("equal")
    ax.set_xlabel("x east (m)")
    ax.set_ylabel("y north (m)")
    ax.legend(loc="upper left", fontsize=7, framealpha=0.85)
    ax.set_title(
        f"{tr.track_count} tracks, {len(np.unique(tr.timestamp_ms))} instants; "
        "advisories where first issued",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
