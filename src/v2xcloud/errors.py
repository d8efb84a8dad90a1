"""The one error hierarchy of v2xcloud.

::

    V2xCloudError
    ├── ConfigError                 bad settings or CLI arguments; says how to fix them
    ├── AlarmStateError             an operator step that does not apply to the alarm's state
    ├── DecodeError                 bytes that are not a valid frame (type, where, reason)
    │   ├── FramingError            hex text, capture prefix or length wrong
    │   └── Gb32960Error            GB/T 32960 frame (start, BCC, length, unit)
    ├── EncodeError                 a value cannot be put on the wire (type, where, reason)
    ├── GatewayError                a transport failed or was misused
    ├── StoreError                  the history store failed or was misused
    ├── SimulationError             the simulator failed or a scenario is invalid
    ├── ReplayError                 a recording (tracks, signals, map) cannot be replayed
    ├── SceneError                  a message the live scene cannot hold, or scene misuse
    └── CryptoError                 a key, point or signature is malformed, or native crypto failed

Foreign exceptions (asn1tools, msgspec, sockets, SQL drivers) are translated once, at the
boundary, and chained with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from v2xcloud.model.drop import DropReason

__all__ = [
    "AlarmStateError",
    "ConfigError",
    "CryptoError",
    "DecodeError",
    "EncodeError",
    "FramingError",
    "GatewayError",
    "Gb32960Error",
    "QuotaExceeded",
    "ReplayError",
    "SceneError",
    "SimulationError",
    "StoreError",
    "V2xCloudError",
]


class V2xCloudError(Exception):
    """Base of every error v2xcloud raises on purpose."""


class AlarmStateError(V2xCloudError):
    """An alarm workflow step that does not apply (acknowledging an acknowledged alarm)."""


class ConfigError(V2xCloudError):
    """A setting or argument is wrong; the message says how to fix it."""


class QuotaExceeded(ConfigError):
    """Adding this would pass a configured bound (the registry's size, a tenant's devices):
    the request is valid but refused while the bound holds (HTTP 409)."""


class DecodeError(V2xCloudError):
    """Bytes could not be decoded.

    ``message_type`` names what was being decoded (``"BSM"``, ``"MessageFrame"``, ``"GB32960"``),
    ``where`` is a field path (``"$.value.bsmFrame.speed"``) or ``"byte 17"``, ``reason`` is the
    ``model.DropReason`` (the one enum of drop reasons), ``detail`` the human sentence.
    """

    def __init__(
        self, message_type: str, reason: DropReason, detail: str, *, where: str | None = None
    ) -> None:
        self.message_type = message_type
        self.reason = reason
        self.detail = detail
        self.where = where
        at = f" at {where}" if where else ""
        super().__init__(f"{message_type}: {detail}{at}")


class FramingError(DecodeError):
    """The transport framing (hex text, vendor capture prefix, length) is wrong."""


class Gb32960Error(DecodeError):
    """A GB/T 32960.3 frame is malformed (start bytes, BCC, length, data unit)."""


class EncodeError(V2xCloudError):
    """A value cannot be encoded; carries the message type and field path like DecodeError."""

    def __init__(self, message_type: str, detail: str, *, where: str | None = None) -> None:
        self.message_type = message_type
        self.detail = detail
        self.where = where
        at = f" at {where}" if where else ""
        super().__init__(f"{message_type}: {detail}{at}")


class GatewayError(V2xCloudError):
    """A transport (MQTT, UDP, TCP, NATS) failed or was misused."""


class StoreError(V2xCloudError):
    """The history store failed or was misused."""


class SimulationError(V2xCloudError):
    """The simulator failed or a scenario file is invalid."""


class ReplayError(V2xCloudError):
    """A recording cannot be replayed: a file is missing, unreadable or lacks required columns.

    Single malformed rows are not errors: the readers report and skip them.
    """


class SceneError(V2xCloudError):
    """The live scene was given something it cannot hold (an unknown message type) or misused.

    ``reason`` is the ``model.DropReason`` to count it under (``UNSUPPORTED_MESSAGE`` unless
    given). Plausibility is not the scene's business: it trusts what the codec's one validity
    stage (``codec.check_model``) let through.
    """

    def __init__(self, detail: str, *, reason: DropReason | None = None) -> None:
        from v2xcloud.model.drop import DropReason

        self.reason = DropReason.UNSUPPORTED_MESSAGE if reason is None else reason
        super().__init__(detail)


class CryptoError(V2xCloudError):
    """A key, curve point or signature is malformed, or the native crypto library failed.

    A signature that is well formed but does not verify is not an error: verifiers return
    ``False`` for it.
    """
