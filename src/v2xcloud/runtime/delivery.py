"""The runtime's dissemination step: advisories and live events to the right recipients.

Each tick, ``DeliveryStage.run`` asks the ``Disseminator`` who must hear this tick's
advisories and the live road events (detected ones to participants and RSUs; events received
from an RSU to participants only, the RSU already broadcasts them), attaches the encoded RSI
to event deliveries (``rsi_out.with_rsi``), signs what is sent when a signer is configured
(``Delivery.secured``, ``runtime.signing``) and hands the batch to the delivery sinks. The step
is skipped while there is nobody to deliver to (no sink and no RSU). A delivery sink that
raises is an isolated failure (boundary ``delivery_sink:<name>``): counted, logged once, and
the other sinks still get the batch.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import msgspec

from v2xcloud.codec import MessageSet
from v2xcloud.failures import FailureLog
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory, RoadEvent
from v2xcloud.runtime.dissemination import Delivery, Disseminator, Rsu
from v2xcloud.runtime.rsi_out import with_rsi
from v2xcloud.runtime.signing import OutboundSigner
from v2xcloud.runtime.sinks import DeliverySink
from v2xcloud.twin.relevance import PositionsView

__all__ = ["DeliveryStage", "sink_name"]

logger = logging.getLogger(__name__)


def sink_name(sink: object) -> str:
    """How failures name a sink: its ``name`` attribute if it has one, else its class name."""
    name = getattr(sink, "name", None)
    return name if isinstance(name, str) and name else type(sink).__name__


class DeliveryStage:
    """Dissemination plus RSI encoding plus delivery sinks, for one runtime."""

    def __init__(
        self,
        *,
        frame: LocalFrame,
        message_set: MessageSet,
        rsus: Sequence[Rsu] = (),
        sinks: Sequence[DeliverySink] = (),
        refresh_ms: int = 1000,
        event_range_m: float = 300.0,
        failures: FailureLog | None = None,
        signer: OutboundSigner | None = None,
    ) -> None:
        self.frame = frame
        self.signer = signer
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.message_set = message_set
        self.sinks: list[DeliverySink] = list(sinks)
        self.disseminator = Disseminator(
            rsus=tuple(rsus), refresh_ms=refresh_ms, event_range_m=event_range_m
        )

    @property
    def active(self) -> bool:
        """Whether there is anyone to deliver to."""
        return bool(self.sinks or self.disseminator.rsus)

    @property
    def stats(self) -> Counter[str]:
        """Deliveries per reason and dropped duplicates."""
        return self.disseminator.stats

    def run(
        self,
        view: PositionsView,
        advisories: list[Advisory],
        detected: list[RoadEvent],
        received: list[RoadEvent],
        now_ms: int,
    ) -> list[Delivery]:
        """This tick's deliveries (also sent to the sinks)."""
        if not self.active:
            return []
        d = self.disseminator
        out = d.advisories(advisories, view, now_ms)
        out += d.events(detected, view, now_ms)
        out += d.events(received, view, now_ms, to_rsus=False)
        out += d.expire(now_ms)
        return self._send(out, now_ms)

    def finish(self, now_ms: int) -> list[Delivery]:
        """``expired`` deliveries for everything no longer valid at ``now_ms`` (end of a run)."""
        return self._send(self.disseminator.expire(now_ms), now_ms)

    def _send(self, deliveries: list[Delivery], now_ms: int) -> list[Delivery]:
        out = [
            with_rsi(
                d,
                message_set=self.message_set,
                ref_lat_deg=self.frame.origin_lat_deg,
                ref_lon_deg=self.frame.origin_lon_deg,
                failures=self.failures,
            )
            for d in deliveries
        ]
        if self.signer is not None:
            out = [self._signed(d, self.signer) for d in out]
        if out:
            for sink in self.sinks:
                try:
                    sink.deliver(out, now_ms=now_ms)
                except Exception as exc:  # one broken sink must not starve the others
                    self.failures.record(f"delivery_sink:{sink_name(sink)}", exc, logger=logger)
        return out

    def _signed(self, delivery: Delivery, signer: OutboundSigner) -> Delivery:
        """``delivery`` with its content signed (``Delivery.secured``); unchanged for an
        ``expired`` one or an event without RSI. A signer that fails is an isolated failure
        (boundary ``signer``: counted, logged once) and leaves the delivery unsigned."""
        if delivery.reason == "expired":
            return delivery
        if isinstance(delivery.payload, Advisory):
            payload, message_type = msgspec.json.encode(delivery.payload), "ADVISORY"
        elif delivery.rsi_uper is not None:
            payload, message_type = delivery.rsi_uper, "RSI"
        else:
            return delivery
        try:
            secured = signer.sign(payload, message_type=message_type, now_ms=delivery.at_ms)
        except Exception as exc:  # a signer failure must not stop the tick: count, log
            self.failures.record("signer", exc, logger=logger)
            return delivery
        return msgspec.structs.replace(delivery, secured=secured)
