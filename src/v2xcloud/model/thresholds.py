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

How long a vehicle stands in a lane with nothing to explain it (no queue ahead, no stop line,
red light, junction or turn signal) before it is a hazard to the traffic behind,
``UNEXPLAINED_STOP_S``, is shared too: AVW warns of it and the stopped-vehicle detector (HLW's
RSI) announces it.

Thresholds that belong to one application (its own margins and limits) stay in that
application's config.
"""

from __future__ import annotations

__all__ = ["MOVING_MPS", "STANDSTILL_MPS", "UNEXPLAINED_STOP_S"]

#: at or below this speed (m/s) a participant stands still (GNSS speed noise on a standing car
#: is a few tenths of a m/s)
STANDSTILL_MPS = 0.5

#: at or above this speed (m/s) a participant moves: its heading is its direction of travel
MOVING_MPS = 1.0

#: a silent, unexplained standstill in a lane (seconds) that makes a vehicle a hazard: a car
#: pausing to let a passenger out, to park or to let someone cross stands a few seconds (the
#: bench's ground truth, ``sim.v2i_truth.HAZARD_STOP_S``, uses the same 10 s)
UNEXPLAINED_STOP_S = 10.0
