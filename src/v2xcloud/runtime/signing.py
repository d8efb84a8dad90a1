"""The hook through which the platform signs what it sends (RSI and advisories on the down-link).

The runtime and the gateways do not import ``security`` (the layering: security is wired in
from above, by ``cli``, like the receive side's ``runtime.guard.FrameGuard``). They call an
``OutboundSigner`` instead: ``sign(payload, message_type=..., now_ms=...)`` wraps one outgoing
payload (an RSI's UPER MessageFrame, or an advisory's JSON object as UTF-8 bytes) into the bytes
of a signed secured frame generated at ``now_ms`` (UTC ms), signed with the platform's
certificate. ``message_type`` (``"RSI"``, ``"ADVISORY"``) picks the application id the frame is
signed under. ``security.signers.PlatformSigner`` implements it structurally.

A signer that cannot sign raises (``v2xcloud.errors.V2xCloudError`` or a subclass); the caller
then counts and logs the failure and does not send that message unsigned. Without a signer
(the default) nothing is signed and nothing else changes.

>>> class Prefix:
...     def sign(self, payload, *, message_type, now_ms):
...         return b"signed:" + payload
...     def stats(self):
...         return {}
>>> isinstance(Prefix(), OutboundSigner)
True
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["OutboundSigner"]


@runtime_checkable
class OutboundSigner(Protocol):
    """Signs one outgoing payload (see the module docstring)."""

    def sign(self, payload: bytes, *, message_type: str, now_ms: int) -> bytes:
        """The signed secured frame around ``payload`` (``message_type``: ``"RSI"`` or
        ``"ADVISORY"``), generated at ``now_ms`` (UTC ms). Raises when it cannot sign."""
        ...

    def stats(self) -> dict[str, Any]:
        """What the signer counted (frames signed per message type, failures, ...)."""
        ...
