"""The hook for a stage that judges raw frames before the codec sees them (the security stage).

The runtime does not import ``security`` (the layering: security is wired in from above, by
``cli``). It defines what it calls instead: a ``FrameGuard`` takes the raw bytes of one frame,
who sent it (the source id and the device kind, e.g. ``"obu"``) and the arrival time, and
returns either what the codec should decode — the bytes (the frame itself when it passes
unchanged), or ``Passed`` (or any object of its shape, ``Admitted``) with the UPER payload
inside a signed frame and who signed it (the
certificate digest, which the misbehaviour screen keeps with a sender's reports, and the
device the certificate was issued to) — or the ``model.DeadLetter`` saying why it was refused.
``security.verify.SecurityStage`` implements it structurally.

A guard never raises for a bad frame; ``Runtime`` still counts a guard that does under
``guard`` in its failures and keeps the frame as an ``internal_error`` dead letter.
A guard also says what it counted (``stats()``), reported by ``Runtime.stats()["guard"]``.

>>> class Refuse:
...     def check(self, raw, *, source, kind, now_ms):
...         return DeadLetter(raw=raw, source=source, received_at_ms=now_ms,
...                           reason=DropReason.UNSIGNED, detail="policy requires signing")
...     def stats(self):
...         return {}
>>> isinstance(Refuse(), FrameGuard)
True
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec

from v2xcloud.model import DeadLetter, DropReason

__all__ = ["Admitted", "DropReason", "FrameGuard", "GuardResult", "Passed"]


class Passed(msgspec.Struct, frozen=True, kw_only=True):
    """A frame a guard let through: the ``payload`` to decode and, for a signed frame, its
    signer's certificate digest (``signer``, HashedId8 hex) and the ``device`` the certificate
    was issued to (None when not known)."""

    payload: bytes
    signer: str | None = None
    device: str | None = None


class Admitted(Protocol):
    """What a guard outside the runtime may return for a passed frame (read by attribute:
    the security stage cannot import the runtime); ``Passed`` is one."""

    @property
    def payload(self) -> bytes:
        """The bytes to decode."""
        ...

    @property
    def signer(self) -> str | None:
        """The signer's certificate digest (HashedId8 hex), None when unsigned."""
        ...

    @property
    def device(self) -> str | None:
        """The device the certificate was issued to, None when not known."""
        ...


#: what a guard gives back: the bytes (or a ``Passed``-shaped result) to decode, or why the
#: frame was refused
GuardResult = bytes | Admitted | DeadLetter


@runtime_checkable
class FrameGuard(Protocol):
    """Judges one raw frame before decoding (see the module docstring)."""

    def check(self, raw: bytes, *, source: str, kind: str, now_ms: int) -> GuardResult:
        """The payload to decode, or a dead letter with its reason; never raises for bad
        input. ``kind`` is the sender's device kind value (``"obu"``, ``"rsu"``, ...,
        ``"unknown"``), ``now_ms`` the arrival time (UTC ms)."""
        ...

    def stats(self) -> dict[str, Any]:
        """The guard's counters (frames passed, refused per reason, ...)."""
        ...
