"""The operator API (FastAPI, REST + WebSocket) and the dashboard it serves.

May import: ``runtime``, ``store``, ``model``, ``geo`` (the scripted source's local frame).

``create_app(live=..., store=..., settings=...)`` builds the app over a ``LiveSource`` (the
running platform as the API sees it); ``record_history`` feeds the history from the same
source; ``api.testing.ScriptedLive`` is a scripted platform for tests and demos.
"""

from v2xcloud.api.app import create_app
from v2xcloud.api.live import IntersectionView, LiveSource, PlatformStats, TickDelta
from v2xcloud.api.recorder import record_history
from v2xcloud.api.settings import ApiSettings

__all__ = [
    "ApiSettings",
    "IntersectionView",
    "LiveSource",
    "PlatformStats",
    "TickDelta",
    "create_app",
    "record_history",
]
