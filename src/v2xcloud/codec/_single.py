"""The msgspec-style ``Decoder`` shared by the per-message modules (bsm, rsm, spat, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from v2xcloud.codec.frame import decode as _decode
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.codec.plausibility import DeploymentArea
from v2xcloud.codec.result import Decoded, Rejected
from v2xcloud.errors import DecodeError
from v2xcloud.model import DropReason

T = TypeVar("T")


class SingleDecoder(Generic[T]):
    """Decode frames that must hold one message type: ``decode_frame`` gives the typed
    ``Decoded[T] | Rejected``, ``decode`` the SI model ``T`` itself.

    A frame holding another message type is rejected as ``unsupported_message`` (this
    decoder holds only its own type).
    """

    message_type: str = ""

    def __init__(
        self,
        *,
        message_set: MessageSet = MessageSet.CSAE2020,
        area: DeploymentArea | None = None,
    ) -> None:
        self.message_set = message_set
        self.area = area

    def convert(self, value: Any, reference_ms: int) -> T:
        raise NotImplementedError

    def decode_frame(self, data: bytes, *, received_at_ms: int = 0) -> Decoded[T] | Rejected:
        """One UPER MessageFrame → ``Decoded[T]`` (valid, through the one validity stage) or
        ``Rejected`` with its ``DropReason``; never raises for bad bytes."""
        result = _decode(
            data, message_set=self.message_set, received_at_ms=received_at_ms, area=self.area
        )
        if isinstance(result, Rejected) or result.message_type == self.message_type:
            return result
        return Rejected(
            raw=result.raw,
            reason=DropReason.UNSUPPORTED_MESSAGE,
            detail=f"frame holds a {result.message_type}, not a {self.message_type}",
            where="$",
            message_type=self.message_type,
        )

    def decode(self, data: bytes, *, received_at_ms: int = 0) -> T:
        """One UPER MessageFrame → the SI model; ``received_at_ms`` resolves secMark/moy.

        Raises ``DecodeError`` with the ``DropReason`` and place when the frame is rejected.
        """
        result = self.decode_frame(data, received_at_ms=received_at_ms)
        if isinstance(result, Rejected):
            raise DecodeError(self.message_type, result.reason, result.detail, where=result.where)
        value = result.value[1]
        return self.convert(
            value["value"] if result.value[0] == "msgFrameExt" else value, received_at_ms
        )


def decoder_class(message_type: str, convert: Callable[..., T]) -> type[SingleDecoder[T]]:
    """A ``SingleDecoder`` subclass for one message type and its conversion function."""

    class Decoder(SingleDecoder[T]):
        __doc__ = f"A reusable {message_type} decoder for one message set (msgspec style)."

        def convert(self, value: Any, reference_ms: int) -> T:
            return convert(value, reference_ms=reference_ms)

    Decoder.message_type = message_type
    return Decoder
