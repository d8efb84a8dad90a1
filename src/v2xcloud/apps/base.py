"""What every application is: a small class that reads a ``SceneView`` and returns Advisories.

An application implements ``detect(view) -> Hits``: vectorised raw detections for this tick
(ego row, other row, level, time to collision/conflict, hazard position). ``on_tick`` turns
them into ``Advisory`` objects through the app's ``Hysteresis``. Apps never do I/O and never
read the wall clock: time is the view's ``now_ms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.apps._select import IMMINENT, WARNING, gap_m
from v2xcloud.apps.hysteresis import Decisions, Hysteresis, pair_keys
from v2xcloud.apps.kinematics import gap_ttc
from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.twin import PairTable, SceneView

__all__ = ["App", "AppConfig", "Hits", "Partners", "Reach", "gap_hits", "level_from_time"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_LEVELS = {int(level): level for level in AdvisoryLevel}  # faster than calling the enum


class AppConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Settings every application has. Subclasses add their thresholds (defaults from
    STANDARDS.md). ``lookahead_s`` is added to time thresholds so that, sampled at ticks of
    ``tick_ms``, a warning still gives at least the threshold's lead time (``lead_pad_s``).
    A road user no report has come from for more than ``max_silent_ms`` (five 10 Hz periods)
    is no party to a new detection: the scene keeps it, extrapolated, until it expires, but
    where it is and what it does are guesses by then (a car that left the road or a sensor's
    view; a leader whose track ended was warned of on the K733 recording, a car that had
    turned off into a side street in the bench).

    ``confirm_ticks``: a new hazard is issued once it has been detected on that many ticks in
    a row (``Hysteresis``). 1 (the default) issues it on its first tick. The apps that
    predict paths a few seconds ahead (crossing, turning, road users crossing) set more
    (``_select.PATH_CONFIRM_TICKS``): a conflict that the next tick's prediction no longer
    supports (a driver who has just begun to brake, a heading that settles) is a prediction's
    noise, not a hazard. Their time thresholds look as much further ahead (``lead_pad_s``),
    so the lead time a warning gives does not shrink."""

    hold_ticks: int = 3
    confirm_ticks: int = 1
    validity_ms: int = 1000
    tick_ms: int = 100
    lookahead_s: float = 0.1
    max_silent_ms: int = 500

    @property
    def lead_pad_s(self) -> float:
        """What the apps add to each time threshold: ``lookahead_s`` for the sampling, and a
        tick per confirming tick after the first, so that a confirmed warning still gives the
        threshold's lead time."""
        return self.lookahead_s + (self.confirm_ticks - 1) * self.tick_ms / 1000.0


class Partners(StrEnum):
    """Whom an application pairs an ego with, or what it relates it to (``Reach``): what an
    edge worker must read around its tiles (``runtime.tiles.Reaches``)."""

    ROAD_USERS = "road_users"  # any road user's report: the apps' short reach, all of them
    SLOW = "slow"  # road users slower than ``Reach.below_mps`` (a queue)
    EMERGENCY = "emergency"  # emergency vehicles (a BSM with the emergency extension)
    AHEAD_OF_PASSER = "ahead_of_passer"  # road users ahead of an ego signalling to pass
    ROAD_ITEMS = "road_items"  # MAP lanes, SPAT, RSI events and signs (roadside frames)


@dataclass(frozen=True)
class Reach:
    """How far from an ego an application looks for one kind of partner (``partners``):
    ``metres`` between the ego and the partner (for road items: the item's zone); ``speed_mps``
    the class's speed bound (``SLOW`` partners are below it, a passer at or above it)."""

    metres: float
    partners: Partners
    speed_mps: float | None = None


@dataclass
class Hits:
    """One tick's raw detections, one entry per (ego, other) pair.

    ``x_m``/``y_m`` locate the hazard (defaults to the other's position when empty);
    ``values`` holds extra per-hit figures (units in the key) copied into the advisory.
    """

    ego: IntArray
    other: IntArray
    level: IntArray
    ttc_s: FloatArray
    x_m: FloatArray | None = None
    y_m: FloatArray | None = None
    values: dict[str, FloatArray] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Hits:
        """No detections."""
        none = np.empty(0, dtype=np.int64)
        return cls(ego=none, other=none, level=none, ttc_s=np.empty(0))

    def __len__(self) -> int:
        return int(self.ego.size)

    def take(self, index: IntArray) -> Hits:
        """The hits at ``index`` (an index array), in that order."""
        return Hits(
            ego=self.ego[index],
            other=self.other[index],
            level=self.level[index],
            ttc_s=self.ttc_s[index],
            x_m=None if self.x_m is None else self.x_m[index],
            y_m=None if self.y_m is None else self.y_m[index],
            values={k: v[index] for k, v in self.values.items()},
        )

    def strongest(self, keys: IntArray) -> tuple[Hits, IntArray]:
        """At most one hit per pair key: the highest level, then the shortest time."""
        if len(self) < 2:
            return self, keys
        order = np.lexsort((self.ttc_s, -self.level, keys))
        first = np.ones(order.size, dtype=bool)
        first[1:] = keys[order][1:] != keys[order][:-1]
        keep = order[first]
        return self.take(keep), keys[keep]


def level_from_time(time_s: FloatArray, *, warn_s: float, imminent_s: float) -> IntArray:
    """WARNING where ``time_s`` ≤ ``warn_s``, IMMINENT where ≤ ``imminent_s``, else 0 (none)."""
    return np.where(
        time_s <= imminent_s,
        IMMINENT,
        np.where(time_s <= warn_s, WARNING, 0),
    ).astype(np.int64)


def gap_hits(pairs: PairTable, *, imminent_s: float) -> Hits:
    """Hits for closing gaps: time to collision at constant closing speed; IMMINENT at or
    below ``imminent_s`` (lookahead included by the caller), WARNING otherwise."""
    ttc = gap_ttc(gap_m(pairs), pairs.closing_along_mps)
    level = np.where(ttc <= imminent_s, IMMINENT, WARNING).astype(np.int64)
    return Hits(ego=pairs.ego, other=pairs.other, level=level, ttc_s=ttc)


class App:
    """Base of the applications: subclasses set ``code``, ``config_type`` and ``detect``."""

    code: ClassVar[str] = ""
    config_type: ClassVar[type[AppConfig]] = AppConfig
    detail: ClassVar[str] = ""
    #: True when ``detect`` never yields the same (ego, other) pair twice in a tick, so the
    #: per-pair strongest-hit reduction can be skipped
    unique_pairs: ClassVar[bool] = False

    def __init__(self, config: AppConfig | None = None) -> None:
        self.config = config if config is not None else self.config_type()
        self.hysteresis = Hysteresis(
            hold_ticks=self.config.hold_ticks,
            confirm_ticks=self.config.confirm_ticks,
            validity_ms=self.config.validity_ms,
            tick_ms=self.config.tick_ms,
        )

    def reach(self) -> tuple[Reach, ...]:
        """How far this application looks from an ego, per kind of partner (what a tile
        worker must read beyond its tiles for it). Each application states its own geometry;
        this default, for one that does not, takes every ``*radius_m`` / ``*range_m``
        setting as a reach to any road user (the widest reading)."""
        cfg = self.config
        return tuple(
            Reach(float(getattr(cfg, name)), Partners.ROAD_USERS)
            for name in type(cfg).__struct_fields__
            if name.endswith(("radius_m", "range_m"))
            and isinstance(getattr(cfg, name), int | float)
        )

    def detect(self, view: SceneView) -> Hits:
        """This tick's raw detections; implemented by each application."""
        raise NotImplementedError(f"{type(self).__name__} must implement detect()")

    def on_tick(self, view: SceneView, now_ms: int) -> list[Advisory]:
        """Detect, apply hysteresis, and return the advisories to issue now."""
        hits = self.detect(view)
        if len(hits) == 0 and len(self.hysteresis) == 0:
            return []  # nothing now, nothing held
        found = (hits.level > 0).nonzero()[0]
        if found.size:
            # the hit rows' own report ages only (not every row's: this runs per app per tick)
            oldest = view.now_ms - self.config.max_silent_ms
            ts = view.timestamp_ms
            found = found[(ts[hits.ego[found]] >= oldest) & (ts[hits.other[found]] >= oldest)]
        if found.size == 0 and len(self.hysteresis) == 0:
            return []  # the common case: nothing now, nothing held
        if found.size < len(hits):
            hits = hits.take(found)
        keys = pair_keys(view.uid[hits.ego], view.uid[hits.other])
        if not self.unique_pairs:
            hits, keys = hits.strongest(keys)
        decisions = self.hysteresis.update(keys, hits.level, now_ms)
        if not len(decisions):
            return []
        return self._advisories(view, hits.take(decisions.index), decisions, now_ms)

    def _advisories(
        self, view: SceneView, hits: Hits, decisions: Decisions, now_ms: int
    ) -> list[Advisory]:
        if hits.x_m is not None and hits.y_m is not None:
            lat, lon = view.frame.to_wgs84(hits.x_m, hits.y_m)
        else:
            lat, lon = view.to_wgs84(hits.other)
        ids = view.ids
        ttc = hits.ttc_s.round(3).tolist()
        values = (
            [
                dict(zip(hits.values, row, strict=True))
                for row in zip(*(v.tolist() for v in hits.values.values()), strict=True)
            ]
            if hits.values
            else None
        )
        out = []
        for k, (e, o, level, expires) in enumerate(
            zip(
                hits.ego.tolist(),
                hits.other.tolist(),
                decisions.level.tolist(),
                decisions.expires_ms.tolist(),
                strict=True,
            )
        ):
            t = ttc[k]
            out.append(
                Advisory(
                    app=self.code,
                    level=_LEVELS[level],
                    ego_id=ids[e],
                    other_id=ids[o],
                    issued_ms=now_ms,
                    expires_ms=expires,
                    ttc_s=t if math.isfinite(t) else None,
                    lat_deg=float(lat[k]),
                    lon_deg=float(lon[k]),
                    detail=self.detail,
                    values=values[k] if values else {},
                )
            )
        return out
