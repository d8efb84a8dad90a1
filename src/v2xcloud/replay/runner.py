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

from v2xcloud.apps import V2I_APPS, default_apps
from v2xcloud.apps.events import DETECTORS
from v2xcloud.codec import MessageSet
from v2xcloud.errors import EncodeError
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory, RoadEvent, Rsi
from v2xcloud.replay.recording import Recording
from v2xcloud.replay.tracks import rsm_frames
from v2xcloud.runtime import Runtime, TickApp
from v2xcloud.runtime.dissemination import Delivery, Disseminator
from v2xcloud.runtime.rsi_out import encode_rsi, rsi_messages
from v2xcloud.twin.v2i import as_roadside

__all__ = ["PLATFORM_RSU_ID", "ReplaySummary", "run_replay", "v2i_apps"]

_SOURCE = "replay"
#: RSU id the platform's own RSI carries (the bytes of "v2xcloud")
PLATFORM_RSU_ID = b"v2xcloud".hex()


def v2i_apps() -> list[TickApp]:
    """The road-side (V2I) applications (``apps.V2I_APPS``) with default thresholds."""
    return [app_type() for app_type in V2I_APPS]


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
    def __init__(self, out: IO[str], ref: tuple[float, float] | None = None) -> None:
        self.out = out
        self.ref = ref
        self.encoder = msgspec.json.Encoder()

    def line(self, record: dict[str, Any]) -> None:
        self.out.write(self.encoder.encode(record).decode())
        self.out.write("\n")

    def delivery(self, d: Delivery) -> None:
        kind = "advisory" if isinstance(d.payload, Advisory) else "event"
        record = {
            "type": kind,
            "reason": d.reason,
            "at_ms": d.at_ms,
            "key": d.key,
            "participants": list(d.participants),
            "rsus": list(d.rsus),
            "payload": msgspec.to_builtins(d.payload),
        }
        if isinstance(d.payload, RoadEvent) and d.reason != "expired" and self.ref is not None:
            record.update(self._rsi(d.payload, d.at_ms))
        self.line(record)

    def _rsi(self, event: RoadEvent, now_ms: int) -> dict[str, Any]:
        """The event as the RSI the platform sends (UPER hex, csae2020, and CSAE JSON)."""
        assert self.ref is not None
        (rsi,) = rsi_messages(
            [event],
            rsu_id=PLATFORM_RSU_ID,
            ref_lat_deg=self.ref[0],
            ref_lon_deg=self.ref[1],
            now_ms=now_ms,
        )
        try:
            data, csae_json = encode_rsi(rsi, message_set=MessageSet.CSAE2020)
        except EncodeError as exc:
            return {"rsi_error": str(exc)}
        return {"rsi_uper_hex": data.hex(), "rsi_json": csae_json}


def run_replay(
    rec: Recording,
    out: IO[str],
    *,
    tick_ms: int = 100,
    speed: float = 0.0,
    apps: Sequence[TickApp] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplaySummary:
    """Replay ``rec`` into a fresh runtime and write the deliveries to ``out``."""
    started = time.perf_counter()
    writer = _Writer(out, (rec.georef.origin_lat_deg, rec.georef.origin_lon_deg))
    for issue in rec.issues:
        writer.line({"type": "issue", **msgspec.to_builtins(issue)})
    frame = LocalFrame(
        origin_lat_deg=rec.georef.origin_lat_deg, origin_lon_deg=rec.georef.origin_lon_deg
    )
    runtime = Runtime(
        frame=frame, apps=list(apps) if apps is not None else [*default_apps(), *v2i_apps()]
    )
    detectors = [d() for d in DETECTORS]
    dissem = Disseminator()
    counts: dict[str, Counter[str]] = {"advisories": Counter(), "events": Counter()}
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
        _tick(runtime, detectors, dissem, writer, counts, t)
    for d in dissem.expire(times[-1] + 10 * tick_ms if times else 0):
        writer.delivery(d)
    summary = ReplaySummary(
        tracks=rec.tracks.track_count,
        instants=len(times),
        duration_s=(times[-1] - times[0]) / 1000 if times else 0.0,
        advisories=dict(counts["advisories"]),
        events=dict(counts["events"]),
        deliveries=dict(dissem.stats),
        issues=len(rec.issues),
        wall_s=time.perf_counter() - started,
    )
    writer.line({"type": "summary", **msgspec.to_builtins(summary)})
    return summary


def _tick(
    runtime: Runtime,
    detectors: list[Any],
    dissem: Disseminator,
    writer: _Writer,
    counts: dict[str, Counter[str]],
    now_ms: int,
) -> None:
    advisories = runtime.tick(now_ms)
    assert runtime.view is not None
    view = as_roadside(runtime.view)
    events: list[RoadEvent] = [e for det in detectors for e in det.on_tick(runtime.view, now_ms)]
    for adv in advisories:
        counts["advisories"][adv.app] += 1
    new_events = [e for e in events if e.end_ms is None or e.end_ms > now_ms]
    for d in dissem.advisories(advisories, view, now_ms) + dissem.events(new_events, view, now_ms):
        if isinstance(d.payload, RoadEvent) and d.reason == "new":
            counts["events"][d.payload.kind or "event"] += 1
        writer.delivery(d)
    for d in dissem.expire(now_ms):
        writer.delivery(d)
    if new_events:  # the platform's own events go back into the scene as its RSI
        rsi = Rsi(
            msg_count=0,
            rsu_id="platform",
            ref_lat_deg=float(view.frame.origin_lat_deg),
            ref_lon_deg=float(view.frame.origin_lon_deg),
            timestamp_ms=now_ms,
            events=tuple(new_events),
        )
        runtime.ingest(rsi, received_at_ms=now_ms, source="platform")
