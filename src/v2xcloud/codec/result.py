"""What decoding a frame gives: ``Decoded[M]`` (valid, with lazy JSON and SI model) or ``Rejected``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from v2xcloud.codec.message_set import MessageSet
from v2xcloud.model import DropReason

if TYPE_CHECKING:
    from v2xcloud.codec.plausibility import DeploymentArea

__all__ = ["Decoded", "Rejected"]

M = TypeVar("M", covariant=True)


class Rejected(msgspec.Struct, frozen=True, kw_only=True):
    """A frame that could not be used: the raw bytes, the ``DropReason``, where and a sentence.

    Every stage of the codec (framing, UPER, constraints, version check, plausibility) names
    its refusal with one member of ``model.DropReason``; counters key on ``reason.value``.
    """

    raw: bytes
    reason: DropReason
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


_TO_MODEL: list[Any] = []


def _to_model() -> Any:
    """``model_convert.to_model``, imported on first use (it imports this module) and kept:
    an import statement per frame cost about a microsecond of every decode."""
    if not _TO_MODEL:
        from v2xcloud.codec.model_convert import to_model

        _TO_MODEL.append(to_model)
    return _TO_MODEL[0]


class Decoded(Generic[M]):
    """A decoded MessageFrame that passed the one validity stage (``codec.plausibility``).

    ``M`` is the SI model type (``Decoded[Bsm]`` from ``bsm.Decoder``; ``Decoded[Any]`` from
    the generic ``decode``). ``message_type`` is the short name (``"BSM"``, ``"MAP"``, ...,
    Day-2 ``"PSM"``, ``"SSM"``, ...); ``value`` the asn1tools native value with the Day-2 open
    type already decoded; ``json`` the lossless CSAE JSON (computed on first use);
    ``to_model()`` the SI model (built on first use, or already built by the validity stage).
    ``reference_ms`` is the UTC ms against which a bare secMark/moy is resolved.

    A ``Decoded`` from ``decode`` (unless ``wire_only=True``) is valid by construction: its
    ``to_model()`` cannot fail and the model passes ``check_model``.
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
        model: Any = None,
    ) -> None:
        self.message_set = message_set
        self.message_type = message_type
        self.value = value
        self.raw = raw
        self.reference_ms = reference_ms
        self.area = area
        self._json: Any = None
        self._model: Any = model

    @property
    def json(self) -> dict[str, Any]:
        """Lossless CSAE JSON of the whole MessageFrame: ``{"bsmFrame": {...}}``."""
        if self._json is None:
            from v2xcloud.codec.frame import frame_to_json

            self._json = frame_to_json(self.value, message_set=self.message_set)
        result: dict[str, Any] = self._json
        return result

    def to_model(self) -> M:
        """The SI domain model (``Bsm``, ``Rsm``, ``Spat``, ``MapData``, ``Rsi``, Day-2 types).

        Never raises for a frame ``decode`` accepted (the validity stage has checked every
        position the model needs). Only a frame kept with ``wire_only=True`` (the
        lossless-JSON path) can raise ``DecodeError`` with reason ``no_position`` here.
        """
        if self._model is None:
            self._model = _to_model()(self)
        model: M = self._model
        return model

    def __repr__(self) -> str:
        return f"Decoded({self.message_set.value}, {self.message_type}, {len(self.raw)} bytes)"
