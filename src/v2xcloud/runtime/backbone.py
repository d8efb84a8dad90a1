"""The backbone's contract: JetStream stream definitions, subjects, headers and message ids.

The one place that says what travels on NATS between the tiers (``gateways.nats`` does the
I/O; the edge workers and the centre tier read the same names from here):

- ``V2X_FRAMES``: subjects ``v2x.{tenant}.{tile}.{cell}.{type}``, every accepted device frame
  as the gateway got it (raw bytes; ``type`` the lower-case message name: bsm, rsm, spat, map,
  rsi, ...); ``{tile}.{cell}`` is the zoom-18 quadkey of the frame's position
  (``runtime.tiles.cell_of``, ~135 m cells at 28° N) cut after its ``TILE_DIGITS`` = 16th
  digit: the zoom-16 tile, then the two digits of the cell inside it. A worker reads a whole
  tile with one filter (``v2x.{tenant}.{tile}.>``) and a halo cell with another
  (``v2x.{tenant}.{tile}.{cell}.>``), so its halo is the border strip it needs, not whole
  neighbouring tiles; a place that is no quadkey (the tick markers' ``clock``) has cell ``_``.
  A short window (``frames_max_age_s``, default 120 s) for catch-up;
- ``V2X_ADVISORIES``: ``adv.{tenant}.{tile}.{app}``; ``V2X_EVENTS``: ``evt.>``;
  ``V2X_DELIVERIES``: ``dlv.>``; ``V2X_DEAD``: ``dead.>`` (dead letters).

Every stream is file-backed with ``min(3, servers)`` replicas and a duplicate window, so a
publish retried with the same ``Nats-Msg-Id`` is stored once. A frame's id is a digest of its
device, receive time and payload (``frame_msg_id``): the same frame retried gets the same id.
Subject tokens (tenant, tile, type) are made safe for NATS (no ``.``, ``*``, ``>`` or spaces).

>>> frame_subject("acme", "132120220102120213", "BSM")
'v2x.acme.1321202201021202.13.bsm'
>>> frame_subject("acme", "t12_-3", "tick")
'v2x.acme.t12_-3._.tick'
>>> [s.name for s in streams(servers=1)][0], streams(servers=5)[0].replicas
('V2X_FRAMES', 3)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = [
    "ADVISORIES",
    "DEAD",
    "DELIVERIES",
    "EVENTS",
    "FRAMES",
    "HEADER_DEVICE",
    "HEADER_FORMAT",
    "HEADER_KIND",
    "HEADER_MESSAGE_SET",
    "HEADER_MSG_ID",
    "HEADER_RECEIVED_MS",
    "TILE_DIGITS",
    "StreamSpec",
    "advisory_subject",
    "dead_subject",
    "delivery_subject",
    "event_subject",
    "frame_msg_id",
    "frame_place",
    "frame_subject",
    "streams",
    "token",
]

FRAMES = "V2X_FRAMES"
ADVISORIES = "V2X_ADVISORIES"
EVENTS = "V2X_EVENTS"
DELIVERIES = "V2X_DELIVERIES"
DEAD = "V2X_DEAD"

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_DEVICE = "V2X-Device"
HEADER_KIND = "V2X-Kind"
HEADER_RECEIVED_MS = "V2X-Received-Ms"
HEADER_MESSAGE_SET = "V2X-Message-Set"
HEADER_FORMAT = "V2X-Format"

#: the digits of a frame place's quadkey in the subject's tile token (zoom 16)
TILE_DIGITS = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


@dataclass(frozen=True)
class StreamSpec:
    """One JetStream stream: ``name``, its ``subjects``, how long messages are kept
    (``max_age_s``), ``replicas`` and the duplicate window (``duplicate_window_s``)."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: float
    replicas: int
    duplicate_window_s: float


def streams(
    *,
    servers: int,
    frames_max_age_s: float = 120.0,
    results_max_age_s: float = 3600.0,
    duplicate_window_s: float = 120.0,
) -> list[StreamSpec]:
    """The five streams for a cluster of ``servers``: replicas ``min(3, servers)``; frames
    kept ``frames_max_age_s``, advisories/events/deliveries/dead letters ``results_max_age_s``
    (the centre tier's catch-up window). The duplicate window is at most a stream's age."""
    if servers < 1:
        raise ValueError(f"servers must be >= 1, not {servers}")
    if frames_max_age_s <= 0 or results_max_age_s <= 0:
        raise ValueError("stream ages must be positive")
    replicas = min(3, servers)

    def spec(name: str, subject: str, age: float) -> StreamSpec:
        return StreamSpec(name, (subject,), age, replicas, min(duplicate_window_s, age))

    return [
        spec(FRAMES, "v2x.>", frames_max_age_s),
        spec(ADVISORIES, "adv.>", results_max_age_s),
        spec(EVENTS, "evt.>", results_max_age_s),
        spec(DELIVERIES, "dlv.>", results_max_age_s),
        spec(DEAD, "dead.>", results_max_age_s),
    ]


def token(text: str) -> str:
    """``text`` as one safe subject token (unsafe characters become ``_``; empty: ``_``)."""
    return _UNSAFE.sub("_", text) or "_"


def frame_subject(tenant: str, place: str, message_type: str) -> str:
    """``v2x.{tenant}.{tile}.{cell}.{type}`` of a frame filed at ``place`` (a zoom-18 quadkey,
    ``runtime.tiles.cell_of``: ``tile`` its first ``TILE_DIGITS`` digits, ``cell`` the rest;
    a shorter place has cell ``_``), ``type`` lower-case."""
    tile, cell = place[:TILE_DIGITS], place[TILE_DIGITS:]
    return f"v2x.{token(tenant)}.{token(tile)}.{token(cell)}.{token(message_type.lower())}"


def frame_place(subject: str) -> tuple[str, str]:
    """``(tile, place)`` of a frame subject: its tile token and the place it was filed at
    (tile and cell digits joined; the tile alone when the cell is ``_``)."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[0] != "v2x":
        raise ValueError(f"{subject!r} is not a frame subject v2x.tenant.tile.cell.type")
    tile, cell = parts[2], parts[3]
    return tile, tile if cell == "_" else tile + cell


def advisory_subject(tenant: str, tile: str, app: str) -> str:
    """``adv.{tenant}.{tile}.{app}`` (app lower-case)."""
    return f"adv.{token(tenant)}.{token(tile)}.{token(app.lower())}"


def event_subject(tenant: str, tile: str, kind: str) -> str:
    """``evt.{tenant}.{tile}.{kind}``."""
    return f"evt.{token(tenant)}.{token(tile)}.{token(kind.lower())}"


def delivery_subject(tenant: str, tile: str, channel: str) -> str:
    """``dlv.{tenant}.{tile}.{channel}`` (channel: rsi, advisory, ...)."""
    return f"dlv.{token(tenant)}.{token(tile)}.{token(channel.lower())}"


def dead_subject(tenant: str, reason: str) -> str:
    """``dead.{tenant}.{reason}`` (the ``DropReason`` value)."""
    return f"dead.{token(tenant)}.{token(reason)}"


def frame_msg_id(device_id: str, received_at_ms: int, payload: bytes) -> str:
    """The deterministic ``Nats-Msg-Id`` of a frame: ``{device}:{received ms}:{digest}``,
    so a retried publish of the same frame is dropped by the stream's duplicate window."""
    digest = hashlib.blake2b(payload, digest_size=8).hexdigest()
    return f"{device_id}:{received_at_ms}:{digest}"
