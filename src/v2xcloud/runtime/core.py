"""The runtime: frames and messages in, scene updated, applications and event detectors run,
advisories out, advisories and road events disseminated.

Each ``tick``: the scene applies what arrived; the applications (``apps.default_apps()``: V2V
and V2I) issue advisories, sent to the advisory sinks; the event detectors run every
``detect_every_ms`` and, with the events received in RSI, form the live road events
(``active_events()``; detected ones are fed back into the scene so HLW/TJW warn about them);
dissemination decides who must hear each advisory and event (``runtime.delivery``) and sends
the deliveries, events with their encoded RSI, to the delivery sinks.

The advisories a tick issues are in ``active_advisories()`` before any sink hears of them, so
a sink that reads the runtime (the API's ``RuntimeLive``) sees the same tick in its snapshot
as in the batch it is given.

Failures are isolated and visible: an application, an event detector, an advisory sink or a
delivery sink that raises is counted per boundary (``app:<code>``, ``detector:<kind>``,
``sink:<name>``, ``delivery_sink:<name>``) in ``failures``, logged once with its traceback,
and the tick carries on; ``stats()["errors"]`` has the counts (with the codec's fast-path
fallbacks, ``codec:fast_decode:<alternative>``) and ``stats()["last_errors"]`` the latest
exception of each. ``clock`` is the platform's time for whoever drives the runtime (the serve
loop ticks at ``clock.now_ms()``, gateways stamp arrivals with it); ``tick(now_ms)`` itself
takes the time it is given, so replays and tests run on their own time.

>>> from v2xcloud.runtime import Runtime
>>> from v2xcloud.twin.testing import TEST_FRAME, bsm_at
>>> runtime = Runtime(frame=TEST_FRAME)
>>> runtime.ingest(bsm_at("a", x_m=0, y_m=0, t_ms=0, speed_mps=10.0), received_at_ms=5, source="obu-a")
True
>>> runtime.ingest(bsm_at("b", x_m=0, y_m=9, t_ms=0, speed_mps=160.0), received_at_ms=5, source="obu-b")
False
>>> runtime.tick(100)
[]
>>> runtime.stats()["messages_in"], runtime.stats()["dead_letters"]
({'Bsm': 1}, {'implausible': 1})

Accounting: every input is either accepted (counted in ``messages_in`` per model type) or
dropped (counted once under its ``DropReason`` in ``dead_letters`` and kept as a
``model.DeadLetter`` with its raw bytes); never both. Validity is judged once, by the codec's
stage (``decode`` for frames, ``codec.check_model`` for models that arrive without bytes);
the scene trusts what passed. Stages before the runtime (gateways, security) hand their drops
to ``Runtime.dead_letter`` so every drop is counted and stored in one place. New letters go
to the dead-letter sinks (``add_dead_letter_sink``; the history writer) once per tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from v2xcloud.apps import default_apps
from v2xcloud.apps.day2 import Day2App, default_day2_apps
from v2xcloud.codec import (
    DeploymentArea,
    MessageSet,
    Rejected,
    check_model,
    decode,
    fast_path_hand_overs,
)
from v2xcloud.codec.frame import FAST_PATH_FAILURES
from v2xcloud.errors import SceneError
from v2xcloud.failures import FailureLog
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory, DeadLetter, DropReason, MisbehaviourReport, RoadEvent
from v2xcloud.model.day2 import Psm
from v2xcloud.model.day2_exchange import Outbound, Request
from v2xcloud.runtime.clock import Clock, SystemClock
from v2xcloud.runtime.day2_host import Day2Host
from v2xcloud.runtime.dead_letters import DeadLetters
from v2xcloud.runtime.delivery import DeliveryStage, sink_name
from v2xcloud.runtime.dissemination import Delivery, Rsu
from v2xcloud.runtime.events import EventDetector, LiveEvents, default_detectors
from v2xcloud.runtime.guard import FrameGuard, Passed
from v2xcloud.runtime.host import AppHost, TickApp
from v2xcloud.runtime.screen import MisbehaviourReports, MisbehaviourScreen, MisbehaviourSink
from v2xcloud.runtime.signing import OutboundSigner
from v2xcloud.runtime.sinks import AdvisorySink, DeliverySink
from v2xcloud.runtime.sources import ListSource, TimedFrame
from v2xcloud.runtime.stats import RuntimeStats
from v2xcloud.twin import Scene, SceneMessage, SceneView

__all__ = ["DeadLetterSink", "Runtime"]

#: takes the dead letters of one tick (a non-empty batch, oldest first); must not block
DeadLetterSink = Callable[[Sequence[DeadLetter]], None]

logger = logging.getLogger(__name__)


class Runtime:
    """One deployment's platform core, in-process.

    ``apps`` defaults to every registered application (``apps.default_apps()``, V2V and V2I)
    with default thresholds; ``detectors`` to one of each ``apps.events.DETECTORS`` (``()``
    disables detection), run every ``detect_every_ms``; ``rsus`` are the roadside units
    dissemination may address, ``refresh_ms`` its re-send period; ``scene_options`` are
    passed to ``Scene`` (e.g. ``stale_after_ms``); ``message_set`` is the default for
    ``ingest_frame`` and the one the platform's RSI are encoded in; ``clock`` the platform's
    time (default the wall clock; tests pass a ``ManualClock``); ``failures`` where isolated
    failures are counted and logged (default: a new ``FailureLog``); ``area`` the deployment
    area the validity stage holds MAP and RSI to (``codec.DeploymentArea``; ``None``: the
    wrong-version heuristic instead); ``guard`` a stage that judges raw frames before the
    codec (``runtime.guard.FrameGuard``, e.g. the security stage; None: frames go straight
    to the codec); ``screen`` the misbehaviour screen every accepted report passes
    (``runtime.screen``; ``None``: none); ``signer`` signs what dissemination sends (each
    delivery's ``secured``: ``runtime.signing.OutboundSigner``; ``None``: nothing is signed);
    ``day2_apps`` the Day-2 applications (default ``apps.day2.default_day2_apps()``): the
    Day-2 messages they accept (a VIR, a VPM reply) go to them as requests instead of to the
    scene, and what they send is collected for the down-link (``take_outbound``);
    ``stable_event_ids``: detected events get ids derived from their kind and condition
    (``apps.events.book.stable_event_id``; the edge workers, so a takeover keeps them).
    Nothing here blocks or does I/O; sinks are called
    synchronously at the end of each tick.
    """

    def __init__(
        self,
        *,
        frame: LocalFrame,
        apps: Sequence[TickApp] | None = None,
        sinks: Sequence[AdvisorySink] = (),
        message_set: MessageSet = MessageSet.CSAE2020,
        dead_letter_capacity: int = 1000,
        scene_options: dict[str, Any] | None = None,
        detectors: Sequence[EventDetector] | None = None,
        detect_every_ms: int = 1000,
        rsus: Sequence[Rsu] = (),
        delivery_sinks: Sequence[DeliverySink] = (),
        refresh_ms: int = 1000,
        clock: Clock | None = None,
        failures: FailureLog | None = None,
        area: DeploymentArea | None = None,
        guard: FrameGuard | None = None,
        screen: MisbehaviourScreen | None = None,
        signer: OutboundSigner | None = None,
        day2_apps: Sequence[Day2App] | None = None,
        stable_event_ids: bool = False,
    ) -> None:
        self.guard = guard
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.area = area
        self.scene = Scene(frame, **(scene_options or {}))
        self.host = AppHost(
            list(apps) if apps is not None else default_apps(), failures=self.failures
        )
        self.day2 = Day2Host(
            list(day2_apps) if day2_apps is not None else default_day2_apps(),
            failures=self.failures,
        )
        self.sinks: list[AdvisorySink] = list(sinks)
        self.events = LiveEvents(
            detectors=default_detectors() if detectors is None else detectors,
            every_ms=detect_every_ms,
            failures=self.failures,
            stable_ids=stable_event_ids,
        )
        self.delivery = DeliveryStage(
            frame=frame,
            message_set=message_set,
            rsus=rsus,
            sinks=delivery_sinks,
            refresh_ms=refresh_ms,
            failures=self.failures,
            signer=signer,
        )
        self.message_set = message_set
        self.dead_letters = DeadLetters(capacity=dead_letter_capacity)
        self.dead_letter_sinks: list[DeadLetterSink] = []
        self._stats = RuntimeStats()
        self._active: dict[tuple[str, str, str | None], Advisory] = {}
        self.view: SceneView | None = None
        self.screen = screen
        self.misbehaviour = MisbehaviourReports()
        self.misbehaviour_sinks: list[MisbehaviourSink] = []
        self._suppressed = 0

    def add_sink(self, sink: AdvisorySink) -> None:
        """Send every later tick's advisories to ``sink`` too."""
        self.sinks.append(sink)

    def add_delivery_sink(self, sink: DeliverySink) -> None:
        """Send every later tick's deliveries to ``sink`` too."""
        self.delivery.sinks.append(sink)

    def add_dead_letter_sink(self, sink: DeadLetterSink) -> None:
        """Hand every later tick's new dead letters to ``sink`` too (e.g.
        ``HistoryWriter.submit_dead_letters``), once per tick, before the advisory sinks."""
        self.dead_letter_sinks.append(sink)

    def add_misbehaviour_sink(self, sink: MisbehaviourSink) -> None:
        """Hand every later tick's new misbehaviour reports to ``sink`` too (e.g.
        ``HistoryWriter.submit_misbehaviour``), once per tick."""
        self.misbehaviour_sinks.append(sink)

    def ingest(
        self,
        message: SceneMessage,
        *,
        received_at_ms: int,
        source: str,
        raw: bytes = b"",
        certificate_digest: str | None = None,
    ) -> bool:
        """Judge one model message that arrived without passing ``decode`` and hand it to the
        scene (applied at the next tick); returns whether it was accepted.

        ``raw`` is what the message was made from, when there was something (a gateway's
        vendor JSON): a dropped message keeps it in its dead letter. The message runs the
        codec's validity rules (``codec.check_model``): an impossible position, speed,
        heading or elevation is dropped as ``implausible``; a type the scene does not hold
        as ``unsupported_message``; a report the misbehaviour screen refuses as
        ``misbehaving``. A dropped message is counted once under its reason and never in
        ``messages_in``. ``certificate_digest``: the signer (HashedId8 hex) when the message
        came signed, for the misbehaviour report.
        """
        rejected = check_model(message, raw=raw, area=self.area)
        if rejected is not None:
            self._reject(rejected, source, received_at_ms)
            return False
        return self._accept(message, received_at_ms, source, raw, certificate_digest)

    def validate(
        self, message: SceneMessage, *, received_at_ms: int, source: str, raw: bytes = b""
    ) -> bool:
        """Run the validity stage of ``ingest`` (``codec.check_model``) without handing the
        message to the scene: the gateway tier, which forwards accepted frames to the backbone
        and leaves the scene to the edge workers. A refused message is dead-lettered and
        counted as in ``ingest``; True when it passed."""
        rejected = check_model(message, raw=raw, area=self.area)
        if rejected is not None:
            self._reject(rejected, source, received_at_ms)
            return False
        return True

    def ingest_frame(
        self,
        raw: bytes,
        *,
        source: str,
        received_at_ms: int,
        message_set: MessageSet | None = None,
        kind: str = "unknown",
        certificate_digest: str | None = None,
    ) -> bool:
        """Decode a UPER MessageFrame (the one validity stage runs inside ``decode``) and hand
        its model to the scene; returns whether it was accepted.

        With a ``guard`` the frame passes it first (``kind``: the sender's device kind): what
        it refuses is dead-lettered with the guard's reason, what it passes (the UPER payload
        of a signed frame) is decoded. A rejected frame is counted once under its
        ``DropReason`` and kept in ``dead_letters`` with its raw bytes; an accepted one is
        counted in ``messages_in``.
        """
        if self.guard is not None:
            guarded = self.guard_frame(raw, source=source, kind=kind, received_at_ms=received_at_ms)
            if isinstance(guarded, DeadLetter):
                self.dead_letter(guarded)
                return False
            raw = guarded.payload
            certificate_digest = certificate_digest or guarded.signer
        result = decode(
            raw,
            message_set=message_set or self.message_set,
            received_at_ms=received_at_ms,
            area=self.area,
        )
        if isinstance(result, Rejected):
            self._reject(result, source, received_at_ms)
            return False
        return self._accept(
            result.to_model(), received_at_ms, source, result.raw, certificate_digest
        )

    def guard_frame(
        self, raw: bytes, *, source: str, kind: str, received_at_ms: int
    ) -> Passed | DeadLetter:
        """Run ``guard`` on one raw frame: what to decode (``Passed``: the payload and, for a
        signed frame, its signer), or the dead letter of a refused frame for the caller to
        hand to its dead-letter path (``dead_letter``, or a gateway's, which counts it per
        device too). Without a guard: ``raw`` unchanged. A guard that raises is counted under
        ``guard`` in the failures and the frame becomes an ``internal_error`` letter."""
        if self.guard is None:
            return Passed(payload=raw)
        try:
            result = self.guard.check(raw, source=source, kind=kind, now_ms=received_at_ms)
        except Exception as exc:  # a guard bug must not stop ingest: logged once, counted, kept
            self.failures.record("guard", exc, logger=logger)
            result = DeadLetter(
                raw=bytes(raw),
                source=source,
                received_at_ms=received_at_ms,
                reason=DropReason.INTERNAL_ERROR,
                detail=f"frame guard raised {type(exc).__name__}: {exc}",
            )
        if isinstance(result, bytes):
            return Passed(payload=result)
        if isinstance(result, DeadLetter | Passed):
            return result
        return Passed(payload=result.payload, signer=result.signer, device=result.device)

    def dead_letter(self, letter: DeadLetter) -> None:
        """Count and keep one input an upstream stage (a gateway, the security stage) dropped.

        Counted under ``letter.reason`` in ``stats()["dead_letters"]``, kept among the recent
        letters and handed to the dead-letter sinks (the history) at the next tick. Keep the
        raw bytes as received in ``letter.raw``.
        """
        self.dead_letters.add(letter)

    def _screened_out(
        self, message: Any, received_at_ms: int, source: str, raw: bytes, digest: str | None
    ) -> bool:
        """Whether the misbehaviour screen refuses ``message`` (then it is dead-lettered)."""
        assert self.screen is not None
        try:
            refused = self.screen.screen(
                message, received_at_ms=received_at_ms, source=source, certificate_digest=digest
            )
        except Exception as exc:  # a broken screen must not stop intake: counted, report used
            self.failures.record("screen", exc, logger=logger)
            return False
        if refused is None:
            return False
        self.dead_letter(
            DeadLetter(
                raw=bytes(raw),
                source=source,
                received_at_ms=received_at_ms,
                reason=DropReason.MISBEHAVING,
                detail=refused,
                where="$",
            )
        )
        return True

    def _accept(
        self,
        message: Any,
        received_at_ms: int,
        source: str,
        raw: bytes,
        digest: str | None = None,
    ) -> bool:
        if self.screen is not None and self._screened_out(
            message, received_at_ms, source, raw, digest
        ):
            return False
        if isinstance(message, Psm):
            # a person's own report joins the scene like a BSM (the Day-1 apps, VRUCW, see the
            # person), and goes to the Day-2 apps that take PSMs too (VRU safe passage)
            self.scene.ingest(message.participant, received_at_ms=received_at_ms, source=source)
            if not self.day2.takes(message):
                self._stats.messages_in["Psm"] += 1
                return True
        if self.day2.takes(message):
            return self._request(message, received_at_ms, source, raw)
        try:
            self.scene.ingest(message, received_at_ms=received_at_ms, source=source)
        except SceneError as exc:
            self.dead_letter(
                DeadLetter(
                    raw=bytes(raw),
                    source=source,
                    received_at_ms=received_at_ms,
                    reason=exc.reason,
                    detail=str(exc),
                    where="$",
                )
            )
            return False
        self._stats.messages_in[type(message).__name__] += 1
        return True

    def _request(self, message: Any, received_at_ms: int, source: str, raw: bytes) -> bool:
        """Queue a Day-2 request for its apps; dead-lettered as ``queue_full`` past the
        inbox's bound."""
        request = Request(message=message, source=source, received_at_ms=received_at_ms)
        if not self.day2.offer(request):
            self.dead_letter(
                DeadLetter(
                    raw=bytes(raw),
                    source=source,
                    received_at_ms=received_at_ms,
                    reason=DropReason.QUEUE_FULL,
                    detail=f"Day-2 request inbox full ({self.day2.capacity} until the next tick)",
                    where="$",
                )
            )
            return False
        self._stats.messages_in[type(message).__name__] += 1
        return True

    def _reject(self, rejected: Rejected, source: str, received_at_ms: int) -> None:
        self.dead_letter(
            DeadLetter(
                raw=bytes(rejected.raw),
                source=source,
                received_at_ms=received_at_ms,
                reason=rejected.reason,
                detail=rejected.detail,
                where=rejected.where,
            )
        )

    def _send_dead_letters(self) -> None:
        letters = self.dead_letters.take_new()  # drained every tick, even without a sink
        if letters:
            for sink in self.dead_letter_sinks:
                try:
                    sink(letters)
                except Exception as exc:  # a broken history must not stop the tick
                    name = getattr(sink, "__qualname__", None) or sink_name(sink)
                    self.failures.record(f"dead_letter_sink:{name}", exc, logger=logger)

    def tick(self, now_ms: int) -> list[Advisory]:
        """Apply what arrived, run the applications and (when due) the event detectors, send
        the advisories to the sinks and the deliveries to the delivery sinks."""
        started = time.perf_counter()
        cpu_started = time.process_time()
        view = self.scene.update(now_ms)
        self.view = view
        advisories = self.host.run(view, now_ms)
        self.day2.run(view, now_ms)
        if self.screen is not None:
            advisories = self._unflagged(advisories)
        fresh = self._remember(advisories, now_ms)  # in force before any sink hears of them
        for rsi in self.events.update(view, now_ms):
            self.scene.ingest(rsi, received_at_ms=now_ms, source=rsi.rsu_id)
        self.delivery.run(
            view,
            advisories,
            self.events.active(now_ms, origin="detected"),
            self.events.active(now_ms, origin="received"),
            now_ms,
        )
        self._send_dead_letters()
        if self.screen is not None:
            self._send_misbehaviour()
        for sink in self.sinks:
            try:
                sink.emit(advisories, now_ms=now_ms)
            except Exception as exc:  # one broken sink must not stop the tick or the others
                self.failures.record(f"sink:{sink_name(sink)}", exc, logger=logger)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self._record(view, fresh, now_ms, elapsed_ms, cpu_started)
        return advisories

    def _unflagged(self, advisories: list[Advisory]) -> list[Advisory]:
        """The advisories none of whose parties is a flagged sender (the others counted)."""
        assert self.screen is not None
        flagged = self.screen.is_flagged
        kept = [
            a
            for a in advisories
            if not flagged(a.ego_id) and (a.other_id is None or not flagged(a.other_id))
        ]
        self._suppressed += len(advisories) - len(kept)
        return kept

    def _send_misbehaviour(self) -> None:
        assert self.screen is not None
        try:
            reports = self.screen.take_reports()
        except Exception as exc:  # a broken screen must not stop the tick
            self.failures.record("screen", exc, logger=logger)
            return
        self.record_misbehaviour(reports)

    def record_misbehaviour(self, reports: Sequence[MisbehaviourReport]) -> None:
        """Keep misbehaviour reports (for the API) and hand them to the misbehaviour sinks:
        this runtime's screen's, or those other processes produced (the centre tier's, from
        the edge workers)."""
        if not reports:
            return
        self.misbehaviour.extend(reports)
        for sink in self.misbehaviour_sinks:
            try:
                sink(reports)
            except Exception as exc:  # a broken history must not stop the tick
                name = getattr(sink, "__qualname__", None) or sink_name(sink)
                self.failures.record(f"misbehaviour_sink:{name}", exc, logger=logger)

    def misbehaviour_reports(self, limit: int | None = None) -> list[MisbehaviourReport]:
        """The newest misbehaviour reports (for the API), newest last."""
        return self.misbehaviour.recent(limit)

    def _remember(self, advisories: list[Advisory], now_ms: int) -> list[Advisory]:
        """Put this tick's advisories in force; returns those issued because of data (not a
        refresh of the same level before expiry), whose latency is measured."""
        stats = self._stats
        active = self._active
        if stats.ticks % 10 == 0:  # drop expired advisories now and then, not every tick
            active = self._active = {k: a for k, a in active.items() if a.expires_ms > now_ms}
        fresh = []
        for adv in advisories:
            stats.advisories_out[adv.app] += 1
            key = (adv.app, adv.ego_id, adv.other_id)
            before = active.get(key)
            active[key] = adv
            if before is not None and before.expires_ms > now_ms and before.level == adv.level:
                continue  # a refresh: issued because the last one expires, not because of data
            fresh.append(adv)
        return fresh

    def _record(
        self,
        view: SceneView,
        fresh: list[Advisory],
        now_ms: int,
        elapsed_ms: float,
        cpu_started: float,
    ) -> None:
        stats = self._stats
        stats.ticks += 1
        stats.tick_ms.add((time.process_time() - cpu_started) * 1000.0)
        latencies = []
        received = view.received_ms
        for adv in fresh:
            rows = [
                r
                for r in (view.row_of(adv.ego_id), view.row_of(adv.other_id or ""))
                if r is not None
            ]
            if rows:
                latencies.append(now_ms - max(int(received[r]) for r in rows) + elapsed_ms)
        stats.latency_ms.extend(latencies)
        stats.app_errors = self.host.errors

    def take_outbound(self) -> list[Outbound]:
        """The Day-2 messages the applications sent since the last call, oldest first (for
        the down-link; kept up to the Day-2 host's bound when nobody takes them)."""
        return self.day2.take()

    def active_advisories(self) -> list[Advisory]:
        """Advisories issued and not yet expired at the last tick (for the API)."""
        now = self.view.now_ms if self.view is not None else 0
        return [a for a in self._active.values() if a.expires_ms > now]

    def active_events(self) -> list[RoadEvent]:
        """The live road events at the last tick: detected by the platform, then received in
        RSI (started and not ended)."""
        now = self.view.now_ms if self.view is not None else 0
        return self.events.active(now)

    def finish(self, now_ms: int) -> list[Delivery]:
        """End of a run (a replay): ``expired`` deliveries for everything no longer valid at
        ``now_ms``, also sent to the delivery sinks."""
        return self.delivery.finish(now_ms)

    def stats(self) -> dict[str, Any]:
        """Messages in, advisories out, tick CPU ms and latency ms percentiles, scene counters,
        dead letters per reason, live road events and deliveries, isolated failures per
        boundary (``errors``, with the latest of each in ``last_errors``), the entries the
        size-limited per-id tables evicted (``evicted``) and the codec's fast-path hand-overs
        to asn1tools (``codec``, per set, direction, alternative and reason)."""
        out = self._stats.as_dict()
        out["errors"] = {**FAST_PATH_FAILURES.counts(), **self.failures.counts()}
        out["last_errors"] = {**FAST_PATH_FAILURES.last(), **self.failures.last()}
        out["events"] = self.events.stats()
        out["deliveries"] = dict(self.delivery.stats)
        out["scene"] = self.scene.stats.as_dict()
        out["participants"] = len(self.scene)
        out["dead_letters"] = dict(self.dead_letters.counts)
        out["dead_letters_unsent_dropped"] = self.dead_letters.unsent_dropped
        out["source_clock_offsets_ms"] = self.scene.clocks.sources()
        out["evicted"] = self.scene.evicted()
        out["codec"] = {"fast_path_hand_overs": fast_path_hand_overs()}
        out["day2"] = self.day2.stats()
        if self.guard is not None:
            out["guard"] = self.guard.stats()
        if self.delivery.signer is not None:
            out["signer"] = self.delivery.signer.stats()
        if self.screen is not None:
            out["misbehaviour"] = {
                **self.screen.stats(),
                "reports": self.misbehaviour.total,
                "advisories_suppressed": self._suppressed,
            }
        return out

    def replay(
        self, source: ListSource, *, start_ms: int, end_ms: int, tick_ms: int = 100
    ) -> list[Advisory]:
        """Feed a scripted source and tick every ``tick_ms`` from ``start_ms`` to ``end_ms``."""
        out: list[Advisory] = []
        for now in range(start_ms, end_ms + 1, tick_ms):
            for item in source.until(now):
                if isinstance(item, TimedFrame):
                    self.ingest_frame(
                        item.raw, source=item.source, received_at_ms=item.received_at_ms
                    )
                else:
                    self.ingest(
                        item.message, received_at_ms=item.received_at_ms, source=item.source
                    )
            out.extend(self.tick(now))
        return out
