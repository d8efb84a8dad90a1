"""The platform's one identity as a sender of road events (RSI).

On the wire the platform's RSI carries ``PLATFORM_RSU_ID`` (the bytes of "v2xcloud", 16 hex
digits). Inside the scene each event detector announces its events under its own sub-id of
that identity (``PLATFORM_RSU_ID:<kind>``), because event ids are unique per detector only.
``from_platform`` recognises both, so the platform never takes its own events for received
ones, including its own broadcast heard back through an RSU.
"""

from __future__ import annotations

__all__ = ["PLATFORM_RSU_ID", "detector_announcer", "from_platform"]

#: RSU id the platform's own RSI carries (the bytes of "v2xcloud", 16 hex digits)
PLATFORM_RSU_ID = b"v2xcloud".hex()
_SUB = PLATFORM_RSU_ID + ":"


def detector_announcer(kind: str) -> str:
    """The scene-internal RSU id under which the ``kind`` detector's events are held."""
    return _SUB + kind


def from_platform(rsu_id: str) -> bool:
    """Whether ``rsu_id`` is the platform itself (on the wire or one of its detectors).

    >>> from_platform(PLATFORM_RSU_ID), from_platform(detector_announcer("fog"))
    (True, True)
    >>> from_platform("0011223344556677")
    False
    """
    return rsu_id == PLATFORM_RSU_ID or rsu_id.startswith(_SUB)
