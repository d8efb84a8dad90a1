"""The Day-2 applications of T/CSAE 157-2020: the road and the platform cooperate with
vehicles instead of only warning them.

May import: ``model``, ``geo``, ``twin`` (the read-only scene view only), like every app.

Day-1 applications (``apps``) warn a driver: they return ``Advisory`` rows. Day-2
applications share what the road perceives (sensor data sharing, SSM), coordinate manoeuvres
(cooperative lane change and merge, intersection passing: VIR in, RSC out), give priority,
manage platoons (CLPMM) and lanes, relay corrections (RTCM), guide parking (PAM) and run
road tolling and near-field payment (VPM). Each is a small ``Day2App`` (``apps.day2.base``)
that reads the tick's ``SceneView`` plus the Day-2 requests it declared in ``accepts``
(``Request``) and returns ``Outbound`` messages as domain objects (``model.day2``); the
runtime's ``Day2Host`` runs them after the Day-1 apps, the codec encodes what they return, and
the test bench scores each one by its effect (``sim.cooperation.CooperationScore``).

``DAY2_APPS`` is the one explicit registry; ``default_day2_apps()`` instantiates every one
with default settings (an app without its inputs in a deployment sends nothing).
"""

from v2xcloud.apps.day2.base import Day2App, Day2Config, Outbound, Request
from v2xcloud.apps.day2.dgnss import DgnssConfig, DifferentialPositioning
from v2xcloud.apps.day2.intersection import CooperativeIntersectionPassing
from v2xcloud.apps.day2.lane_change import CooperativeLaneChange, CooperativeMerge
from v2xcloud.apps.day2.priority import PriorityVehiclePassage
from v2xcloud.apps.day2.sds import SdsConfig, SensorDataSharing
from v2xcloud.apps.day2.vnfp import NearFieldPayment, VnfpConfig
from v2xcloud.apps.day2.vru_passage import VruSafePassage

#: the Day-2 applications, in the order the runtime runs them
DAY2_APPS: tuple[type[Day2App], ...] = (
    PriorityVehiclePassage,
    VruSafePassage,
    CooperativeLaneChange,
    CooperativeMerge,
    SensorDataSharing,
    CooperativeIntersectionPassing,
    NearFieldPayment,
    DifferentialPositioning,
)


def default_day2_apps() -> list[Day2App]:
    """One instance of every registered Day-2 application, with default settings."""
    return [app_type() for app_type in DAY2_APPS]


__all__ = [
    "DAY2_APPS",
    "CooperativeIntersectionPassing",
    "CooperativeLaneChange",
    "CooperativeMerge",
    "Day2App",
    "Day2Config",
    "DgnssConfig",
    "DifferentialPositioning",
    "NearFieldPayment",
    "Outbound",
    "Request",
    "SdsConfig",
    "SensorDataSharing",
    "VnfpConfig",
    "default_day2_apps",
]
