"""The live EV monitor: the fleet's latest state, recent series, alarms and charging, in memory.

:class:`EvMonitor` sits where the GB/T 32960 server already sends its results, so nothing is
decoded or judged twice: it is the server's report sink (every accepted, de-duplicated
report; it passes each on to the history sink when there is one), the alarm monitor's sink
(``ev.alarms.AlarmMonitor``: the vehicles' own level-3 alarms, the battery anomalies with
their explanation, charging alarms) and the alarm monitor's ``on_charging`` (every charging
verdict of ``ev.charging``). The scheduler's plan (``ev.scheduler``) is computed from the
latest report of each vehicle when asked, at most once per ``plan_refresh_ms``.

Bounds: at most ``max_vehicles`` VINs (past it the one not heard from the longest, i.e. the
longest offline, is evicted with everything kept for it, counted in ``evicted``); per
vehicle at most ``max_samples`` samples no older than ``max_age_ms`` before its newest, and
its newest ``alarms_per_vehicle`` alarms; fleet-wide the newest ``max_alarms`` alarms and
``max_reports`` reports. A sample costs 44 bytes (numpy columns, float32 values), so the
defaults hold at most ~16 kB per vehicle of series.

Alarms of ``level >= 3`` also go to every listener added with :meth:`add_alarm_listener`
(the console-wide alarm list); a listener that fails is counted (``failures``,
``ev:alarm_listener``) and logged, never stops the others or the receive path.

Thread safety: the server writes on its event loop's thread, the API reads on its own; one
lock guards the tables (every step under it is bounded and short).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter, deque
from collections.abc import Callable
from typing import NamedTuple

import msgspec
import numpy as np

from v2xcloud.bounded import LruTable
from v2xcloud.ev.anomaly import AnomalyThresholds
from v2xcloud.ev.charging import VehicleEnergy
from v2xcloud.ev.scheduler import compare_strategies, requests_from_reports
from v2xcloud.ev.sink import ReportSink
from v2xcloud.failures import FailureLog
from v2xcloud.model.alarm import AlarmSeverity, AlarmSource
from v2xcloud.model.ev import EvOperatorAlarm, EvReport
from v2xcloud.model.ev_fleet import (
    ChargePlan,
    Charger,
    ChargingWarning,
    EvAlarmEntry,
    EvChargingOverview,
    EvFleet,
    EvSeries,
    EvVehicleDetail,
    EvVehicleStatus,
)
from v2xcloud.runtime.alarms import AlarmBook

__all__ = ["COLUMNS", "EvMonitor", "History", "feed_alarm_book", "sample_of"]

logger = logging.getLogger(__name__)

#: the series columns, in the order :func:`sample_of` returns them
COLUMNS = (
    "soc_pct",
    "speed_kmh",
    "pack_voltage_v",
    "pack_current_a",
    "cell_max_v",
    "cell_min_v",
    "cell_spread_v",
    "temp_max_c",
    "temp_min_c",
)

#: charging verdicts worst first (``ok`` is not a warning)
_CHARGING_ORDER = {"critical": 0, "warning": 1, "advise": 2}

History = Callable[[str, int, int, int], list[EvReport]]
"""``(vin, start_ms, end_ms, limit) -> reports oldest first``: the history store's reports."""


def _cells(report: EvReport) -> tuple[float | None, float | None]:
    values = [v for p in report.cell_voltages for v in p.cell_voltages_v if v is not None]
    if values:
        return max(values), min(values)
    x = report.extremes
    return (x.max_cell_voltage_v, x.min_cell_voltage_v) if x is not None else (None, None)


def _temps(report: EvReport) -> tuple[float | None, float | None]:
    values = [t for p in report.probe_temps for t in p.temps_c if t is not None]
    if values:
        return float(max(values)), float(min(values))
    x = report.extremes
    if x is None:
        return None, None
    return (
        None if x.max_temp_c is None else float(x.max_temp_c),
        None if x.min_temp_c is None else float(x.min_temp_c),
    )


def sample_of(report: EvReport) -> tuple[float | None, ...]:
    """The report's values in :data:`COLUMNS` order (``None`` where it does not say).

    Cells over every subsystem (the cell-voltage unit; the extremes unit when it is absent),
    temperatures over every probe likewise; the spread is highest minus lowest cell.
    """
    v = report.vehicle
    hi, lo = _cells(report)
    t_hi, t_lo = _temps(report)
    spread = None if hi is None or lo is None else round(hi - lo, 3)
    return (
        None if v is None or v.soc_pct is None else float(v.soc_pct),
        None if v is None else v.speed_kmh,
        None if v is None else v.total_voltage_v,
        None if v is None else v.total_current_a,
        hi,
        lo,
        spread,
        t_hi,
        t_lo,
    )


class _Series:
    """A vehicle's samples in time order: numpy columns grown by doubling up to ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        size = min(32, capacity)
        self.t = np.empty(size, dtype=np.int64)
        self.v = np.empty((size, len(COLUMNS)), dtype=np.float32)
        self.n = 0

    def add(self, t_ms: int, values: tuple[float | None, ...], max_age_ms: int) -> None:
        row = [math.nan if x is None else x for x in values]
        at = int(np.searchsorted(self.t[: self.n], t_ms, side="right"))
        if self.n == len(self.t) and self.n < self.capacity:
            size = min(self.capacity, 2 * self.n)
            self.t = np.resize(self.t, size)
            self.v = np.resize(self.v, (size, len(COLUMNS)))
        if self.n == len(self.t):  # full: the oldest goes (or the newcomer, if older still)
            if at == 0:
                return
            self._drop(1)
            at -= 1
        self.t[at + 1 : self.n + 1] = self.t[at : self.n]
        self.v[at + 1 : self.n + 1] = self.v[at : self.n]
        self.t[at], self.v[at] = t_ms, row
        self.n += 1
        old = int(np.searchsorted(self.t[: self.n], self.t[self.n - 1] - max_age_ms, side="left"))
        if old:
            self._drop(old)

    def _drop(self, k: int) -> None:
        self.t[: self.n - k] = self.t[k : self.n]
        self.v[: self.n - k] = self.v[k : self.n]
        self.n -= k

    def columns(self, since_ms: int | None) -> EvSeries:
        start = 0 if since_ms is None else int(np.searchsorted(self.t[: self.n], since_ms))
        return _series("memory", self.t[start : self.n].tolist(), self.v[start : self.n])

    def oldest_ms(self) -> int | None:
        return int(self.t[0]) if self.n else None


def _series(source: str, t_ms: list[int], values: np.ndarray) -> EvSeries:
    cols: dict[str, list[float | None]] = {}
    for j, name in enumerate(COLUMNS):
        col = np.round(values[:, j].astype(np.float64), 3) if len(t_ms) else np.empty(0)
        cols[name] = [None if math.isnan(x) else x for x in col.tolist()]
    return EvSeries(source=source, t_ms=t_ms, **cols)


class _Track:
    """Everything the monitor keeps for one VIN."""

    def __init__(self, capacity: int, alarms: int) -> None:
        self.report: EvReport | None = None
        self.values: tuple[float | None, ...] = (None,) * len(COLUMNS)
        self.last_seen_ms = 0
        self.reports = 0
        self.series = _Series(capacity)
        self.alarms: deque[EvOperatorAlarm] = deque(maxlen=alarms)
        self.charging: ChargingWarning | None = None


class _View(NamedTuple):
    """What a status is made of, copied under the lock and turned into one outside it."""

    report: EvReport
    values: tuple[float | None, ...]
    last_seen_ms: int
    reports: int
    alarms: tuple[EvOperatorAlarm, ...]
    charging: ChargingWarning | None


def _view(track: _Track) -> _View:
    assert track.report is not None
    return _View(
        track.report,
        track.values,
        track.last_seen_ms,
        track.reports,
        tuple(track.alarms),
        track.charging,
    )


class EvMonitor:
    """The live fleet (see the module docstring). ``clock`` returns UTC ms (the platform's).

    ``forward``: the history's report sink (reports pass through to it); ``history``: reads
    reports back from it for windows older than the monitor keeps; ``chargers`` and
    ``energy``: the charging set-up (the same the alarm monitor checks with) for the plan.
    ``connected``: whether a live GB/T 32960 session holds a VIN (set by whoever runs the
    server); without it a vehicle is online while its newest report is younger than
    ``offline_after_ms``. ``thresholds``: the battery checks' settings (the alarm monitor's
    detector's), shown as the detail's threshold lines.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int],
        forward: ReportSink | None = None,
        history: History | None = None,
        chargers: list[Charger] | None = None,
        energy: VehicleEnergy | None = None,
        max_vehicles: int = 10_000,
        max_samples: int = 360,
        max_age_ms: int = 3_600_000,
        alarms_per_vehicle: int = 50,
        max_alarms: int = 1_000,
        max_reports: int = 1_000,
        alarm_active_ms: int = 150_000,
        offline_after_ms: int = 90_000,
        plan_refresh_ms: int = 5_000,
        failures: FailureLog | None = None,
        thresholds: AnomalyThresholds | None = None,
    ) -> None:
        self.clock = clock
        self.thresholds = thresholds  # the battery checks' settings, for the charts' lines
        self.forward = forward
        self.history = history
        self.chargers = list(chargers or [])
        self.energy = energy or VehicleEnergy()
        self.connected: Callable[[str], bool] | None = None
        self.max_samples, self.max_age_ms = max_samples, max_age_ms
        self.alarms_per_vehicle = alarms_per_vehicle
        # a lasting condition is raised again every repeat (60 s by default): 2.5 repeats
        # without it means the condition is over
        self.alarm_active_ms = alarm_active_ms
        self.offline_after_ms = offline_after_ms
        self.plan_refresh_ms = plan_refresh_ms
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._tracks: LruTable[str, _Track] = LruTable(
            limit=max_vehicles, name="EV monitor vehicles (VINs)"
        )
        self._alarms: deque[EvOperatorAlarm] = deque(maxlen=max_alarms)
        self._reports: deque[EvReport] = deque(maxlen=max_reports)
        self._listeners: list[Callable[[EvOperatorAlarm], None]] = []
        self._plan: EvChargingOverview | None = None

    # -- fed by the server (ReportSink, AlarmSink, AlarmMonitor.on_charging) -----------------

    def write(self, report: EvReport) -> None:
        """Take one accepted report (the newest collected one becomes the vehicle's state;
        a re-sent older one only fills in its series), then pass it to ``forward``."""
        now = self.clock()
        values = sample_of(report)
        with self._lock:
            track = self._tracks.get(report.vin)
            if track is None:
                track = _Track(self.max_samples, self.alarms_per_vehicle)
            self._tracks[report.vin] = track  # written: the longest-silent VIN goes first
            track.reports += 1
            track.last_seen_ms = now
            if track.report is None or report.collected_at_ms >= track.report.collected_at_ms:
                track.report, track.values = report, values
            track.series.add(report.collected_at_ms, values, self.max_age_ms)
            self._reports.append(report)
            self.counts["reports"] += 1
        if self.forward is not None:
            self.forward.write(report)

    def flush(self) -> None:
        """Flush ``forward``."""
        if self.forward is not None:
            self.forward.flush()

    def close(self) -> None:
        """Close ``forward``."""
        if self.forward is not None:
            self.forward.close()

    def raise_alarm(self, alarm: EvOperatorAlarm) -> None:
        """Keep one operator alarm; level 3 also goes to the listeners."""
        with self._lock:
            self._alarms.append(alarm)
            track = self._tracks.get(alarm.vin)
            if track is not None:
                track.alarms.append(alarm)
            self.counts[f"alarms_level_{alarm.level}"] += 1
            listeners = list(self._listeners) if alarm.level >= 3 else []
        for listener in listeners:
            try:
                listener(alarm)
            except Exception as exc:  # the console's list failing must not stop the receive path
                self.counts["alarm_listener_errors"] += 1
                self.failures.record("ev:alarm_listener", exc, logger=logger)

    def on_charging(self, warning: ChargingWarning) -> None:
        """Keep a vehicle's newest charging verdict (``AlarmMonitor(on_charging=...)``)."""
        with self._lock:
            track = self._tracks.get(warning.vin)
            if track is not None:
                track.charging = warning

    def position(self, vin: str) -> tuple[float | None, float | None]:
        """The vehicle's newest valid position (degrees), or ``(None, None)``."""
        with self._lock:
            track = self._tracks.get(vin)
            pos = track.report.position if track is not None and track.report else None
        if pos is None or not pos.is_valid:
            return None, None
        return pos.lat_deg, pos.lon_deg

    def add_alarm_listener(self, listener: Callable[[EvOperatorAlarm], None]) -> None:
        """Call ``listener(alarm)`` for every level-3 alarm from now on (must return quickly:
        it runs on the server's receive path)."""
        with self._lock:
            self._listeners.append(listener)

    # -- read by the API ---------------------------------------------------------------------

    @property
    def evicted(self) -> int:
        """VINs dropped for the ``max_vehicles`` bound (the longest silent first)."""
        return self._tracks.evicted

    def fleet(
        self,
        *,
        is_online: bool | None = None,
        min_level: int | None = None,
        visible: Callable[[str], bool] | None = None,
    ) -> EvFleet:
        """The vehicles (VIN order) filtered by online state and least alarm level; counts
        over every vehicle ``visible`` lets through (all without it)."""
        now = self.clock()
        with self._lock:  # copy under the lock (the receive path waits on it), build outside
            views = [(vin, _view(t)) for vin, t in self._tracks.items() if t.report is not None]
        rows = [self._status(vin, v, now) for vin, v in views if visible is None or visible(vin)]
        rows.sort(key=lambda s: s.vin)
        chosen = [
            s
            for s in rows
            if (is_online is None or s.is_online == is_online)
            and (min_level is None or s.alarm_level >= min_level)
        ]
        return EvFleet(
            vehicles=chosen,
            total=len(rows),
            online=sum(1 for s in rows if s.is_online),
            alarmed=sum(1 for s in rows if s.alarm_level >= 3),
            evicted=self.evicted,
            max_vehicles=self._tracks.limit,
        )

    def vehicle(self, vin: str, *, since_ms: int | None = None) -> EvVehicleDetail | None:
        """One vehicle, or ``None`` when the monitor does not know it. ``since_ms``: the
        series from then on; when that is older than what the monitor keeps and a history is
        set, the series comes from the history (``source="store"``)."""
        now = self.clock()
        with self._lock:
            track = self._tracks.get(vin)
            if track is None or track.report is None:
                return None
            status = self._status(vin, _view(track), now)
            oldest = track.series.oldest_ms()
            use_store = (
                since_ms is not None
                and self.history is not None
                and (oldest is None or since_ms < oldest)
            )
            series = None if use_store else track.series.columns(since_ms)
            alarms = [self._entry(a, now) for a in reversed(track.alarms)]
            report, charging = track.report, track.charging
        if series is None:
            assert since_ms is not None
            series = self._stored_series(vin, since_ms, now)
        return EvVehicleDetail(
            status=status,
            series=series,
            alarms=alarms,
            charging=charging,
            cell_voltages_v=[v for p in report.cell_voltages for v in p.cell_voltages_v],
            probe_temps_c=[t for p in report.probe_temps for t in p.temps_c],
            cell_spread_limit_v=None if self.thresholds is None else self.thresholds.cell_spread_v,
        )

    def alarms(
        self,
        *,
        min_level: int | None = None,
        is_active: bool | None = None,
        vin: str | None = None,
        limit: int = 100,
        visible: Callable[[str], bool] | None = None,
    ) -> list[EvAlarmEntry]:
        """The newest alarms first, filtered by least level, active state and VIN."""
        now = self.clock()
        with self._lock:
            newest_first = list(reversed(self._alarms))
        out = []
        for alarm in newest_first:
            if (
                (min_level is not None and alarm.level < min_level)
                or (vin is not None and alarm.vin != vin)
                or (visible is not None and not visible(alarm.vin))
            ):
                continue
            entry = self._entry(alarm, now)
            if is_active is None or entry.is_active == is_active:
                out.append(entry)
                if len(out) >= limit:
                    break
        return out

    def reports(self, limit: int) -> list[EvReport]:
        """The newest reports received (oldest of them first)."""
        with self._lock:
            return list(self._reports)[-limit:]

    def charging(self, *, visible: Callable[[str], bool] | None = None) -> EvChargingOverview:
        """Charging warnings (worst first, ``ok`` left out) and the plan for the vehicles that
        need charge (balanced and, to compare, nearest-station-first); recomputed at most
        once per ``plan_refresh_ms``, then filtered to what ``visible`` lets through."""
        if not self.chargers:
            return EvChargingOverview(
                is_enabled=False,
                chargers=[],
                warnings=[],
                plan=None,
                baseline=None,
                planned_at_ms=None,
            )
        now = self.clock()
        plan = self._plan
        if (
            plan is None
            or plan.planned_at_ms is None
            or now - plan.planned_at_ms >= (self.plan_refresh_ms)
        ):
            plan = self._plan = self._replan(now)
        return _visible_plan(plan, visible)

    def stats(self) -> dict[str, int]:
        """Vehicles kept, online, evicted; reports and alarms taken (per level)."""
        now = self.clock()
        with self._lock:
            online = sum(
                1 for vin, t in self._tracks.items() if self._is_online(vin, t.last_seen_ms, now)
            )
            return dict(self.counts) | {
                "vehicles": len(self._tracks),
                "online": online,
                "evicted": self.evicted,
            }

    # -- private -------------------------------------------------------------------------------

    def _is_online(self, vin: str, last_seen_ms: int, now: int) -> bool:
        if self.connected is not None:
            return self.connected(vin)
        return now - last_seen_ms <= self.offline_after_ms

    def _entry(self, alarm: EvOperatorAlarm, now: int) -> EvAlarmEntry:
        return EvAlarmEntry(alarm=alarm, is_active=now - alarm.raised_at_ms <= self.alarm_active_ms)

    def _status(self, vin: str, track: _View, now: int) -> EvVehicleStatus:
        report = track.report
        active = [a for a in track.alarms if now - a.raised_at_ms <= self.alarm_active_ms]
        own = report.alarm.max_level if report.alarm is not None else None
        level = max([own or 0, *(a.level for a in active)])
        pos = report.position
        has_pos = pos is not None and pos.is_valid
        soc, speed, volts, amps, cell_hi, cell_lo, spread, t_hi, t_lo = track.values
        return EvVehicleStatus(
            vin=vin,
            is_online=self._is_online(vin, track.last_seen_ms, now),
            last_seen_ms=track.last_seen_ms,
            collected_at_ms=report.collected_at_ms,
            reports=track.reports,
            lat_deg=pos.lat_deg if has_pos and pos is not None else None,
            lon_deg=pos.lon_deg if has_pos and pos is not None else None,
            vehicle_alarm_level=own,
            alarm_flags=report.alarm.flag_names if report.alarm is not None else (),
            alarm_level=level,
            active_alarms=len(active),
            charging_level=track.charging.level if track.charging is not None else None,
            soc_pct=None if soc is None else round(soc),
            speed_kmh=speed,
            pack_voltage_v=volts,
            pack_current_a=amps,
            cell_max_v=cell_hi,
            cell_min_v=cell_lo,
            cell_spread_v=spread,
            temp_max_c=t_hi,
            temp_min_c=t_lo,
        )

    def _stored_series(self, vin: str, since_ms: int, now: int) -> EvSeries:
        assert self.history is not None
        try:
            reports = self.history(vin, since_ms, now, 10 * self.max_samples)
        except Exception as exc:  # the store is down: say so through an empty stored series
            self.counts["history_errors"] += 1
            self.failures.record("ev:history", exc, logger=logger)
            reports = []
        values = np.array(
            [[math.nan if x is None else x for x in sample_of(r)] for r in reports],
            dtype=np.float32,
        ).reshape(len(reports), len(COLUMNS))
        return _series("store", [r.collected_at_ms for r in reports], values)

    def _replan(self, now: int) -> EvChargingOverview:
        with self._lock:
            latest = [t.report for t in self._tracks.values() if t.report is not None]
            warnings = [t.charging for t in self._tracks.values() if t.charging is not None]
        requests = requests_from_reports(latest, self.chargers, energy=self.energy)
        nearest, balanced = compare_strategies(
            requests, self.chargers, consumption_kwh_per_km=self.energy.consumption_kwh_per_km
        )
        warnings = sorted(
            (w for w in warnings if w.level in _CHARGING_ORDER),
            key=lambda w: (_CHARGING_ORDER[w.level], w.soc_pct, w.vin),
        )
        self.counts["plans"] += 1
        return EvChargingOverview(
            is_enabled=True,
            chargers=list(self.chargers),
            warnings=warnings,
            plan=balanced,
            baseline=nearest,
            planned_at_ms=now,
        )


def _visible_plan(
    plan: EvChargingOverview, visible: Callable[[str], bool] | None
) -> EvChargingOverview:
    """The overview with only ``visible`` vehicles' warnings and assignments (the summary
    figures stay the plan's: the chargers' queues are shared by every tenant's vehicles)."""
    if visible is None:
        return plan

    def keep(p: ChargePlan | None) -> ChargePlan | None:
        if p is None:
            return None
        return msgspec.structs.replace(
            p,
            assignments=tuple(a for a in p.assignments if visible(a.vin)),
            unserved=tuple(v for v in p.unserved if visible(v)),
        )

    return msgspec.structs.replace(
        plan,
        warnings=[w for w in plan.warnings if visible(w.vin)],
        plan=keep(plan.plan),
        baseline=keep(plan.baseline),
    )


def feed_alarm_book(
    monitor: EvMonitor, book: AlarmBook, *, tenant_of: Callable[[str], str | None]
) -> None:
    """Raise every level-3 EV alarm of ``monitor`` in the console-wide alarm list ``book``.

    One alarm per (VIN, kind): source ``ev``, subject the VIN, severity critical (level 3
    must reach an operator within seconds, GB/T 32960), the monitor's explanation as summary,
    the vehicle's tenant (``tenant_of``: the registry's) and position. A lasting condition is
    raised again by the alarm monitor every repeat, which updates the same alarm
    (``occurrences``); it is never cleared by the platform: a battery that ran away thermally
    needs a person to close it.
    """

    def raise_in_book(alarm: EvOperatorAlarm) -> None:
        lat, lon = monitor.position(alarm.vin)
        book.raise_alarm(
            source=AlarmSource.EV,
            subject=alarm.vin,
            kind=alarm.kind,
            severity=AlarmSeverity.CRITICAL,
            summary=f"{alarm.vin}: {alarm.reason}",
            at_ms=alarm.raised_at_ms,
            tenant=tenant_of(alarm.vin),
            lat_deg=lat,
            lon_deg=lon,
        )

    monitor.add_alarm_listener(raise_in_book)
