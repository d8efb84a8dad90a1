"""The msgspec-style ``Decoder`` shared by the per-message modules (bsm, rsm, spat, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from v2xcloud.codec.frame import decode as _decode
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.codec.plausibility import DeploymentArea
from v2xcloud.codec.result import Decoded
from v2xcloud.errors import DecodeError

T = TypeVar("T")


class SingleDecoder(Generic[T]):
    """Decode frames that must hold one message type into its SI model.

    Raises ``DecodeError`` with the reject reason and place, or ``"wrong_message"`` when the
    frame holds another message type.
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

    def decode(self, data: bytes, *, received_at_ms: int = 0) -> T:
        """One UPER MessageFrame → the SI model; ``received_at_ms`` resolves secMark/moy."""
        result = _decode(
            data, message_set=self.message_set, received_at_ms=received_at_ms, area=self.area
        )
        if not isinstance(result, Decoded):
            raise DecodeError(
                self.message_type, result.reason.value, result.detail, where=result.where
            )
        if result.message_type != self.message_type:
            raise DecodeError(
                self.message_type,
                "wrong_message",
                f"frame holds a {result.message_type}, not a {self.message_type}",
            )
        content = result.value[1]["value"] if result.value[0] == "msgFrameExt" else result.value[1]
        return self.convert(content, received_at_ms)


def decoder_class(message_type: str, convert: Callable[..., T]) -> type[SingleDecoder[T]]:
    """A ``SingleDecoder`` subclass for one message type and its conversion function."""

    class Decoder(SingleDecoder[T]):
        __doc__ = f"A reusable {message_type} decoder for one message set (msgspec style)."

        def convert(self, value: Any, reference_ms: int) -> T:
            return convert(value, reference_ms=reference_ms)

    Decoder.message_type = message_type
    return Decoder
