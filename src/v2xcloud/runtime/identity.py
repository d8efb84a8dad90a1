"""The platform's one identity as a sender of road events (RSI).

On the wire the platform's RSI carries ``PLATFORM_RSU_ID`` (the bytes of "v2xcloud", 16 hex
digits). Inside the scene each event detector announces its events under its own sub-id of
that identity (``PLATFORM_RSU_ID:<kind>``), because event ids are unique per detector only.
``from_platform`` recognises both, so the platform never takes its own events for received
ones, including its own broadcast heard back through an RSU.

In a cluster no one process numbers every event: an RSI's ``rteId`` (0..255, the standard's
"local ID" of an event *of its sender*) is unique per sender only, and 255 ids cannot be
unique over a city. So the tiers send under a sender id per scope (``scope_sender_id``):
a tile's edge worker its tile's events under ``edge:{tile}`` (one owner at a time, ids from
its one pool, derived from the condition so a successor keeps them), the centre its corridor
events in a tile under ``centre:{tile}``: (sender, ``rteId``) is unique platform-wide
without coordinating, and ``from_platform`` knows these senders as the platform's too (their
first four bytes are "v2xc", like ``PLATFORM_RSU_ID``'s).
"""

from __future__ import annotations

import hashlib

__all__ = ["PLATFORM_RSU_ID", "detector_announcer", "from_platform", "scope_sender_id"]

#: RSU id the platform's own RSI carries (the bytes of "v2xcloud", 16 hex digits)
PLATFORM_RSU_ID = b"v2xcloud".hex()
_SUB = PLATFORM_RSU_ID + ":"
#: the first four bytes of every sender id of the platform ("v2xc")
_TIER_PREFIX = b"v2xc".hex()


def scope_sender_id(scope: str) -> str:
    """The RSI sender id (16 hex digits) of the platform's events of one ``scope``
    (``edge:{tile}``, ``centre:{tile}``; see the module docstring).

    >>> scope_sender_id("edge:1321") != scope_sender_id("centre:1321")
    True
    >>> from_platform(scope_sender_id("edge:1321")), len(scope_sender_id("edge:1321"))
    (True, 16)
    """
    return _TIER_PREFIX + hashlib.blake2b(scope.encode(), digest_size=4).hexdigest()


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
    return (
        rsu_id == PLATFORM_RSU_ID
        or rsu_id.startswith(_SUB)
        or (len(rsu_id) == 16 and rsu_id.startswith(_TIER_PREFIX))
    )
