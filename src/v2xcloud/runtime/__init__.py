"""Wiring: bus, tick scheduler, app host, dissemination, dead letters, configuration.

May import: ``model``, ``codec``, ``geo``, ``twin``, ``apps`` (everything below it; the side
wings security and gateways are wired in from above).

``Runtime`` is the platform core: ``ingest``/``ingest_frame`` in, ``tick(now_ms)`` runs the
scene, the applications and the event detectors, sends advisories to the advisory sinks and
the dissemination decisions (``Delivery``, events with their RSI) to the delivery sinks. ``ManualClock``,
``ListSource`` and ``ListSink`` are the in-package fakes for tests and replays. ``FrameGuard``
is the hook a stage above (the security stage, wired in by ``cli``) judges raw frames through
before the codec; ``OutboundSigner`` the hook the down-link signs what the platform sends
through (the platform's certificate, also wired in by ``cli``).
"""

from v2xcloud.runtime.bus import InProcessBus
from v2xcloud.runtime.clock import Clock, ManualClock, SystemClock
from v2xcloud.runtime.core import DeadLetterSink, Runtime
from v2xcloud.runtime.dead_letters import DeadLetter, DeadLetters
from v2xcloud.runtime.dissemination import Delivery, Disseminator, Rsu
from v2xcloud.runtime.events import EventDetector, LiveEvents
from v2xcloud.runtime.guard import FrameGuard, GuardResult, Passed
from v2xcloud.runtime.host import AppHost, TickApp
from v2xcloud.runtime.identity import PLATFORM_RSU_ID
from v2xcloud.runtime.screen import MisbehaviourReports, MisbehaviourScreen, MisbehaviourSink
from v2xcloud.runtime.signing import OutboundSigner
from v2xcloud.runtime.sinks import (
    AdvisorySink,
    CallbackSink,
    DeliverySink,
    ListDeliverySink,
    ListSink,
)
from v2xcloud.runtime.sources import ListSource, TimedFrame, TimedMessage
from v2xcloud.runtime.stats import Percentiles, RuntimeStats

__all__ = [
    "PLATFORM_RSU_ID",
    "AdvisorySink",
    "AppHost",
    "CallbackSink",
    "Clock",
    "DeadLetter",
    "DeadLetterSink",
    "DeadLetters",
    "Delivery",
    "DeliverySink",
    "Disseminator",
    "EventDetector",
    "FrameGuard",
    "GuardResult",
    "InProcessBus",
    "ListDeliverySink",
    "ListSink",
    "ListSource",
    "LiveEvents",
    "ManualClock",
    "MisbehaviourReports",
    "MisbehaviourScreen",
    "MisbehaviourSink",
    "OutboundSigner",
    "Passed",
    "Percentiles",
    "Rsu",
    "Runtime",
    "RuntimeStats",
    "SystemClock",
    "TickApp",
    "TimedFrame",
    "TimedMessage",
]
