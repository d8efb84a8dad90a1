"""The cooperative applications: one module each, small classes that return Advisories.

May import: ``model``, ``geo``, ``twin`` (the read-only scene view only).

``V2V_APPS`` is the one explicit registry of the vehicle-to-vehicle safety applications that
run on the live ``twin.SceneView``; ``default_apps()`` instantiates them with default
thresholds. Shared kinematics live in ``apps.kinematics``; the base class, hit arrays and the
warning hysteresis in ``apps.base`` and ``apps.hysteresis``.
"""

from v2xcloud.apps.base import App, AppConfig, Hits
from v2xcloud.apps.fcw import FcwConfig, ForwardCollisionWarning
from v2xcloud.apps.hysteresis import Hysteresis

#: the V2V safety applications, in the order the runtime runs them
V2V_APPS: tuple[type[App], ...] = (ForwardCollisionWarning,)


def default_apps() -> list[App]:
    """One instance of every registered V2V application, with default thresholds."""
    return [app_type() for app_type in V2V_APPS]


__all__ = [
    "V2V_APPS",
    "App",
    "AppConfig",
    "FcwConfig",
    "ForwardCollisionWarning",
    "Hits",
    "Hysteresis",
    "default_apps",
]
