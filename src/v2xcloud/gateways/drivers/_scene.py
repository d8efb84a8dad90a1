"""From a decoded frame or a converted vendor payload to what the scene holds."""

from __future__ import annotations

from typing import Any

from v2xcloud.codec import Decoded, MessageSet, Rejected, decode
from v2xcloud.codec.plausibility import DeploymentArea
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.drivers.result import Dropped, Parsed
from v2xcloud.model import Bsm, DropReason, MapData, ParticipantState, Rsi, Rsm, Spat
from v2xcloud.model.day2 import Psm, Ssm

__all__ = ["check_topic_type", "decode_uper", "to_scene"]

# message types a topic or port can name that are single MessageFrame alternatives
_FRAME_TYPES = frozenset({"BSM", "RSM", "SPAT", "MAP", "RSI"})
_SCENE_TYPES = (Bsm, Rsm, Spat, MapData, Rsi, ParticipantState)


def check_topic_type(frame: InboundFrame, found: str, shape: str) -> Dropped | None:
    """A drop when the topic/port names one message type and the payload holds another.

    A device's rate limits and routes are per topic; a BSM arriving on the SPAT topic is a
    misconfigured device, not a SPAT.
    """
    named = frame.message_type
    if named is None or named not in _FRAME_TYPES or named == found:
        return None
    return Dropped(
        reason=DropReason.BAD_PAYLOAD,
        detail=f"{frame.channel} carries {named}, but the payload is a {found}",
        where="$",
        shape=shape,
    )


def to_scene(model: Any, message_type: str, shape: str) -> Parsed | Dropped:
    """An SI model from the codec → what the scene holds, or UNSUPPORTED_MESSAGE.

    Day-2 PSM becomes its participant and SSM an ``Rsm`` of what its sender perceives, so the
    scene fuses them like BSM and RSM; other Day-2 messages have no place in the scene yet.
    """
    if isinstance(model, _SCENE_TYPES):
        return Parsed(models=(model,), shape=shape)
    if isinstance(model, Psm):
        return Parsed(models=(model.participant,), shape=shape)
    if isinstance(model, Ssm):
        return Parsed(models=(_ssm_as_rsm(model),), shape=shape)
    return Dropped(
        reason=DropReason.UNSUPPORTED_MESSAGE,
        detail=f"a {message_type} decodes, but the scene holds no {message_type}",
        shape=shape,
    )


def _ssm_as_rsm(ssm: Ssm) -> Rsm:
    return Rsm(
        msg_count=ssm.msg_count,
        rsu_id=ssm.sender_id,
        ref_lat_deg=ssm.sensor_lat_deg,
        ref_lon_deg=ssm.sensor_lon_deg,
        participants=ssm.participants,
    )


def _drop_of(rejected: Rejected, shape: str) -> Dropped:
    return Dropped(
        reason=rejected.reason,
        detail=rejected.detail,
        where=rejected.where,
        shape=shape,
    )


def decode_uper(
    data: bytes,
    frame: InboundFrame,
    *,
    message_set: MessageSet,
    area: DeploymentArea | None,
    shape: str,
) -> Parsed | Dropped:
    """One UPER MessageFrame → models, through the codec's one decode + plausibility stage."""
    result = decode(data, message_set=message_set, received_at_ms=frame.received_at_ms, area=area)
    if isinstance(result, Rejected):
        return _drop_of(result, shape)
    assert isinstance(result, Decoded)
    if (mismatch := check_topic_type(frame, result.message_type, shape)) is not None:
        return mismatch
    # decode ran the one validity stage: the model of an accepted frame is complete
    return to_scene(result.to_model(), result.message_type, shape)
