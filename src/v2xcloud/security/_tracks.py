"""Per-sender history for misbehaviour detection: recent samples in a local metric plane,
report times for the beacon rate, and the evidence gathered so far. Bounded per sender.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from v2xcloud.model import MisbehaviourCheck, MisbehaviourEvidence

__all__ = ["EARTH_RADIUS_M", "LocalPlane", "Sample", "Track"]

EARTH_RADIUS_M = 6_378_137.0  # WGS-84 semi-major axis
HISTORY_LEN = 64  # samples kept per sender: > 2 s at the 20 Hz a DoS sender may reach
EVIDENCE_LEN = 32  # failed checks kept per sender (the flag rule looks at a few seconds)


class LocalPlane:
    """Equirectangular east/north metres around the first point it is given.

    Over the few kilometres a deployment covers the error against a proper projection is
    well under a centimetre per metre of distance, far below GNSS error; the checks only
    compare distances between nearby reports of the same few seconds.
    """

    def __init__(self) -> None:
        self._origin: tuple[float, float] | None = None
        self._east_m_per_deg = 0.0
        self._north_m_per_deg = math.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        """(east, north) metres of a WGS-84 position from the plane's origin."""
        if self._origin is None:
            self._origin = (lat_deg, lon_deg)
            self._east_m_per_deg = self._north_m_per_deg * math.cos(math.radians(lat_deg))
        lat0, lon0 = self._origin
        return (lon_deg - lon0) * self._east_m_per_deg, (lat_deg - lat0) * self._north_m_per_deg


@dataclass(slots=True)
class Sample:
    """One self-report: generation time (UTC ms), position (plane metres), speed, heading."""

    t_ms: int
    x_m: float
    y_m: float
    speed_mps: float | None
    heading_deg: float | None


@dataclass(slots=True)
class Track:
    """What the detector remembers of one sender (participant id)."""

    first_ms: int
    last_seen_ms: int  # platform time of the last report (for expiry)
    certificate_digest: str | None = None
    source: str | None = None
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))
    report_times: deque[int] = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))
    evidence: deque[MisbehaviourEvidence] = field(
        default_factory=lambda: deque(maxlen=EVIDENCE_LEN)
    )

    def last(self) -> Sample | None:
        """The newest sample, if any."""
        return self.samples[-1] if self.samples else None

    def add_evidence(self, check: MisbehaviourCheck, at_ms: int, detail: str, other: str | None
                     ) -> MisbehaviourEvidence:  # fmt: skip
        """Keep one failed check."""
        ev = MisbehaviourEvidence(check=check, at_ms=at_ms, detail=detail, other_id=other)
        self.evidence.append(ev)
        return ev
