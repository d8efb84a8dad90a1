"""Geography: WGS-84 to a local metric frame per deployment, the spatial grid, lane matching.

May import: ``model``.
"""

from v2xcloud.geo.frame import LocalFrame, heading_to_unit, unit_to_heading_deg
from v2xcloud.geo.grid import SpatialGrid
from v2xcloud.geo.lanes import LaneInfo, LaneMap, LaneMatch

__all__ = [
    "LaneInfo",
    "LaneMap",
    "LaneMatch",
    "LocalFrame",
    "SpatialGrid",
    "heading_to_unit",
    "unit_to_heading_deg",
]
