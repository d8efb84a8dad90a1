"""The cooperative applications: one module each, small classes that return Advisories.

May import: ``model``, ``geo``, ``twin`` (the read-only scene view only).

``V2V_APPS`` is the one explicit registry of the vehicle-to-vehicle safety applications and
``V2I_APPS`` of the road-side ones (MAP/SPAT/RSI); both run on the live ``twin.SceneView``.
``default_apps()`` instantiates all of them (V2V, then V2I) with default thresholds: the V2I
apps cost next to nothing without a MAP, SPAT or RSI in the scene, so every deployment runs
the same list and nobody has to add road-side apps by hand. Shared kinematics live in ``apps.kinematics``; the base class, hit arrays and the
warning hysteresis in ``apps.base`` and ``apps.hysteresis``; the road-side apps share
``apps._v2i.RoadApp`` (the same ``App``/``Hysteresis``, hits per vehicle and road item).
"""

from v2xcloud.apps.avw import AbnormalVehicleWarning, AvwConfig
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach
from v2xcloud.apps.bsw import BlindSpotWarning, BswConfig, LaneChangeWarning
from v2xcloud.apps.clw import ClwConfig, ControlLossWarning
from v2xcloud.apps.dnpw import DnpwConfig, DoNotPassWarning
from v2xcloud.apps.ebw import EbwConfig, EmergencyBrakeWarning
from v2xcloud.apps.evw import EmergencyVehicleWarning, EvwConfig
from v2xcloud.apps.fcw import FcwConfig, ForwardCollisionWarning
from v2xcloud.apps.glosa import GlosaConfig, GreenLightOptimalSpeedAdvisory
from v2xcloud.apps.hlw import HazardousLocationWarning, HlwConfig
from v2xcloud.apps.hysteresis import Hysteresis
from v2xcloud.apps.icw import IcwConfig, IntersectionCollisionWarning
from v2xcloud.apps.ivs import InVehicleSignage, IvsConfig
from v2xcloud.apps.lta import LeftTurnAssist, LtaConfig
from v2xcloud.apps.rlvw import RedLightViolationWarning, RlvwConfig
from v2xcloud.apps.slw import SlwConfig, SpeedLimitWarning
from v2xcloud.apps.tjw import TjwConfig, TrafficJamWarning
from v2xcloud.apps.vrucw import VruCollisionWarning, VrucwConfig

#: the V2V safety applications, in the order the runtime runs them
V2V_APPS: tuple[type[App], ...] = (
    ForwardCollisionWarning,
    IntersectionCollisionWarning,
    LeftTurnAssist,
    BlindSpotWarning,
    LaneChangeWarning,
    DoNotPassWarning,
    EmergencyBrakeWarning,
    AbnormalVehicleWarning,
    ControlLossWarning,
    EmergencyVehicleWarning,
    VruCollisionWarning,
)


#: the road-side (V2I) applications, in the order the runtime runs them (after ``V2V_APPS``)
V2I_APPS: tuple[type[App], ...] = (
    RedLightViolationWarning,
    GreenLightOptimalSpeedAdvisory,
    SpeedLimitWarning,
    InVehicleSignage,
    HazardousLocationWarning,
    TrafficJamWarning,
)


def default_apps() -> list[App]:
    """One instance of every registered application (``V2V_APPS`` then ``V2I_APPS``), with
    default thresholds."""
    return [app_type() for app_type in (*V2V_APPS, *V2I_APPS)]


__all__ = [
    "V2I_APPS",
    "V2V_APPS",
    "AbnormalVehicleWarning",
    "App",
    "AppConfig",
    "AvwConfig",
    "BlindSpotWarning",
    "BswConfig",
    "ClwConfig",
    "ControlLossWarning",
    "DnpwConfig",
    "DoNotPassWarning",
    "EbwConfig",
    "EmergencyBrakeWarning",
    "EmergencyVehicleWarning",
    "EvwConfig",
    "FcwConfig",
    "ForwardCollisionWarning",
    "GlosaConfig",
    "GreenLightOptimalSpeedAdvisory",
    "HazardousLocationWarning",
    "Hits",
    "HlwConfig",
    "Hysteresis",
    "IcwConfig",
    "InVehicleSignage",
    "IntersectionCollisionWarning",
    "IvsConfig",
    "LaneChangeWarning",
    "LeftTurnAssist",
    "LtaConfig",
    "Partners",
    "Reach",
    "RedLightViolationWarning",
    "RlvwConfig",
    "SlwConfig",
    "SpeedLimitWarning",
    "TjwConfig",
    "TrafficJamWarning",
    "VruCollisionWarning",
    "VrucwConfig",
    "default_apps",
]
