"""What decoding a frame gives: ``Decoded`` (with lazy JSON and SI model) or ``Rejected``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

import msgspec

from v2xcloud.codec.message_set import MessageSet

if TYPE_CHECKING:
    from v2xcloud.codec.plausibility import DeploymentArea

__all__ = ["Decoded", "RejectReason", "Rejected"]


class RejectReason(StrEnum):
    """Why a frame was rejected; callers count dead letters per reason."""

    EMPTY = "empty"  # no bytes at all
    FRAMING = "framing"  # hex text, capture prefix or record length wrong
    MALFORMED = "malformed"  # the bits do not parse as a MessageFrame (truncated, bad index)
    CONSTRAINT = "constraint"  # parses, but a value is outside the schema's range or size
    TRAILING_BYTES = "trailing_bytes"  # whole bytes left over after the MessageFrame
    UNKNOWN_MESSAGE = "unknown_message"  # Day-2 messageId this message set does not define
    IMPLAUSIBLE = "implausible"  # decodes, but the content is impossible (wrong version?)
    NO_POSITION = "no_position"  # the sender's/reference position is marked unavailable


class Rejected(msgspec.Struct, frozen=True, kw_only=True):
    """A frame that could not be decoded: the raw bytes, the reason, where and a sentence."""

    raw: bytes
    reason: RejectReason
    detail: str
    where: str | None = None
    message_type: str = "MessageFrame"

    def to_json(self) -> dict[str, Any]:
        """The CLI's one-line form: ``{"rejected": true, "reason": ..., "detail": ...}``."""
        return {
            "rejected": True,
            "reason": self.reason.value,
            "detail": self.detail,
            "where": self.where,
            "raw": self.raw.hex(),
        }


class Decoded:
    """A decoded MessageFrame.

    ``message_type`` is the short name (``"BSM"``, ``"MAP"``, ..., Day-2 ``"PSM"``, ``"SSM"``,
    ...); ``value`` the asn1tools native value with the Day-2 open type already decoded;
    ``json`` the lossless CSAE JSON (computed on first use); ``to_model()`` the SI model.
    ``reference_ms`` is the UTC ms against which a bare secMark/moy is resolved.
    """

    __slots__ = (
        "_json",
        "_model",
        "area",
        "message_set",
        "message_type",
        "raw",
        "reference_ms",
        "value",
    )

    def __init__(
        self,
        *,
        message_set: MessageSet,
        message_type: str,
        value: Any,
        raw: bytes,
        reference_ms: int,
        area: DeploymentArea | None = None,
    ) -> None:
        self.message_set = message_set
        self.message_type = message_type
        self.value = value
        self.raw = raw
        self.reference_ms = reference_ms
        self.area = area
        self._json: Any = None
        self._model: Any = None

    @property
    def json(self) -> dict[str, Any]:
        """Lossless CSAE JSON of the whole MessageFrame: ``{"bsmFrame": {...}}``."""
        if self._json is None:
            from v2xcloud.codec.frame import frame_to_json

            self._json = frame_to_json(self.value, message_set=self.message_set)
        result: dict[str, Any] = self._json
        return result

    def to_model(self) -> Any:
        """The SI domain model (``Bsm``, ``Rsm``, ``Spat``, ``MapData``, ``Rsi``, Day-2 types).

        Raises ``DecodeError`` with reason ``no_position`` when a nested absolute position (a
        path crumb, lane point or RSM object given as ``position-LatLon``) is marked
        unavailable: the model has no place for it; likewise for the sender/reference position
        when decoded with ``require_position=False``. Count it like a ``Rejected`` frame.
        """
        if self._model is None:
            from v2xcloud.codec.model_convert import to_model

            self._model = to_model(self)
        return self._model

    def __repr__(self) -> str:
        return f"Decoded({self.message_set.value}, {self.message_type}, {len(self.raw)} bytes)"
