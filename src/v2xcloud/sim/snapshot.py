"""One simulation step's ground truth as column arrays (the bridge's output, before V2X)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["SIGNAL_BITS", "Snapshot", "TlsState", "edge_of_lane"]

# SUMO vehicle signal bits -> CSAE ExteriorLights bit names.
SIGNAL_BITS: dict[int, str] = {
    1: "rightTurnSignalOn",
    2: "leftTurnSignalOn",
    4: "hazardSignalOn",
    16: "lowBeamHeadlightsOn",
    32: "fogLightOn",
    64: "highBeamHeadlightsOn",
}
BRAKE_LIGHT_BIT = 8


def edge_of_lane(lane_id: str) -> str:
    """The SUMO edge of a lane id (``{edge}_{index}``; an internal lane's junction edge)."""
    return lane_id.rsplit("_", 1)[0]


@dataclass(frozen=True)
class TlsState:
    """A traffic light's state: one SUMO signal character per link index, and the next switch."""

    tls_id: str
    state: str  # e.g. "GGrrryyy": G/g green, y yellow, r red, o off
    next_switch_s: float  # simulation time of the next phase change
    phase_index: int


@dataclass(frozen=True)
class Snapshot:
    """Ground truth at simulation time ``time_s``: vehicles and pedestrians as columns.

    Positions are metres in the network plane (x east, y north), headings degrees clockwise
    from north (SUMO's angle convention), speeds m/s, accelerations m/s² (longitudinal).
    """

    time_s: float
    ids: list[str]
    is_pedestrian: npt.NDArray[np.bool_]
    x_m: npt.NDArray[np.float64]
    y_m: npt.NDArray[np.float64]
    speed_mps: npt.NDArray[np.float64]
    heading_deg: npt.NDArray[np.float64]
    accel_mps2: npt.NDArray[np.float64]
    length_m: npt.NDArray[np.float64]
    width_m: npt.NDArray[np.float64]
    signals: npt.NDArray[np.int64]
    lane_ids: list[str]
    vtypes: list[str]
    tls: tuple[TlsState, ...] = ()
    collisions: tuple[tuple[str, str], ...] = ()
    #: per row, SUMO's time loss so far (s: time lost against driving at the desired speed;
    #: 0 for pedestrians); ``None`` when not measured
    time_loss_s: npt.NDArray[np.float64] | None = None
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index.update({pid: i for i, pid in enumerate(self.ids)})

    @property
    def time_ms(self) -> int:
        """Simulation time in whole milliseconds."""
        return round(self.time_s * 1000)
