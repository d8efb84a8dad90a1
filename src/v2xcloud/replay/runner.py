"""Run a recording through the platform and write what it decides as JSON lines.

Every recorded instant becomes an RSM (the roadside tracks as perceived objects) and, with
signals, a SPAT; the MAP is sent first. The runtime ticks every ``tick_ms`` on the recording's
clock and runs the V2V apps, the V2I apps and the event detectors; dissemination decides what
is sent to whom, and each delivery is one JSON line:

``{"type": "advisory" | "event", "reason": "new" | "update" | "refresh" | "expired",
"at_ms": ..., "participants": [...], "rsus": [...], "payload": {...}}``; a live event also
carries the RSI the platform sends for it (``rsi_uper_hex``, csae2020, and ``rsi_json``).

plus ``{"type": "issue", ...}`` for each skipped input row and a final ``{"type": "summary"}``.
``speed`` paces the replay (1.0 = real time, 0 = as fast as possible).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import IO, Any

import msgspec

from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory, RoadEvent
from v2xcloud.replay.recording import Recording
from v2xcloud.replay.tracks import rsm_frames
from v2xcloud.runtime import Runtime, TickApp
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.runtime.identity import PLATFORM_RSU_ID

__all__ = ["PLATFORM_RSU_ID", "ReplaySummary", "run_replay"]

_SOURCE = "replay"


class ReplaySummary(msgspec.Struct, kw_only=True):
    """What a replay did: input sizes, outputs per app/kind/reason, skipped rows, timing."""

    tracks: int
    instants: int
    duration_s: float
    advisories: dict[str, int]
    events: dict[str, int]
    deliveries: dict[str, int]
    issues: int
    wall_s: float


class _Writer:
    """The replay's delivery sink: one JSON line per delivery, counts per app and event kind."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.encoder = msgspec.json.Encoder()
        self.counts: dict[str, Counter[str]] = {"advisories": Counter(), "events": Counter()}

    def line(self, record: dict[str, Any]) -> None:
        self.out.write(self.encoder.encode(record).decode())
        self.out.write("\n")

    def emit(self, advisories: Sequence[Advisory], *, now_ms: int) -> None:
        for adv in advisories:
            self.counts["advisories"][adv.app] += 1

    def deliver(self, deliveries: Sequence[Delivery], *, now_ms: int) -> None:
        for d in deliveries:
            self.delivery(d)

    def delivery(self, d: Delivery) -> None:
        kind = "advisory" if isinstance(d.payload, Advisory) else "event"
        if isinstance(d.payload, RoadEvent) and d.reason == "new":
            self.counts["events"][d.payload.kind or "event"] += 1
        record = {
            "type": kind,
            "reason": d.reason,
            "at_ms": d.at_ms,
            "key": d.key,
            "participants": list(d.participants),
            "rsus": list(d.rsus),
            "payload": msgspec.to_builtins(d.payload),
        }
        if d.rsi_uper is not None:
            record["rsi_uper_hex"] = d.rsi_uper.hex()
            record["rsi_json"] = d.rsi_json
        elif d.rsi_error is not None:
            record["rsi_error"] = d.rsi_error
        self.line(record)


def run_replay(
    rec: Recording,
    out: IO[str],
    *,
    tick_ms: int = 100,
    speed: float = 0.0,
    apps: Sequence[TickApp] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplaySummary:
    """Replay ``rec`` into a fresh runtime and write the deliveries to ``out``.

    The runtime is the normal one (``Runtime`` with ``apps.default_apps()``, the event
    detectors and dissemination); ``apps`` replaces the applications.
    """
    started = time.perf_counter()
    writer = _Writer(out)
    for issue in rec.issues:
        writer.line({"type": "issue", **msgspec.to_builtins(issue)})
    frame = LocalFrame(
        origin_lat_deg=rec.georef.origin_lat_deg, origin_lon_deg=rec.georef.origin_lon_deg
    )
    runtime = Runtime(frame=frame, apps=apps, sinks=[writer], delivery_sinks=[writer])
    frames = {
        rsm.participants[0].timestamp_ms: rsm
        for rsm in rsm_frames(rec.tracks, rec.georef, base_ms=rec.base_ms, rsu_id=_SOURCE)
    }
    if rec.map is not None:
        runtime.ingest(rec.map, received_at_ms=rec.base_ms, source=_SOURCE)
    times = sorted(frames)
    next_tick = times[0] if times else 0
    for t in times:
        if rec.signals is not None:
            spat = rec.signals.spat_at(t - rec.base_ms, node=rec.node, base_ms=rec.base_ms)
            runtime.ingest(spat, received_at_ms=t, source=_SOURCE)
        runtime.ingest(frames[t], received_at_ms=t, source=_SOURCE)
        if t < next_tick:
            continue
        next_tick = t + tick_ms
        if speed > 0:
            lag = (t - times[0]) / 1000 / speed - (time.perf_counter() - started)
            if lag > 0:
                sleep(lag)
        runtime.tick(t)
    runtime.finish(times[-1] + 10 * tick_ms if times else 0)
    summary = ReplaySummary(
        tracks=rec.tracks.track_count,
        instants=len(times),
        duration_s=(times[-1] - times[0]) / 1000 if times else 0.0,
        advisories=dict(writer.counts["advisories"]),
        events=dict(writer.counts["events"]),
        deliveries=dict(runtime.delivery.stats),
        issues=len(rec.issues),
        wall_s=time.perf_counter() - started,
    )
    writer.line({"type": "summary", **msgspec.to_builtins(summary)})
    return summary
