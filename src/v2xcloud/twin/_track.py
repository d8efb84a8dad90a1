"""The per-participant tracker: a small Kalman filter per road user, vectorised over a batch.

Why a Kalman filter and not an alpha-beta filter: the two are the same recursion, but the
Kalman gain follows from each report's own measurement noise. That is what the scene needs:
a BSM's speed (wheel speed / GNSS Doppler) and its *measured* acceleration and yaw rate (an
IMU) are good to a few tenths, a roadside track's speed is itself differentiated from
video or radar positions and its acceleration, if any, twice; a fixed-gain alpha-beta filter
would either trust the roadside jitter or lag behind the BSM. The gain adapts to the source
and to the gap since the last report (a dropped message widens the prediction).

The model is decoupled into three small linear filters per participant, each in closed
form (numpy over the batch's rows, no matrices per row):

- **longitudinal**, state (speed, acceleration), constant acceleration with white jerk
  (spectral density ``JERK_Q``); measurements: the reported speed, and the acceleration
  when the sender measured one;
- **heading**, state (heading, yaw rate), constant turn rate with white yaw acceleration
  (``YAW_ACCEL_Q``); measurements: the reported heading (its noise grows as speed falls:
  a heading from a velocity vector is ``atan(σ_speed / speed)`` uncertain) and a measured yaw
  rate; a standing vehicle does not turn (a yaw rate 0 pseudo-measurement);
- **position**, state (x, y) with one isotropic variance, moved by the filtered velocity
  (the velocity's own variance widens it) and corrected by the reported position.

Every measurement is gated on its normalised innovation (``GATE_SIGMA``). A position, speed
or heading beyond the gate is dropped (a roadside track's spike builds no acceleration); a
second one in a row restarts that quantity from the measurement with its rate unknown
again (the source jumped: a roadside track re-born, a fusion with another sensor), so no
acceleration is ever concluded from a jump. A self-report's measured acceleration is taken
as the estimate (its IMU's σ as the variance); over the interval before it, the speed is
predicted with the mean of it and the previous estimate (the acceleration changed somewhere
in between: a brake's onset), the variance of that guess added to the speed's. A measured
acceleration or yaw rate is not gated (an IMU measures the quantity itself; a brake's onset
steps within a report). Physics bounds the rest: the acceleration stays within
``ACCEL_LIMITS_MPS2``, and a vehicle that the prediction brings below zero speed has
stopped: its speed and deceleration are set to 0 (braking ends at a stop; vehicles do not
reverse here).

The filter's state is the scene's own per-participant columns (``_columns``): the estimates
in ``x_m``, ``y_m``, ``speed_mps``, ``accel_mps2``, ``heading_deg``, ``yaw_rate_dps`` and
the covariances in ``p_*``; it starts with the participant's first report and expires with
its row.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from v2xcloud.model.thresholds import STANDSTILL_MPS

__all__ = [
    "ACCEL_LIMITS_MPS2",
    "ACCEL_PRIOR_SD_MPS2",
    "COVARIANCE_COLUMNS",
    "DISPLACEMENT_SD_M",
    "ESTIMATE_COLUMNS",
    "GATE_SIGMA",
    "JERK_Q",
    "MISSED_HEADING",
    "MISSED_POSITION",
    "MISSED_SPEED",
    "NEWBORN_MS",
    "NEWBORN_SPEED_SD_MPS",
    "ROADSIDE",
    "SELF_REPORT",
    "YAW_ACCEL_Q",
    "YAW_PRIOR_SD_DPS",
    "Measurements",
    "SourceNoise",
    "step",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: white-jerk spectral density (m²/s⁵) of the constant-acceleration model. Chosen on a
#: synthetic track with known truth (tests/twin/test_track.py; 12 m/s, then -6 m/s² to a
#: stop, roadside speed noise 0.3 m/s with 5 % outliers at 5σ): 3 keeps the cruise's
#: acceleration error at ~0.4 m/s² (raw 0.5 s differences: ~1 m/s², 0.1 s: ~4 m/s²) and is
#: sure of a -6 m/s² brake (estimate + 1σ ≤ -4) within ~0.8 s from roadside speeds alone,
#: ~0.3 s with a measured acceleration; 40 doubled the error for 0.1 s less lag
JERK_Q = 3.0
#: white yaw-acceleration spectral density ((deg/s)²/s) of the constant-turn-rate model: a
#: junction turn builds 20–40 deg/s of yaw rate in about a second; 200 follows a 30 deg/s²
#: ramp to 8 deg/s ("turning", ``apps._select.TURNING_DPS``) within ~0.6 s of its start on
#: roadside headings (2° noise), with no straight drive read as turning (900: 0.4 s, but
#: 1 sample in 20 of a straight drive over 8 deg/s)
YAW_ACCEL_Q = 200.0
#: position random walk beyond the velocity's prediction (m²/s): lateral wander, lane changes
POSITION_Q = 0.5
#: acceleration and yaw rate of a participant first seen without a measured one: unknown
#: (1σ), so nothing is concluded from them until reports have made them small
ACCEL_PRIOR_SD_MPS2 = 3.0
YAW_PRIOR_SD_DPS = 20.0
#: a roadside tracker reports a new track's velocity before its own filter has converged
#: (K733: every track is born at 0 m/s, then jumps to its speed within ~0.5 s): a roadside
#: track's speed during its first ``NEWBORN_MS`` is taken with noise ``NEWBORN_SPEED_SD_MPS``
NEWBORN_MS = 1000
NEWBORN_SPEED_SD_MPS = 4.0
#: noise (1σ, m) of the displacement between two consecutive positions of one source: much
#: less than a position's absolute error, which drifts slowly (GNSS errors are correlated over
#: seconds; a roadside tracker's offsets too); K733's tracks: ~0.1 m frame to frame
DISPLACEMENT_SD_M = 0.1
#: a measurement whose innovation is beyond this many standard deviations is not used
GATE_SIGMA = 3.0
#: physical bounds of a road vehicle's longitudinal acceleration (m/s²): tyre grip (~1 g)
#: braking, a quick car's launch
ACCEL_LIMITS_MPS2 = (-10.0, 6.0)
#: bits of the ``gate_missed`` column: the quantity's last measurement missed the gate
MISSED_POSITION, MISSED_SPEED, MISSED_HEADING = 1, 2, 4
#: a standing vehicle does not turn: yaw rate 0 with this noise (deg/s) below standstill speed
_STANDING_YAW_SD_DPS = 1.0
_SPEED_PRIOR_SD_MPS = 5.0  # a first report without a speed


#: the scene's columns holding the estimates (the filter's state)
ESTIMATE_COLUMNS = ("x_m", "y_m", "speed_mps", "accel_mps2", "heading_deg", "yaw_rate_dps")
#: the columns holding the covariances: position (isotropic, m²), (speed, acceleration) and
#: (heading, yaw rate) 2×2 blocks as (variance, covariance, variance)
COVARIANCE_COLUMNS = ("p_pos", "p_vv", "p_va", "p_aa", "p_hh", "p_hw", "p_ww")


class SourceNoise:
    """Measurement noise (1σ) of one kind of source.

    ``position_m`` is used when a report gives no ``position_accuracy_m``; ``heading_deg`` is
    the floor of the heading's noise (it grows as ``atan(σ speed / speed)`` at low speed).
    """

    __slots__ = ("accel_mps2", "heading_deg", "position_m", "speed_mps", "yaw_rate_dps")

    def __init__(
        self,
        *,
        position_m: float,
        speed_mps: float,
        heading_deg: float,
        accel_mps2: float,
        yaw_rate_dps: float,
    ) -> None:
        self.position_m = position_m
        self.speed_mps = speed_mps
        self.heading_deg = heading_deg
        self.accel_mps2 = accel_mps2
        self.yaw_rate_dps = yaw_rate_dps


#: a self-report (BSM): automotive GNSS position, wheel-speed/Doppler speed, IMU acceleration
#: and gyro yaw rate (SAE J2735 / CSAE confidence classes of a typical OBU)
SELF_REPORT = SourceNoise(
    position_m=1.5, speed_mps=0.2, heading_deg=1.0, accel_mps2=0.3, yaw_rate_dps=1.0
)
#: a roadside track (RSM): positions from video/radar, speed and heading differentiated from
#: them by the roadside tracker (K733: speed jitter ~0.3 m/s at 10 Hz with heavier tails)
ROADSIDE = SourceNoise(
    position_m=0.5, speed_mps=0.5, heading_deg=2.0, accel_mps2=1.0, yaw_rate_dps=4.0
)


class Measurements:
    """One batch of reports as the filter reads them (NaN: not reported)."""

    __slots__ = (
        "accel",
        "first",
        "heading",
        "newborn",
        "position_sd",
        "roadside",
        "speed",
        "speed_derived",
        "x",
        "y",
        "yaw",
    )

    def __init__(
        self,
        *,
        x: FloatArray,
        y: FloatArray,
        speed: FloatArray,
        heading: FloatArray,
        accel: FloatArray,
        yaw: FloatArray,
        position_sd: FloatArray,
        roadside: BoolArray,
        first: BoolArray,
        speed_derived: BoolArray,
        newborn: BoolArray,
    ) -> None:
        self.x, self.y, self.speed, self.heading = x, y, speed, heading
        self.accel, self.yaw = accel, yaw
        self.position_sd = position_sd  # NaN: the source's default
        self.roadside = roadside  # roadside perception, else a self-report
        self.first = first  # no filter state yet (a new participant)
        self.speed_derived = speed_derived  # speed/heading from the displacement (not reported)
        self.newborn = newborn  # a track younger than ``NEWBORN_MS``


def _noise(roadside: BoolArray, attr: str) -> FloatArray:
    return np.where(roadside, getattr(ROADSIDE, attr), getattr(SELF_REPORT, attr))


def _update_value(
    m: FloatArray,
    r: FloatArray,
    p00: FloatArray,
    p01: FloatArray,
    p11: FloatArray,
    innov: FloatArray,
    var: FloatArray,
    ok: BoolArray,
    possible: FloatArray | float = 0.0,
) -> BoolArray:
    """Kalman update (in place) of a (value, rate) state by a measurement of the value.

    A measurement beyond the gate (``GATE_SIGMA`` standard deviations, plus the change
    ``possible`` physically since the last report) is not used; returns where that was."""
    s = p00 + var
    rejected = ok & (innov * innov > GATE_SIGMA * GATE_SIGMA * s + possible * possible)
    ok = ok & ~rejected
    k0 = np.where(ok, p00 / s, 0.0)
    k1 = np.where(ok, p01 / s, 0.0)
    innov = np.where(ok, innov, 0.0)
    m += k0 * innov
    r += k1 * innov
    p11 -= k1 * p01
    p01 *= 1.0 - k0
    p00 *= 1.0 - k0
    return rejected


def _update_rate(
    m: FloatArray,
    r: FloatArray,
    p00: FloatArray,
    p01: FloatArray,
    p11: FloatArray,
    innov: FloatArray,
    var: FloatArray,
    ok: BoolArray,
) -> None:
    """Kalman update (in place) of a (value, rate) state by a measurement of the rate (not
    gated: an IMU's acceleration or gyro's yaw rate may step within a report, a brake's
    onset does, and it is the quantity itself, not a difference)."""
    s = p11 + var
    k0 = np.where(ok, p01 / s, 0.0)
    k1 = np.where(ok, p11 / s, 0.0)
    innov = np.where(ok, innov, 0.0)
    m += k0 * innov
    r += k1 * innov
    p00 -= k0 * p01
    p01 *= 1.0 - k1
    p11 *= 1.0 - k1


def _predict(
    m: FloatArray,
    r: FloatArray,
    p00: FloatArray,
    p01: FloatArray,
    p11: FloatArray,
    dt: FloatArray,
    q: float,
) -> None:
    """Constant-rate prediction over ``dt`` with white noise on the rate's derivative."""
    m += r * dt
    dt2 = dt * dt
    p00 += dt * (2.0 * p01 + dt * p11) + q * dt2 * dt * (1.0 / 3.0)
    p01 += dt * p11 + q * dt2 * 0.5
    p11 += q * dt


def step(state: dict[str, FloatArray], missed: IntArray, dt_s: FloatArray, z: Measurements) -> None:
    """Predict the rows' filter states over ``dt_s`` and update them with ``z``, in place.

    ``state`` holds the rows' previous estimates and covariances by column name (copies of
    the scene's columns), ``missed`` the rows' gate bits (``MISSED_*``: the last measurement
    of that quantity fell outside the gate); rows with ``z.first`` start from ``z``. A
    measurement outside the gate is dropped; a second one in a row restarts that quantity
    from it (the source jumped: a roadside track re-born, another sensor), with its rate
    unknown again.
    """
    first, roadside = z.first, z.roadside
    n = first.size
    missed[first] = 0
    dt = np.where(first, 0.0, np.maximum(dt_s, 0.0))
    x, y = state["x_m"], state["y_m"]
    v, a = state["speed_mps"], state["accel_mps2"]
    h, w = state["heading_deg"], state["yaw_rate_dps"]
    p_pos = state["p_pos"]
    pvv, pva, paa = state["p_vv"], state["p_va"], state["p_aa"]
    phh, phw, pww = state["p_hh"], state["p_hw"], state["p_ww"]

    sd_p = np.where(z.position_sd == z.position_sd, z.position_sd, _noise(roadside, "position_m"))
    sd_v = _noise(roadside, "speed_mps")
    # a speed from two positions (not reported): the displacement's noise over the gap
    sd_d = np.sqrt(2.0) * DISPLACEMENT_SD_M / np.maximum(dt_s, 0.05)
    sd_v = np.where(z.speed_derived, sd_d, sd_v)
    sd_v = np.where(roadside & z.newborn, np.maximum(sd_v, NEWBORN_SPEED_SD_MPS), sd_v)
    sd_a = _noise(roadside, "accel_mps2")
    sd_w = _noise(roadside, "yaw_rate_dps")
    has_v = z.speed == z.speed
    has_h = z.heading == z.heading
    has_a = z.accel == z.accel
    has_w = z.yaw == z.yaw

    # --- position: predicted with the filtered velocity, then corrected
    hdg = h == h
    rad = np.radians(np.where(hdg, h, 0.0))
    moved = np.where(first | (v != v), 0.0, v * dt + 0.5 * np.where(a == a, a, 0.0) * dt * dt)
    moved = np.maximum(moved, 0.0)
    x += np.where(hdg, moved * np.sin(rad), 0.0)
    y += np.where(hdg, moved * np.cos(rad), 0.0)
    turn_var = np.where(hdg, np.radians(np.sqrt(np.maximum(phh, 0.0))) ** 2, 0.0)
    p_pos += dt * dt * np.where(pvv == pvv, pvv, 0.0) + moved * moved * turn_var
    p_pos += POSITION_Q * dt
    var_p = sd_p * sd_p
    ix, iy = z.x - x, z.y - y
    s = p_pos + var_p
    far = ~first & ((ix * ix + iy * iy) > 2.0 * GATE_SIGMA * GATE_SIGMA * s)  # two axes
    restart = first | (far & ((missed & MISSED_POSITION) != 0))
    k = np.where(far, 0.0, p_pos / s)
    x += k * ix
    y += k * iy
    p_pos *= 1.0 - k
    x[restart], y[restart], p_pos[restart] = z.x[restart], z.y[restart], var_p[restart]
    _mark(missed, MISSED_POSITION, far & ~restart)

    # --- longitudinal: (speed, acceleration)
    run_v = ~first & (v == v)
    # a self-report's measured acceleration now and the estimate before bracket the
    # interval: its acceleration changed somewhere within it, when is unknown (uniformly):
    # the speed moves by the mean of the two, with the variance of that guess
    step_a = np.where(has_a & ~roadside & run_v, z.accel - a, 0.0)
    a += 0.5 * step_a
    pvv += (step_a * dt) ** 2 / 12.0
    _predict(v, a, pvv, pva, paa, np.where(run_v, dt, 0.0), JERK_Q)
    stopped = run_v & (v < 0.0)  # braked to a stop: braking ends there
    v[stopped] = 0.0
    a[stopped] = np.maximum(a[stopped], 0.0)
    # what the vehicle could have changed since (a pull-away between 1 Hz reports) is no jump
    possible = ACCEL_LIMITS_MPS2[1] * dt
    far = _update_value(v, a, pvv, pva, paa, z.speed - v, sd_v * sd_v, run_v & has_v, possible)
    restart = ~run_v | (far & ((missed & MISSED_SPEED) != 0))
    _mark(missed, MISSED_SPEED, far & ~restart)
    v[restart] = np.where(has_v, z.speed, 0.0)[restart]
    a[restart] = np.where(has_a, z.accel, 0.0)[restart]
    pvv[restart] = np.where(has_v, sd_v * sd_v, _SPEED_PRIOR_SD_MPS**2)[restart]
    pva[restart] = 0.0
    paa[restart] = np.where(has_a, sd_a * sd_a, ACCEL_PRIOR_SD_MPS2**2)[restart]
    # a self-report's measured acceleration is the sender's IMU now: it is the estimate
    # (a filter of the jerk-limited model smooths a driver's step changes into a lag of
    # 0.1-0.3 s, which matters for "is it braking enough"); roadside ones are filtered
    own = has_a & ~roadside
    _update_rate(v, a, pvv, pva, paa, z.accel - a, sd_a * sd_a, ~restart & has_a & roadside)
    a[own], paa[own], pva[own] = z.accel[own], (sd_a * sd_a)[own], 0.0
    np.maximum(v, 0.0, out=v)
    np.clip(a, ACCEL_LIMITS_MPS2[0], ACCEL_LIMITS_MPS2[1], out=a)

    # --- heading: (heading, yaw rate); the heading's noise grows as the speed falls
    run_h = ~first & hdg
    _predict(h, w, phh, phw, pww, np.where(run_h, dt, 0.0), YAW_ACCEL_Q)
    speed_ref = np.maximum(np.where(has_v, z.speed, v), 1e-3)
    sd_h = np.maximum(_noise(roadside, "heading_deg"), np.degrees(np.arctan(sd_v / speed_ref)))
    innov_h = (z.heading - h + 180.0) % 360.0 - 180.0
    far = _update_value(h, w, phh, phw, pww, innov_h, sd_h * sd_h, run_h & has_h)
    restart = has_h & (~run_h | (far & ((missed & MISSED_HEADING) != 0)))
    _mark(missed, MISSED_HEADING, far & ~restart)
    h[restart] = z.heading[restart]
    w[restart] = np.where(has_w, z.yaw, 0.0)[restart]
    phh[restart] = (sd_h * sd_h)[restart]
    phw[restart] = 0.0
    pww[restart] = np.where(has_w, sd_w * sd_w, YAW_PRIOR_SD_DPS**2)[restart]
    hdg = h == h
    _update_rate(h, w, phh, phw, pww, z.yaw - w, sd_w * sd_w, ~restart & has_w & hdg)
    standing = (v <= STANDSTILL_MPS) & hdg
    _update_rate(h, w, phh, phw, pww, -w, np.full(n, _STANDING_YAW_SD_DPS**2), standing)
    np.mod(h, 360.0, out=h)


def _mark(missed: IntArray, bit: int, now: BoolArray) -> None:
    """Set ``bit`` where this quantity's measurement missed the gate now, clear it elsewhere."""
    missed &= ~bit
    missed |= np.where(now, bit, 0)
