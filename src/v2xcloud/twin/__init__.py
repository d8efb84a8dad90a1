"""The live scene: participants, intersections and road events, as column arrays for the apps.

May import: ``model``, ``geo``. ``Scene`` is mutable and owned by the runtime; applications
only ever see a ``SceneView`` (read-only column arrays, candidate pairs, lookups by id).
"""

from v2xcloud.twin.clocks import SourceClocks
from v2xcloud.twin.flags import Flag, Kind, SourceCode, flags_of
from v2xcloud.twin.pairs import PairTable
from v2xcloud.twin.places import ActiveEvent, ActiveSign, IntersectionView
from v2xcloud.twin.scene import Scene, SceneMessage, SceneStats
from v2xcloud.twin.view import COLUMNS, SceneView

__all__ = [
    "COLUMNS",
    "ActiveEvent",
    "ActiveSign",
    "Flag",
    "IntersectionView",
    "Kind",
    "PairTable",
    "Scene",
    "SceneMessage",
    "SceneStats",
    "SceneView",
    "SourceClocks",
    "SourceCode",
    "flags_of",
]
