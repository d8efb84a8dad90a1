"""Misbehaviour detection: plausibility and consistency checks over each sender's reports.

Every self-report (BSM) is checked on its own and against the sender's recent history, the
other senders nearby and roadside perception. The checks are the VeReMi-extension detector
family, named as the literature does (``model.MisbehaviourCheck``):

- ``range_plausibility``: heard through an RSU (``source`` is a ``Coverage``'s RSU) from
  farther than that RSU's range;
- ``speed_plausibility``: a speed above ``MAX_SPEED_MPS``;
- ``acceleration_plausibility`` (F2MD's speed consistency): the speed changed faster between
  two reports than ``MAX_ACCEL_MPS2`` allows;
- ``position_consistency``: moved farther between two reports than the reported speeds allow;
- ``position_speed_consistency``: over the last ``WINDOW_MS`` the distance moved and the
  distance the reported speeds integrate to disagree;
- ``position_heading_consistency``: the direction of motion is not the reported heading;
- ``sudden_appearance``: first heard through an RSU deep inside its coverage;
- ``intersection``: two senders' bodies in the same place at the same time;
- ``beacon_frequency``: more than ``MAX_BEACON_HZ`` reports a second (DoS);
- ``perception_contradiction``: the claimed place lies inside the coverage of a roadside sensor
  that reports every road user (``Coverage.perceives_all``) and the sensor perceives no object
  there, or one with a very different speed;
- ``data_replay``: moving content (position, speed, heading as sent) reported again later,
  by another id or by the same id (content of the same instant says nothing of who copied);
- ``sybil``: two ids reporting the same speed and heading with a fixed offset, report after
  report (one body, several ids: grid Sybil ghosts).

**Flag rule** (one rule set for every deployment and attack): a sender is flagged when, within
``FLAG_WINDOW_MS``, ``FLAG_MIN_REPORTS`` of its reports failed a check. Intersection evidence
counts only when it involves ``INTERSECTION_MIN_PARTNERS`` different senders that are not
flagged themselves (a liar parked on the road is driven through by many; an honest car
overlaps only the liar, or one Sybil attacker's ghosts one after the other). One glitch — a
GNSS multipath jump, one lost report — never flags. A flagged sender's reports are refused
(``screen`` returns why) until ``FLAG_TTL_MS`` after its last refused report, and a
``MisbehaviourReport`` is produced (``take_reports``; ``on_report``).

Every table is bounded (``max_senders`` tracks, least recently heard dropped first) and
expires (a sender silent for ``FORGET_AFTER_MS`` is forgotten).

>>> from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
>>> det = MisbehaviourDetector()
>>> def at(t, lat): return ParticipantState(id="a1", kind=ParticipantKind.VEHICLE,
...     source=ParticipantSource.BSM, timestamp_ms=t, lat_deg=lat, lon_deg=112.9,
...     speed_mps=10.0, heading_deg=0.0)
>>> [det.screen(at(t, 28.2 + 0.001 * k), received_at_ms=t, source="obu") is None
...  for k, t in enumerate(range(0, 400, 100))]
[True, True, True, False]
>>> det.take_reports()[0].reason.value
'position_consistency'
"""

from __future__ import annotations

import logging
import math
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from v2xcloud.model import (
    Bsm,
    MisbehaviourCheck,
    MisbehaviourReport,
    ParticipantSource,
    ParticipantState,
    Rsm,
)
from v2xcloud.security._pairwise import Fingerprints, Neighbours, Perception, SybilPairs
from v2xcloud.security._tracks import LocalPlane, Sample, Track

__all__ = ["Coverage", "MisbehaviourDetector"]

logger = logging.getLogger(__name__)

C = MisbehaviourCheck

# --- physics and sensing: one rule set, each constant with its physical reason --------------
MAX_SPEED_MPS = 70.0  # 252 km/h: above any road vehicle's top speed in traffic
MAX_ACCEL_MPS2 = 12.0  # tyre grip gives ~10 m/s² braking (μ ≈ 1); more is not a car
SPEED_ERROR_MPS = 0.5  # GNSS Doppler speed error (~0.1–0.3 m/s) plus the wire's rounding
POSITION_ERROR_M = 1.5  # floor of one fix's error when the report claims better (or nothing)
CURVE_SHARE = 0.15  # without headings: a quarter circle's chord is 10 % shorter than its arc
WINDOW_MS = 2000  # position–speed consistency looks back up to this far ...
MIN_BASE_MS = 1000  # ... and at least this far (shorter baselines drown in GNSS error)
MAX_GAP_MS = 3000  # reports farther apart than this are not compared (radio loss)
HEADING_MIN_MOVE_M = 6.0  # the direction of motion needs this much displacement to be known
HEADING_TOLERANCE_DEG = 45.0  # in a 10 m radius turn the chord lags the heading by < 20°
MIN_MOVING_MPS = 2.0  # below this heading and lock-step checks say nothing (jitter)
MAX_BEACON_HZ = 20  # CSAE/YD/T 3709 BSMs come at up to 10 Hz; twice that allows bunching
OVERLAP_M = 1.0  # two cars' reference points closer than this: bodies overlap (width 1.8 m)
INTERSECTION_MAX_DT_MS = 150  # compare with a neighbour's report at most this far apart
INTERSECTION_MIN_PARTNERS = 2
SYBIL_MIN_REPORTS = 20  # 2 s of lock-step at 10 Hz: honest neighbours never hold it that long
SYBIL_OFFSET_TOLERANCE_M = 0.05  # a fixed offset within the wire's 1e-7° (≈1 cm) rounding
SYBIL_SPEED_TOLERANCE_MPS = 0.01  # the same speed to the wire's 0.02 m/s resolution
SYBIL_HEADING_TOLERANCE_DEG = 0.01  # the same heading to the wire's 0.0125° resolution
REPLAY_MIN_SPEED_MPS = 1.0  # standing vehicles repeat their content honestly
REPLAY_WINDOW_MS = 30_000  # content is remembered this long (replays and delays up to it)
# 1 s of another's old content at 10 Hz before it counts: a follower driving the leader's exact
# profile for a moment (braking to the same stop line; lane-snapped, map-matched positions; a
# simulator's deterministic car following) repeats it honestly, a replayer keeps repeating it
REPLAY_MIN_REPORTS = 10
PERCEPTION_GATE_M = 5.0  # a perceived object within this of the claimed place (fix + body)
PERCEPTION_SPEED_GATE_MPS = 5.0  # the object there moves at about the claimed speed
PERCEPTION_EDGE_M = 15.0  # claims this close to a sensor's range limit are not judged
PERCEPTION_MAX_AGE_MS = 300  # perception older than this says nothing about a report
SUDDEN_APPEARANCE_SHARE = 0.5  # first heard within half the RSU's range: did not drive in
FLAG_WINDOW_MS = 5000
FLAG_MIN_REPORTS = 3
FLAG_TTL_MS = 600_000  # a flag lasts 10 min after the last refused report (pseudonym change)
FORGET_AFTER_MS = 30_000


def _chord_share(p: Sample, s: Sample) -> float:
    """The chord's share of the arc on a circle turning from ``p``'s heading to ``s``'s:
    1 on a straight road, 0.90 over a quarter turn (unknown headings: ``CURVE_SHARE``)."""
    if p.heading_deg is None or s.heading_deg is None:
        return 1.0 - CURVE_SHARE
    half = math.radians(abs((s.heading_deg - p.heading_deg + 180.0) % 360.0 - 180.0)) / 2
    return math.sin(half) / half if half > 1e-6 else 1.0


class Coverage(msgspec.Struct, frozen=True, kw_only=True):
    """A roadside unit: where it is, how far it hears and perceives (``range_m``). Reports
    whose ``source`` is ``rsu_id`` came through it; RSMs with its ``rsu_id`` are its
    perception. ``perceives_all``: its RSMs report every road user in range, connected or not
    (a radar/lidar unit). Only then is the unit's silence about a claimed place, or another
    speed at that place, evidence: a unit that reports only unconnected road users (or whose
    coverage is unknown) perceives nothing where an honest connected car drives."""

    rsu_id: str
    lat_deg: float
    lon_deg: float
    range_m: float
    perceives_all: bool = False


class MisbehaviourDetector:
    """Checks self-reports, flags misbehaving senders and writes misbehaviour reports.

    ``coverage``: the RSUs whose reception and perception the checks may use.
    ``max_senders``: tracks kept (least recently heard dropped beyond it). ``on_report``:
    called with each new ``MisbehaviourReport`` (must not block). Structurally a
    ``runtime.MisbehaviourScreen``: the runtime calls ``screen`` on every accepted report.
    """

    def __init__(
        self,
        *,
        coverage: Sequence[Coverage] = (),
        max_senders: int = 100_000,
        on_report: Callable[[MisbehaviourReport], None] | None = None,
    ) -> None:
        self.plane = LocalPlane()
        self.coverage = {c.rsu_id: c for c in coverage}
        self._rsu_xy = {c.rsu_id: self.plane.to_xy(c.lat_deg, c.lon_deg) for c in coverage}
        self.max_senders = max_senders
        self.on_report = on_report
        self._tracks: OrderedDict[str, Track] = OrderedDict()
        self._flags: OrderedDict[str, tuple[int, MisbehaviourReport]] = OrderedDict()
        self._neighbours = Neighbours()
        self._pairs = SybilPairs(capacity=4 * max_senders)
        self._prints = Fingerprints(capacity=20 * max_senders)
        self._perception = Perception()
        self._new_reports: list[MisbehaviourReport] = []
        self._new_flags: list[str] = []
        self.recent_reports: deque[MisbehaviourReport] = deque(maxlen=1000)
        self.counts: Counter[str] = Counter()
        self._last_sweep_ms = 0

    # -- the screen -----------------------------------------------------------------------------

    def screen(
        self,
        message: Any,
        *,
        received_at_ms: int,
        source: str,
        certificate_digest: str | None = None,
    ) -> str | None:
        """Judge one accepted message; ``None``: use it, else why it is refused (its sender
        is flagged). RSMs feed the perception cross-check and are never refused; other
        message types pass untouched."""
        if isinstance(message, Bsm):
            message = message.participant
        if isinstance(message, Rsm):
            self._perceive(message)
            return None
        if not isinstance(message, ParticipantState) or message.source is not ParticipantSource.BSM:
            return None
        self._sweep(received_at_ms)
        self.counts["checked"] += 1
        flag = self._flags.get(message.id)
        if flag is not None:
            self._flags[message.id] = (received_at_ms, flag[1])
            self._flags.move_to_end(message.id)
            self.counts["refused"] += 1
            return self._refusal(message.id, flag[1])
        report = self._check(message, received_at_ms, source, certificate_digest)
        if report is None:
            return None
        self.counts["refused"] += 1
        return self._refusal(message.id, report)

    @staticmethod
    def _refusal(sender: str, report: MisbehaviourReport) -> str:
        return (
            f"sender {sender} is flagged as misbehaving since {report.flagged_at_ms} "
            f"({report.reason.value}, {len(report.evidence)} failed reports)"
        )

    def is_flagged(self, sender: str) -> bool:
        """Whether ``sender`` is flagged now."""
        return sender in self._flags

    def take_flagged(self) -> list[str]:
        """Senders flagged since the last call (the runtime drops them from the scene)."""
        out, self._new_flags = self._new_flags, []
        return out

    def take_reports(self) -> list[MisbehaviourReport]:
        """Misbehaviour reports produced since the last call, oldest first."""
        out, self._new_reports = self._new_reports, []
        return out

    def stats(self) -> dict[str, Any]:
        """Counters: reports checked and refused, evidence per check, flags; table sizes."""
        return {
            **self.counts,
            "senders": len(self._tracks),
            "flagged_now": len(self._flags),
            "fingerprints": len(self._prints),
            "sybil_pairs": len(self._pairs),
        }

    # -- one report -----------------------------------------------------------------------------

    def _check(
        self, state: ParticipantState, now_ms: int, source: str, digest: str | None
    ) -> MisbehaviourReport | None:
        track = self._track(state.id, now_ms)
        track.source = source
        track.certificate_digest = digest or track.certificate_digest
        x, y = self.plane.to_xy(state.lat_deg, state.lon_deg)
        s = Sample(state.timestamp_ms, x, y, state.speed_mps, state.heading_deg)
        err = max(state.position_accuracy_m or 0.0, POSITION_ERROR_M)
        found: list[tuple[C, str, str | None]] = []
        self._rate(track, s, found)
        self._speed(s, found)
        prev = track.last()
        if prev is None or s.t_ms > prev.t_ms:  # late reports are not compared with newer
            is_good = True
            if prev is not None and s.t_ms - prev.t_ms <= MAX_GAP_MS:
                is_good = self._step(prev, s, err, found)
                self._window(track, s, err, found)
                self._heading(track, s, found)
            if is_good:  # a report that jumped is not the reference for the next ones
                track.samples.append(s)
            self._neighbours_check(state.id, track, s, found)
        self._receiver(track, s, source, err, found)
        self._perception_check(s, found)
        self._replay(state, s, found)
        for check, detail, other in found:
            track.add_evidence(check, s.t_ms, detail, other)
            self.counts[f"evidence:{check.value}"] += 1
        return self._flag_rule(state.id, track, now_ms) if found else None

    def _track(self, sender: str, now_ms: int) -> Track:
        track = self._tracks.get(sender)
        if track is None:
            track = Track(first_ms=now_ms, last_seen_ms=now_ms)
            self._tracks[sender] = track
            if len(self._tracks) > self.max_senders:
                old, _ = self._tracks.popitem(last=False)
                self._neighbours.remove(old)
                self.counts["evicted"] += 1
        else:
            track.last_seen_ms = now_ms
            self._tracks.move_to_end(sender)
        return track

    def _rate(self, track: Track, s: Sample, found: list[tuple[C, str, str | None]]) -> None:
        times = track.report_times
        times.append(s.t_ms)
        recent = sum(1 for t in times if s.t_ms - 1000 < t <= s.t_ms)
        if recent > MAX_BEACON_HZ:
            found.append((C.BEACON_FREQUENCY, f"{recent} reports within 1 s "
                          f"(at most {MAX_BEACON_HZ} a second)", None))  # fmt: skip

    @staticmethod
    def _speed(s: Sample, found: list[tuple[C, str, str | None]]) -> None:
        if s.speed_mps is not None and s.speed_mps > MAX_SPEED_MPS:
            found.append(
                (C.SPEED_PLAUSIBILITY, f"speed {s.speed_mps:.1f} m/s > {MAX_SPEED_MPS} m/s", None)
            )

    @staticmethod
    def _step(p: Sample, s: Sample, err: float, found: list[tuple[C, str, str | None]]) -> bool:
        """Speed change and distance against the previous report; whether the position is
        consistent with it."""
        dt = (s.t_ms - p.t_ms) * 0.001
        if s.speed_mps is not None and p.speed_mps is not None:
            dv = abs(s.speed_mps - p.speed_mps)
            if dv > MAX_ACCEL_MPS2 * dt + 2 * SPEED_ERROR_MPS:
                found.append((C.ACCELERATION_PLAUSIBILITY, f"speed {p.speed_mps:.2f} -> "
                              f"{s.speed_mps:.2f} m/s in {dt:.2f} s ({dv / dt:.0f} m/s²)", None))  # fmt: skip
        top = (
            max(s.speed_mps or 0.0, p.speed_mps or 0.0)
            if s.speed_mps is not None
            else MAX_SPEED_MPS
        )
        d = math.hypot(s.x_m - p.x_m, s.y_m - p.y_m)
        allowed = top * dt + 0.5 * MAX_ACCEL_MPS2 * dt * dt + 2 * err
        if d > allowed:
            found.append((C.POSITION_CONSISTENCY, f"moved {d:.1f} m in {dt:.2f} s at "
                          f"{top:.1f} m/s (at most {allowed:.1f} m)", None))  # fmt: skip
            return False
        return True

    @staticmethod
    def _window(
        track: Track, s: Sample, err: float, found: list[tuple[C, str, str | None]]
    ) -> None:
        """Distance moved over the last 1–2 s against the reported speeds' integral."""
        samples = track.samples
        k = len(samples) - 1
        travelled = 0.0
        newer = s
        while k >= 0:
            p = samples[k]
            if newer.t_ms - p.t_ms > MAX_GAP_MS or p.speed_mps is None or newer.speed_mps is None:
                return
            travelled += 0.5 * (p.speed_mps + newer.speed_mps) * (newer.t_ms - p.t_ms) * 0.001
            span = s.t_ms - p.t_ms
            if span >= MIN_BASE_MS:
                break
            newer, k = p, k - 1
        else:
            return
        if span > WINDOW_MS:
            return
        chord = math.hypot(s.x_m - p.x_m, s.y_m - p.y_m)
        tol = 2 * err + SPEED_ERROR_MPS * span * 0.001
        if chord > travelled + tol or chord < travelled * _chord_share(p, s) - tol:
            found.append((C.POSITION_SPEED_CONSISTENCY, f"moved {chord:.1f} m in "
                          f"{span / 1000:.1f} s; reported speeds give {travelled:.1f} m "
                          f"(± {tol:.1f} m)", None))  # fmt: skip

    @staticmethod
    def _heading(track: Track, s: Sample, found: list[tuple[C, str, str | None]]) -> None:
        if s.heading_deg is None or (s.speed_mps or 0.0) < MIN_MOVING_MPS:
            return
        for p in reversed(track.samples):
            if s.t_ms - p.t_ms > MAX_GAP_MS:
                return
            dx, dy = s.x_m - p.x_m, s.y_m - p.y_m
            if math.hypot(dx, dy) >= HEADING_MIN_MOVE_M:
                motion = math.degrees(math.atan2(dx, dy)) % 360.0
                diff = abs((s.heading_deg - motion + 180.0) % 360.0 - 180.0)
                if diff > HEADING_TOLERANCE_DEG:
                    found.append((C.POSITION_HEADING_CONSISTENCY, f"moving towards "
                                  f"{motion:.0f}° while reporting heading {s.heading_deg:.0f}°", None))  # fmt: skip
                return

    def _neighbours_check(
        self, sender: str, track: Track, s: Sample, found: list[tuple[C, str, str | None]]
    ) -> None:
        moving = (s.speed_mps or 0.0) >= MIN_MOVING_MPS
        for other, o, d in self._neighbours.near(s, max_age_ms=INTERSECTION_MAX_DT_MS):
            if other == sender:
                continue
            if d < OVERLAP_M:
                found.append(
                    (C.INTERSECTION, f"{d:.2f} m from the other sender's reference point", other)
                )
                self._partner_evidence(other, sender, C.INTERSECTION, s.t_ms,
                                       f"{d:.2f} m from the other sender's reference point")  # fmt: skip
            if (
                moving
                and o.t_ms == s.t_ms
                and o.speed_mps is not None
                and o.heading_deg is not None
                and abs(o.speed_mps - (s.speed_mps or 0.0)) <= SYBIL_SPEED_TOLERANCE_MPS
                and abs(o.heading_deg - (s.heading_deg or 0.0)) <= SYBIL_HEADING_TOLERANCE_DEG
            ):
                run = self._pairs.observe(
                    sender, s, other, o, offset_tol_m=SYBIL_OFFSET_TOLERANCE_M
                )
                if run >= SYBIL_MIN_REPORTS:
                    detail = (
                        f"moves in lock-step with the other sender ({run} reports, "
                        f"offset {d:.1f} m)"
                    )
                    found.append((C.SYBIL, detail, other))
                    self._partner_evidence(other, sender, C.SYBIL, s.t_ms, detail)
        self._neighbours.put(sender, s)

    def _partner_evidence(self, other: str, sender: str, check: C, t_ms: int, detail: str) -> None:
        """A pairwise check failed: the other party gets the evidence too."""
        track = self._tracks.get(other)
        if track is not None and other not in self._flags:
            track.add_evidence(check, t_ms, detail, sender)
            self.counts[f"evidence:{check.value}"] += 1
            self._flag_rule(other, track, track.last_seen_ms)

    def _receiver(
        self,
        track: Track,
        s: Sample,
        source: str,
        err: float,
        found: list[tuple[C, str, str | None]],
    ) -> None:
        cov = self.coverage.get(source)
        if cov is None:
            return
        rx, ry = self._rsu_xy[source]
        d = math.hypot(s.x_m - rx, s.y_m - ry)
        if d > cov.range_m + 2 * err:
            found.append((C.RANGE_PLAUSIBILITY, f"{d:.0f} m from {source}, which hears "
                          f"{cov.range_m:.0f} m", source))  # fmt: skip
        if len(track.samples) <= 1 and d < cov.range_m * SUDDEN_APPEARANCE_SHARE:
            found.append((C.SUDDEN_APPEARANCE, f"first heard {d:.0f} m from {source} "
                          f"(range {cov.range_m:.0f} m)", source))  # fmt: skip

    def _perceive(self, rsm: Rsm) -> None:
        objects = []
        for p in rsm.participants:
            x, y = self.plane.to_xy(p.lat_deg, p.lon_deg)
            objects.append(Sample(p.timestamp_ms, x, y, p.speed_mps, p.heading_deg))
        t = max((o.t_ms for o in objects), default=0)
        self._perception.put(rsm.rsu_id, t, objects)
        self.counts["perception_snapshots"] += 1

    def _perception_check(self, s: Sample, found: list[tuple[C, str, str | None]]) -> None:
        for rsu_id, cov in self.coverage.items():
            if not cov.perceives_all:
                continue
            rx, ry = self._rsu_xy[rsu_id]
            if math.hypot(s.x_m - rx, s.y_m - ry) > cov.range_m - PERCEPTION_EDGE_M:
                continue
            near = self._perception.nearest(rsu_id, s, max_age_ms=PERCEPTION_MAX_AGE_MS)
            if near is None:
                continue
            d, o = near
            if d > PERCEPTION_GATE_M:
                found.append((C.PERCEPTION_CONTRADICTION, f"{rsu_id} perceives nothing within "
                              f"{PERCEPTION_GATE_M:g} m of the claimed place (nearest "
                              f"{d:.0f} m)", rsu_id))  # fmt: skip
            elif (
                o.speed_mps is not None
                and s.speed_mps is not None
                and abs(o.speed_mps - s.speed_mps) > PERCEPTION_SPEED_GATE_MPS
            ):
                found.append((C.PERCEPTION_CONTRADICTION, f"{rsu_id} perceives the object there"
                              f" at {o.speed_mps:.1f} m/s, claimed {s.speed_mps:.1f} m/s", rsu_id))  # fmt: skip

    def _replay(
        self, state: ParticipantState, s: Sample, found: list[tuple[C, str, str | None]]
    ) -> None:
        if s.speed_mps is None or s.speed_mps < REPLAY_MIN_SPEED_MPS:
            return
        key = (
            round(state.lat_deg * 1e7),
            round(state.lon_deg * 1e7),
            round(s.speed_mps * 50),
            round((s.heading_deg or 0.0) * 80),
        )
        first = self._prints.first_sender(key, state.id, s.t_ms)
        # the same content at the same instant cannot say who copied whom (the copier of a
        # live state is caught by its jumps and overlaps); re-sent later, it can
        if first is not None and first[1] < s.t_ms:
            who, t = first
            detail = f"same position, speed and heading as the other sender's report of {t}"
            found.append((C.DATA_REPLAY, detail, who))

    # -- the flag rule --------------------------------------------------------------------------

    def _flag_rule(self, sender: str, track: Track, now_ms: int) -> MisbehaviourReport | None:
        if sender in self._flags:
            return self._flags[sender][1]
        latest = track.evidence[-1].at_ms
        recent = [e for e in track.evidence if latest - e.at_ms <= FLAG_WINDOW_MS]
        # overlaps count from INTERSECTION_MIN_PARTNERS senders not flagged themselves (one
        # Sybil attacker's ghosts, flagged one after the other, are not several witnesses)
        partners = {
            e.other_id
            for e in recent
            if e.check is C.INTERSECTION and e.other_id not in self._flags
        }
        replays = len({e.at_ms for e in recent if e.check is C.DATA_REPLAY})
        counted = [
            e
            for e in recent
            if (e.check is not C.INTERSECTION or len(partners) >= INTERSECTION_MIN_PARTNERS)
            and (e.check is not C.DATA_REPLAY or replays >= REPLAY_MIN_REPORTS)
        ]
        if len({e.at_ms for e in counted}) < FLAG_MIN_REPORTS:
            return None
        reason = Counter(e.check for e in counted).most_common(1)[0][0]
        report = MisbehaviourReport(
            sender_id=sender,
            flagged_at_ms=now_ms,
            reason=reason,
            evidence=tuple(counted[-20:]),
            certificate_digest=track.certificate_digest,
            source=track.source,
        )
        self._flags[sender] = (now_ms, report)
        self._new_flags.append(sender)
        self._new_reports.append(report)
        self.recent_reports.append(report)
        self.counts["flagged"] += 1
        logger.info("flagged %s as misbehaving: %s", sender, reason.value)
        if self.on_report is not None:
            self.on_report(report)
        return report

    # -- bounds -----------------------------------------------------------------------------------

    def _sweep(self, now_ms: int) -> None:
        """Once a second: forget silent senders, old content, old pairs and expired flags."""
        if now_ms - self._last_sweep_ms < 1000:
            return
        self._last_sweep_ms = now_ms
        tracks = self._tracks
        while tracks:
            sender, track = next(iter(tracks.items()))
            if now_ms - track.last_seen_ms <= FORGET_AFTER_MS:
                break
            del tracks[sender]
            self._neighbours.remove(sender)
            self.counts["forgotten"] += 1
        self._prints.expire(now_ms - REPLAY_WINDOW_MS)  # generation times: GNSS clocks
        self._pairs.expire(now_ms - WINDOW_MS)
        flags = self._flags
        while flags:
            sender, (last, _) = next(iter(flags.items()))
            if now_ms - last <= FLAG_TTL_MS:
                break
            del flags[sender]
            self.counts["flags_expired"] += 1
