"""Dissemination: who must hear each advisory and each road event, and when to say it again.

Not a broadcast to all. An advisory goes to its ego participant and to the RSUs in range of
it; a road event goes to the participants it concerns (travelling along its reference path,
or with it ahead within ``event_range_m``) and to the RSUs in range of the event or of those
participants. Each item is keyed (``advisory|app|ego|other``, ``event|source|kind|id``):

- ``new``: first time the key is seen;
- ``update``: its level, position or content changed, or new recipients became concerned
  (then only the newcomers are addressed);
- ``refresh``: unchanged, re-sent every ``refresh_ms`` while valid;
- ``expired``: its validity (``expires_ms`` / ``end_ms``) is over and it was not renewed, so
  RSUs stop broadcasting it. Anything in between is a duplicate and is dropped (counted).

An item another process announced before this one took over its place (an edge worker that
takes a tile over: the previous owner's ``announced`` keys, handed with its clocks) is not
``new`` here: its first delivery is a ``refresh`` to everyone concerned (who heard it is not
handed over), so a receiver sees one event announced once (``continue_announced``).

Each item remembers who has heard it, so that only newcomers are addressed. For a long-lived
event that every passing vehicle hears, that set is limited to ``max_recipients``: past it,
only those concerned now are remembered (the others are counted in ``recipients_forgotten``
and would be addressed again if they came back).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

import msgspec
import numpy as np

from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory, RoadEvent
from v2xcloud.twin.relevance import PositionsView, concerned

__all__ = ["ANNOUNCED_KEPT_MS", "Delivery", "Disseminator", "Rsu"]

Reason = Literal["new", "update", "refresh", "expired"]

#: how long an item a predecessor announced waits for its first decision here (the handed
#: clocks' events reappear within a round or two of the takeover)
ANNOUNCED_KEPT_MS = 10_000
_ANNOUNCED_MAX = 10_000  # items a predecessor announced, remembered at most


class Rsu(msgspec.Struct, frozen=True, kw_only=True):
    """A roadside unit that broadcasts what the platform sends it, within ``range_m``.

    ``perceives_all``: its roadside perception (RSM) reports every road user within range,
    connected or not (a radar/lidar unit); ``False`` for units that report only what the
    platform cannot hear itself, or whose coverage is unknown. Only such a unit's silence
    about a place is evidence (misbehaviour detection's ``perception_contradiction``).
    """

    rsu_id: str
    lat_deg: float
    lon_deg: float
    range_m: float = 300.0
    perceives_all: bool = False


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One send decision: what (``payload``), to whom, and why, at ``at_ms``.

    A live event's delivery from the runtime also carries the RSI the platform sends for it
    (``rsi_uper``: UPER MessageFrame; ``rsi_json``: its CSAE JSON), or why it could not be
    encoded (``rsi_error``). With a signer configured (``runtime.signing``), ``secured`` is
    the signed secured frame of what is sent: the RSI's UPER MessageFrame for an event, the
    advisory's JSON object (``msgspec.json.encode``) for an advisory. ``sender_id``: the RSI
    sender id an event goes out under when another tier found it (a worker's or the centre's,
    ``identity.scope_sender_id``, handed on by the gateway tier); ``None``: the platform's own.
    """

    key: str
    reason: Reason
    at_ms: int
    payload: Advisory | RoadEvent
    participants: tuple[str, ...] = ()
    rsus: tuple[str, ...] = ()
    rsi_uper: bytes | None = None
    rsi_json: dict[str, Any] | None = None
    rsi_error: str | None = None
    secured: bytes | None = None
    sender_id: str | None = None


class _Sent(msgspec.Struct, kw_only=True):
    fingerprint: tuple[object, ...]
    last_ms: int
    valid_until_ms: int
    recipients: set[str]
    payload: Advisory | RoadEvent
    rsus: tuple[str, ...]


class Disseminator:
    """Stateful dissemination decisions; see the module docstring. ``stats`` counts reasons
    and dropped duplicates."""

    def __init__(
        self,
        *,
        rsus: tuple[Rsu, ...] = (),
        refresh_ms: int = 1000,
        event_range_m: float = 300.0,
        max_recipients: int = 10_000,
    ) -> None:
        self.rsus = rsus
        self.refresh_ms = refresh_ms
        self.event_range_m = event_range_m
        self.max_recipients = max_recipients
        self.stats: Counter[str] = Counter()
        self._sent: dict[str, _Sent] = {}
        # key -> when it was handed over: items announced by a predecessor, not yet sent here
        self._announced: dict[str, int] = {}

    def __len__(self) -> int:
        """Items (advisories and events) remembered until they expire."""
        return len(self._sent)

    def __contains__(self, key: object) -> bool:
        """Whether the item ``key`` is remembered (sent and not yet expired)."""
        return key in self._sent

    def continue_announced(self, keys: Iterable[str], now_ms: int) -> int:
        """Items another process announced (``keys``) that this one carries on: the first
        decision about each is a ``refresh``, not ``new``. A key not decided about within
        ``ANNOUNCED_KEPT_MS`` is forgotten (the item ended meanwhile). Returns how many keys
        were taken (those already sent here are not)."""
        taken = 0
        for key in keys:
            if key not in self._sent and key not in self._announced:
                self._announced[key] = now_ms
                taken += 1
        if len(self._announced) > _ANNOUNCED_MAX:  # oldest first: dicts keep insertion order
            for key in list(self._announced)[: len(self._announced) - _ANNOUNCED_MAX]:
                del self._announced[key]
            self.stats["announced_forgotten"] += 1
        self.stats["announced_taken"] += taken
        return taken

    def recipients_of(self, key: str) -> frozenset[str]:
        """Who is remembered as having heard the item ``key`` (empty if unknown)."""
        sent = self._sent.get(key)
        return frozenset(sent.recipients) if sent is not None else frozenset()

    def rsus_near_event(self, frame: LocalFrame, event: RoadEvent) -> tuple[str, ...]:
        """The RSUs in range of an event's place (its radius included): where a tier without
        the scene (the gateway, for the events the workers detected) sends its RSI."""
        if event.lat_deg is None or event.lon_deg is None:
            return ()
        x, y = frame.to_local(event.lat_deg, event.lon_deg)
        out = []
        for rsu in self.rsus:
            rx, ry = frame.to_local(rsu.lat_deg, rsu.lon_deg)
            if float(np.hypot(float(x) - float(rx), float(y) - float(ry))) <= rsu.range_m + (
                event.radius_m or 0.0
            ):
                out.append(rsu.rsu_id)
        return tuple(out)

    def _rsus_near(self, view: PositionsView, x_m: np.ndarray, y_m: np.ndarray) -> tuple[str, ...]:
        if not self.rsus or x_m.size == 0:
            return ()
        out = []
        for rsu in self.rsus:
            rx, ry = view.frame.to_local(rsu.lat_deg, rsu.lon_deg)
            if (np.hypot(x_m - float(rx), y_m - float(ry)) <= rsu.range_m).any():
                out.append(rsu.rsu_id)
        return tuple(out)

    def _decide(
        self,
        key: str,
        payload: Advisory | RoadEvent,
        fingerprint: tuple[object, ...],
        recipients: set[str],
        rsus: tuple[str, ...],
        valid_until_ms: int,
        now_ms: int,
    ) -> Delivery | None:
        sent = self._sent.get(key)
        reason: Reason
        to = recipients
        if sent is None:
            reason = "refresh" if self._announced.pop(key, None) is not None else "new"
        elif sent.fingerprint != fingerprint:
            reason = "update"
        elif recipients - sent.recipients:
            reason, to = "update", recipients - sent.recipients
        elif now_ms - sent.last_ms >= self.refresh_ms:
            reason = "refresh"
        else:
            sent.valid_until_ms, sent.payload = valid_until_ms, payload
            self.stats["duplicate"] += 1
            return None
        # only newcomers addressed: the others keep their refresh cadence
        last = sent.last_ms if sent is not None and to is not recipients else now_ms
        known = recipients | (sent.recipients if sent else set())
        if len(known) > self.max_recipients:  # keep those concerned now; count the others
            self.stats["recipients_forgotten"] += len(known) - len(recipients)
            known = set(recipients)
        self._sent[key] = _Sent(
            fingerprint=fingerprint,
            last_ms=last,
            valid_until_ms=valid_until_ms,
            recipients=known,
            payload=payload,
            rsus=rsus,
        )
        self.stats[reason] += 1
        return Delivery(
            key=key,
            reason=reason,
            at_ms=now_ms,
            payload=payload,
            participants=tuple(sorted(to)),
            rsus=rsus,
        )

    def advisories(self, items: list[Advisory], view: PositionsView, now_ms: int) -> list[Delivery]:
        """Deliveries for this tick's advisories (each to its ego and the RSUs near it)."""
        out = []
        for adv in items:
            i = view.row_of(adv.ego_id)
            rsus = (
                () if i is None else self._rsus_near(view, view.x_m[i : i + 1], view.y_m[i : i + 1])
            )
            key = f"advisory|{adv.app}|{adv.ego_id}|{adv.other_id}"
            fingerprint = (int(adv.level), adv.other_id)  # figures change every tick
            d = self._decide(key, adv, fingerprint, {adv.ego_id}, rsus, adv.expires_ms, now_ms)
            if d is not None:
                out.append(d)
        return out

    def events(
        self, items: list[RoadEvent], view: PositionsView, now_ms: int, *, to_rsus: bool = True
    ) -> list[Delivery]:
        """Deliveries for road events still valid (ended ones are left to ``expire``);
        ``to_rsus=False`` addresses participants only (events an RSU already broadcasts)."""
        out = []
        for ev in items:
            if ev.end_ms is not None and ev.end_ms <= now_ms:
                continue
            mask, _ = concerned(
                view,
                lat_deg=ev.lat_deg,
                lon_deg=ev.lon_deg,
                radius_m=ev.radius_m,
                paths=ev.reference_paths,
                range_m=self.event_range_m,
            )
            xs, ys = view.x_m[mask], view.y_m[mask]
            if ev.lat_deg is not None and ev.lon_deg is not None:
                ex, ey = view.frame.to_local(ev.lat_deg, ev.lon_deg)
                xs, ys = np.append(xs, float(ex)), np.append(ys, float(ey))
            recipients = {view.ids[i] for i in np.flatnonzero(mask).tolist()}
            key = f"event|{ev.source}|{ev.kind}|{ev.event_id}"
            fingerprint = (ev.event_type, ev.lat_deg, ev.lon_deg, ev.description)
            until = now_ms + self.refresh_ms if ev.end_ms is None else ev.end_ms
            rsus = self._rsus_near(view, xs, ys) if to_rsus else ()
            d = self._decide(key, ev, fingerprint, recipients, rsus, until, now_ms)
            if d is not None:
                out.append(d)
        return out

    def expire(self, now_ms: int) -> list[Delivery]:
        """``expired`` deliveries (to the RSUs that carried them) for items no longer valid."""
        out = []
        for key, at_ms in list(self._announced.items()):
            if now_ms - at_ms > ANNOUNCED_KEPT_MS:
                del self._announced[key]
        for key, sent in list(self._sent.items()):
            if sent.valid_until_ms <= now_ms:
                del self._sent[key]
                self.stats["expired"] += 1
                out.append(
                    Delivery(
                        key=key,
                        reason="expired",
                        at_ms=now_ms,
                        payload=sent.payload,
                        rsus=sent.rsus,
                    )
                )
        return out
