"""Traffic events the platform detects from what it sees, each as a ``model.RoadEvent``.

Detectors share one interface, ``on_tick(view, now_ms) -> list[RoadEvent]`` (the events active
now, valid a little past ``now_ms``, plus those that just ended), and are listed in
``DETECTORS``. Events carry ``source="detection"`` and a ``kind``.

May import: ``model``, ``geo``, ``twin`` (as the apps package).
"""

from v2xcloud.apps.events.book import DEFAULT_EVENT_TYPES, EventBook
from v2xcloud.apps.events.congestion import (
    CongestionDetector,
    LaneSample,
    LaneTraffic,
    lane_samples,
    merge_samples,
)
from v2xcloud.apps.events.slow import SlowVehicleDetector
from v2xcloud.apps.events.stopped import StoppedVehicleDetector
from v2xcloud.apps.events.wrong_way import WrongWayDetector

__all__ = [
    "DEFAULT_EVENT_TYPES",
    "DETECTORS",
    "CongestionDetector",
    "EventBook",
    "LaneSample",
    "LaneTraffic",
    "SlowVehicleDetector",
    "StoppedVehicleDetector",
    "WrongWayDetector",
    "lane_samples",
    "merge_samples",
]

DETECTORS = (CongestionDetector, StoppedVehicleDetector, WrongWayDetector, SlowVehicleDetector)
