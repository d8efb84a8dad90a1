"""Speed thresholds that several layers share, named once: when a road user stands, when it moves.

Three speed bands, the same everywhere in the platform (scene, fusion, applications, event
detectors):

- at or below ``STANDSTILL_MPS`` a participant **stands**: its stopped clock runs
  (``stopped_since_ms``), a stopped-vehicle detector may count it, and a displacement between
  two reports is position noise, not a direction;
- from ``STANDSTILL_MPS`` to ``MOVING_MPS`` it **creeps**: it is not standing, but its
  heading still says little (queues, parking, turning on the spot) and it is not yet
  approaching anything;
- at ``MOVING_MPS`` or faster it **moves**: its heading is its direction of travel, it can be
  on a collision course or approaching a hazard, a signal or a red light.

Thresholds that belong to one application (its own margins and limits) stay in that
application's config.
"""

from __future__ import annotations

__all__ = ["MOVING_MPS", "STANDSTILL_MPS"]

#: at or below this speed (m/s) a participant stands still (GNSS speed noise on a standing car
#: is a few tenths of a m/s)
STANDSTILL_MPS = 0.5

#: at or above this speed (m/s) a participant moves: its heading is its direction of travel
MOVING_MPS = 1.0
