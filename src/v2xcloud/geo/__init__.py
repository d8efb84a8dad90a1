"""Geography: every projection (WGS-84 to a local metric frame per deployment, a recorded
dataset's scaled spherical Mercator, metric distances between positions), the spatial grid,
lane matching.

May import: ``model``.
"""

from v2xcloud.geo.frame import LocalFrame, heading_to_unit, unit_to_heading_deg
from v2xcloud.geo.grid import SpatialGrid
from v2xcloud.geo.lanes import LaneInfo, LaneMap, LaneMatch
from v2xcloud.geo.mercator import ScaledSphericalMercator, equirectangular_offset_m

__all__ = [
    "LaneInfo",
    "LaneMap",
    "LaneMatch",
    "LocalFrame",
    "ScaledSphericalMercator",
    "SpatialGrid",
    "equirectangular_offset_m",
    "heading_to_unit",
    "unit_to_heading_deg",
]
