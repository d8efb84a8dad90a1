"""The platform's own road events as RSI messages: UPER for RSUs, CSAE JSON for JSON devices.

An RSI carries at most 8 road events (``RTEList SIZE(1..8)`` in T/CSAE 53-2017 and 2020), so
events are packed into as many messages as needed. Event ids stay those of the detectors
(1..255, the RSI ``rteId``).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from v2xcloud.codec import Decoded, MessageSet, decode
from v2xcloud.codec.model_convert import encode_model
from v2xcloud.errors import EncodeError
from v2xcloud.failures import FailureLog
from v2xcloud.model import RoadEvent, Rsi
from v2xcloud.runtime.backbone import RsiDelivery
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.runtime.identity import PLATFORM_RSU_ID, scope_sender_id

__all__ = ["MAX_EVENTS_PER_RSI", "backbone_rsi", "encode_rsi", "rsi_messages", "with_rsi"]

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_RSI = 8


def rsi_messages(
    events: list[RoadEvent],
    *,
    rsu_id: str,
    ref_lat_deg: float,
    ref_lon_deg: float,
    now_ms: int,
    first_msg_count: int = 0,
) -> list[Rsi]:
    """RSI messages (≤ 8 events each) for ``events``, sent by ``rsu_id`` (16 hex digits)
    with reference position ``ref_*`` (events should lie within a few km of it)."""
    out = []
    for k in range(0, len(events), MAX_EVENTS_PER_RSI):
        out.append(
            Rsi(
                msg_count=(first_msg_count + k // MAX_EVENTS_PER_RSI) % 128,
                rsu_id=rsu_id,
                ref_lat_deg=ref_lat_deg,
                ref_lon_deg=ref_lon_deg,
                timestamp_ms=now_ms,
                events=tuple(events[k : k + MAX_EVENTS_PER_RSI]),
            )
        )
    return out


def encode_rsi(rsi: Rsi, *, message_set: MessageSet) -> tuple[bytes, dict[str, Any]]:
    """UPER MessageFrame bytes and the lossless CSAE JSON of one RSI.

    Raises ``EncodeError`` (with the field path) for a value the wire cannot carry.
    """
    data = encode_model(rsi, message_set=message_set)
    result = decode(data, message_set=message_set, received_at_ms=rsi.timestamp_ms or 0)
    if not isinstance(result, Decoded):  # our own encoder's output must decode
        raise EncodeError("RSI", f"encoded RSI does not decode: {result.detail}")
    return data, result.json


def with_rsi(
    delivery: Delivery,
    *,
    message_set: MessageSet,
    ref_lat_deg: float,
    ref_lon_deg: float,
    rsu_id: str = PLATFORM_RSU_ID,
    failures: FailureLog | None = None,
) -> Delivery:
    """``delivery`` with the RSI the platform sends for its event (UPER and CSAE JSON).

    Advisories and ``expired`` deliveries are returned unchanged; an event the wire cannot
    carry gets ``rsi_error`` (the field path and value) instead of raising, and the failure
    goes to ``failures`` (boundary ``rsi_out:encode``: counted, logged once) when given.
    """
    event = delivery.payload
    if not isinstance(event, RoadEvent) or delivery.reason == "expired":
        return delivery
    (rsi,) = rsi_messages(
        [event],
        rsu_id=rsu_id,
        ref_lat_deg=ref_lat_deg,
        ref_lon_deg=ref_lon_deg,
        now_ms=delivery.at_ms,
    )
    try:
        data, csae_json = encode_rsi(rsi, message_set=message_set)
    except EncodeError as exc:  # the event is still delivered, without its RSI
        if failures is not None:
            failures.record("rsi_out:encode", exc, logger=logger, level=logging.WARNING)
        return msgspec.structs.replace(delivery, rsi_error=str(exc))
    return msgspec.structs.replace(delivery, rsi_uper=data, rsi_json=csae_json)


def backbone_rsi(
    delivery: Delivery,
    event: RoadEvent,
    *,
    sender: str,
    identity: str,
    message_set: MessageSet,
    ref: tuple[float, float] | None = None,
    failures: FailureLog | None = None,
) -> RsiDelivery:
    """The ``backbone.RsiDelivery`` a worker or the centre publishes for its own event: the
    RSI encoded under the sender id scoped to ``sender`` (``edge:{tile}``, ``centre:{tile}``:
    ``rteId`` is unique per sender; the id travels as ``sender_id`` too, for the gateway's
    down-link), referenced at the event's position (else ``ref``; with neither, no RSI is
    encoded), and the event's cross-worker ``identity``."""
    sender_id = scope_sender_id(sender)
    at = (event.lat_deg, event.lon_deg)
    point = (at[0], at[1]) if at[0] is not None and at[1] is not None else ref
    coded = delivery
    if point is not None:
        coded = with_rsi(
            delivery,
            message_set=message_set,
            ref_lat_deg=point[0],
            ref_lon_deg=point[1],
            rsu_id=sender_id,
            failures=failures,
        )
    return RsiDelivery(
        key=delivery.key,
        reason=delivery.reason,
        at_ms=delivery.at_ms,
        event=event,
        identity=identity,
        rsi_uper=coded.rsi_uper,
        rsi_error=coded.rsi_error,
        sender_id=sender_id,
    )
