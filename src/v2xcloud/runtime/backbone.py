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
- ``V2X_ADVISORIES``: ``adv.{tenant}.{tile}.{app}``; ``V2X_EVENTS``: ``evt.{tenant}.{tile}.{kind}``
  (a ``RoadEvent`` a worker detected in its tile, each detection round; header
  ``V2X-Event`` its identity across workers, ``runtime.ownership.event_digest``);
  ``V2X_DELIVERIES``: ``dlv.{tenant}.{tile}.warning`` (a new warning, an ``Advisory``) and
  ``dlv.{tenant}.{tile}.rsi`` (an ``RsiDelivery``: the RSI the platform sends for an event,
  for the gateways' down-link to the RSUs near it); ``V2X_DEAD``: ``dead.>`` (dead letters);
- ``V2X_TRAFFIC``: ``trf.{tenant}.{tile}``, each detection round a worker's ``TileTraffic`` of
  each tile it owns (the lanes and the vehicles on them, ``apps.events.LaneSample``), for the
  corridor detectors of the centre tier (``runtime.corridor``); kept like the frames;
- ``V2X_MISBEHAVIOUR``: ``mbr.{tenant}.{tile}``, a ``MisbehaviourReport`` of a sender a worker
  flagged in its tile (every worker and the centre read them all);
- ``V2X_EV``: ``ev.{tenant}.{vin}``, an ``EvFrame`` (msgspec JSON): each GB/T 32960 real-time or
  re-sent report a gateway accepted (logged in, signature checked, de-duplicated), the frame
  as the terminal sent it, for the centre's EV analytics; ``{vin}`` a digest of the VIN
  (``ev_subject``: one subject per vehicle, so a vehicle's reports keep their order, and no
  VIN in a subject name); message id ``ev:{vin}:{collected ms}`` (``ev_msg_id``), so the same
  report taken by two gateways (a terminal that reconnected elsewhere) is stored once. Kept
  like the frames (a short window: the centre's analytics keep their own state).
- the live map, on core NATS (no stream): ``live.{tenant}.{tile}``, a ``TileSnapshot`` (msgspec
  JSON, ``ParticipantState`` in SI units, as ``/api/participants`` serves them) of the road
  users placed in a tile its worker owns, every ``WorkerConfig.live_period_ms`` (500 ms). No
  stream, as NATS advises for telemetry whose next message supersedes the last: a snapshot is
  worth nothing once the next one is out, so storing it (R3 on disk, a PubAck per message, a
  retention to keep) buys a late centre at most one period (it has the whole picture after
  500 ms anyway, inside the 2 s it keeps a snapshot: ``runtime.live_map``), and keeps no road
  user's positions on the servers' disks; a centre that is down simply misses them.

Every stream is file-backed with ``min(3, servers)`` replicas and a duplicate window, so a
publish retried with the same ``Nats-Msg-Id`` is stored once. A frame's id is its device, receive
time and a digest of its payload (``frame_msg_id``): the same frame retried gets the same id.

A frame carries two headers, parsed by every worker for every frame (nats-py parses header
lines in Python, so each costs CPU per frame): ``Nats-Msg-Id`` (which the worker reads the
device and receive time back from, ``frame_source``) and ``V2X-Frame`` (``{kind} {message set}
{format}``, how to read the payload, ``frame_reading``); the message type is the subject's last
token. ``gateways.nats.frame_headers`` writes them, ``gateways.nats.frame_of`` reads them.
Subject tokens (tenant, tile, type) are made safe for NATS (no ``.``, ``*``, ``>`` or spaces).

Sharded frames (opt-in, a deployment-wide ``shard_zoom``: ``--shard-zoom``; ``docs/deploy.md``,
Sizing): the frame subject gains a shard token after the tenant,
``v2x.{tenant}.{shard}.{tile}.{cell}.{type}``, ``shard`` the place's quadkey cut at
``shard_zoom`` (``shard_of``; a place that is no quadkey, ``unplaced``, has shard ``_``), and
each shard has its own stream ``V2X_FRAMES_{shard}`` (``shard_stream``, subjects
``v2x.*.{shard}.>``, the frames' settings: ``shard_spec``) instead of ``V2X_FRAMES``, which a
sharded deployment does not create (``streams(shard_zoom=...)``: the subjects would overlap).
A tick marker (the bench's stream clock) is published to every shard stream in use, tile
token ``clock`` under that shard's token, so each stream orders it after its own frames.

>>> frame_subject("acme", "132120220102120213", "BSM")
'v2x.acme.1321202201021202.13.bsm'
>>> frame_subject("acme", "t12_-3", "tick")
'v2x.acme.t12_-3._.tick'
>>> [s.name for s in streams(servers=1)][0], streams(servers=5)[0].replicas
('V2X_FRAMES', 3)
>>> frame_subject("acme", "132120220102120213", "BSM", shard_zoom=12)
'v2x.acme.132120220102.1321202201021202.13.bsm'
>>> frame_place('v2x.acme.132120220102.1321202201021202.13.bsm', shard_zoom=12)
('1321202201021202', '132120220102120213')
>>> shard_spec("132120220102", servers=5).subjects, [s.name for s in streams(servers=1, shard_zoom=12)][0]
(('v2x.*.132120220102.>',), 'V2X_ADVISORIES')
>>> ev_subject("acme", "LSJE24066JG229589")
'ev.acme.4b173eb401da9b7da167'
>>> live_subject("acme", "1321202201021202"), live_tile("live.acme.1321202201021202")
('live.acme.1321202201021202', '1321202201021202')

"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

from v2xcloud.apps.events.congestion import LaneSample
from v2xcloud.model import ParticipantState, RoadEvent

__all__ = [
    "ADVISORIES",
    "CHANNEL_RSI",
    "CHANNEL_WARNING",
    "CLOCKS_BUCKET",
    "DEAD",
    "DELIVERIES",
    "EV",
    "EVENTS",
    "FRAMES",
    "FRAMES_SHARD_PREFIX",
    "HEADER_DEVICE",
    "HEADER_EVENT",
    "HEADER_FRAME",
    "HEADER_MSG_ID",
    "HEADER_RECEIVED_MS",
    "LIVE_SUBJECTS",
    "MISBEHAVIOUR",
    "NO_SHARD",
    "TILE_DIGITS",
    "TRAFFIC",
    "DetectorClocks",
    "EvFrame",
    "RsiDelivery",
    "StreamSpec",
    "TileSnapshot",
    "TileTraffic",
    "advisory_subject",
    "clocks_key",
    "dead_subject",
    "delivery_subject",
    "ev_msg_id",
    "ev_subject",
    "event_subject",
    "frame_msg_id",
    "frame_place",
    "frame_reading",
    "frame_source",
    "frame_subject",
    "live_subject",
    "live_tile",
    "misbehaviour_subject",
    "shard_of",
    "shard_spec",
    "shard_stream",
    "shard_zoom_checked",
    "streams",
    "token",
    "traffic_subject",
]

FRAMES = "V2X_FRAMES"
#: a frame shard's stream is this prefix and the shard token (``shard_stream``)
FRAMES_SHARD_PREFIX = "V2X_FRAMES_"
#: the shard token of a place that is no quadkey (a frame the gateway could not place)
NO_SHARD = "_"
ADVISORIES = "V2X_ADVISORIES"
EVENTS = "V2X_EVENTS"
DELIVERIES = "V2X_DELIVERIES"
DEAD = "V2X_DEAD"
TRAFFIC = "V2X_TRAFFIC"
MISBEHAVIOUR = "V2X_MISBEHAVIOUR"
EV = "V2X_EV"
#: what the centre subscribes to for the live map (core NATS: no stream holds these)
LIVE_SUBJECTS = "live.>"
#: the KV bucket of the event detectors' clocks per tile (``DetectorClocks``, key ``clocks_key``)
CLOCKS_BUCKET = "V2X_CLOCKS"

HEADER_MSG_ID = "Nats-Msg-Id"
#: the sender and receive time of a message that is no device frame (an ``EvFrame``), for a
#: dead letter if it cannot be published (a frame's are in its ``Nats-Msg-Id``)
HEADER_DEVICE = "V2X-Device"
HEADER_RECEIVED_MS = "V2X-Received-Ms"
#: a frame's reading: ``{device kind} {message set} {format}`` (``frame_reading``)
HEADER_FRAME = "V2X-Frame"
HEADER_EVENT = "V2X-Event"

#: the deliveries stream's channels (the subject's last token)
CHANNEL_WARNING = "warning"
CHANNEL_RSI = "rsi"

#: the digits of a frame place's quadkey in the subject's tile token (zoom 16)
TILE_DIGITS = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


class RsiDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """An RSI the platform sends for a road event a worker detected (``dlv.{tenant}.{tile}.rsi``).

    ``key`` the event's dissemination key, ``reason`` new / update / refresh / expired
    (``runtime.dissemination``), ``at_ms`` when it was decided, ``event`` the ``RoadEvent``,
    ``rsi_uper`` the worker's UPER MessageFrame of it (``rsi_error`` why there is none),
    ``identity`` its identity across workers (``runtime.ownership.event_digest``),
    ``sender_id`` the RSI sender id (16 lower-case hex digits) of the tier that found it
    (``runtime.identity.scope_sender_id``; ``None`` from a sender that predates the field:
    the platform's own id). The gateway addresses it to the RSUs of its registry in range of
    the event, encoded for each RSU under ``sender_id`` (and signed there with ``--pki``).
    """

    key: str
    reason: Literal["new", "update", "refresh", "expired"]
    at_ms: int
    event: RoadEvent
    identity: str = ""
    rsi_uper: bytes | None = None
    rsi_error: str | None = None
    sender_id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")] | None = None


class TileTraffic(msgspec.Struct, frozen=True, kw_only=True):
    """One owned tile's traffic at one detection round (``trf.{tenant}.{tile}``): ``lanes``,
    the lane part of each ingress lane whose stop line is in the tile and the vehicles placed
    in the tile (the advisories' rule) on any lane (``apps.events.LaneSample``); ``round_ms``
    the round's time, ``worker`` who measured it."""

    tile: str
    round_ms: int
    worker: str = ""
    lanes: tuple[LaneSample, ...] = ()


class TileSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The road users of one owned tile at one tick (``live.{tenant}.{tile}``, core NATS):
    ``participants`` those the tile's owner placed in it (the advisories' rule: the tile of the
    frame that last reported each, so each appears in one worker's snapshot) as its scene had
    them at ``at_ms``, ``worker`` who sent it. An owned tile is sent even when empty (its last
    road user left). The centre merges them (``runtime.live_map.LiveMap``)."""

    tile: str
    at_ms: int
    worker: str = ""
    participants: tuple[ParticipantState, ...] = ()


class EvFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One GB/T 32960 report a gateway accepted (``ev.{tenant}.{vin}``): ``frame`` the whole
    frame as the terminal sent it (decoded again by the centre with the same codec), ``vin``
    its vehicle, ``received_at_ms`` when the gateway took it (the platform's clock: the
    alarms' receive time), ``gateway`` which gateway."""

    vin: str
    received_at_ms: int
    frame: bytes
    gateway: str = ""


class DetectorClocks(msgspec.Struct, frozen=True, kw_only=True):
    """The event detectors' condition clocks of the road users placed in one tile, as its
    owner had them at ``at_ms`` (its detectors' last round; KV bucket ``V2X_CLOCKS``, key
    ``clocks_key``): ``clocks`` maps a detector kind to ``{road user id: clock}`` in that detector's own terms (its
    ``handover``: the standstill's unexplained ms, a condition's start ms). The tile's next
    owner adopts them (the detector's ``adopt``), so an event that holds goes on instead of
    waiting its whole time again (a stopped vehicle's 20 s). ``announced``: the dissemination
    keys of the tile's road events whose RSI the owner had sent, which the next owner carries
    on rather than announcing them anew (``Disseminator.continue_announced``)."""

    tile: str
    at_ms: int
    worker: str = ""
    clocks: dict[str, dict[str, int]] = {}
    announced: tuple[str, ...] = ()


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
    shard_zoom: int | None = None,
) -> list[StreamSpec]:
    """The eight streams for a cluster of ``servers``: replicas ``min(3, servers)``; frames,
    traffic summaries and EV reports kept ``frames_max_age_s``, advisories/events/deliveries/dead letters/
    misbehaviour reports ``results_max_age_s`` (the centre tier's catch-up window). The duplicate window is at most a stream's age.
    With ``shard_zoom`` the seven without ``V2X_FRAMES``: the frames go to the shard streams
    (``shard_spec``), created on first use."""
    shard_zoom_checked(shard_zoom)
    if servers < 1:
        raise ValueError(f"servers must be >= 1, not {servers}")
    if frames_max_age_s <= 0 or results_max_age_s <= 0:
        raise ValueError("stream ages must be positive")
    replicas = min(3, servers)

    def spec(name: str, subject: str, age: float) -> StreamSpec:
        return StreamSpec(name, (subject,), age, replicas, min(duplicate_window_s, age))

    frames = [] if shard_zoom is not None else [spec(FRAMES, "v2x.>", frames_max_age_s)]
    return [
        *frames,
        spec(ADVISORIES, "adv.>", results_max_age_s),
        spec(EVENTS, "evt.>", results_max_age_s),
        spec(DELIVERIES, "dlv.>", results_max_age_s),
        spec(DEAD, "dead.>", results_max_age_s),
        spec(TRAFFIC, "trf.>", frames_max_age_s),
        spec(MISBEHAVIOUR, "mbr.>", results_max_age_s),
        spec(EV, "ev.>", frames_max_age_s),
    ]


def shard_zoom_checked(shard_zoom: int | None) -> int | None:
    """``shard_zoom`` itself when it is ``None`` or 1..``TILE_DIGITS`` (a shard holds whole
    tiles of the subject); ``ValueError`` otherwise."""
    if shard_zoom is not None and not 1 <= shard_zoom <= TILE_DIGITS:
        raise ValueError(f"shard zoom {shard_zoom}: 1 to {TILE_DIGITS} (the subject's tile token)")
    return shard_zoom


def shard_stream(shard: str) -> str:
    """``V2X_FRAMES_{shard}``: the stream of a frame shard."""
    return FRAMES_SHARD_PREFIX + token(shard)


def shard_spec(
    shard: str,
    *,
    servers: int,
    frames_max_age_s: float = 120.0,
    duplicate_window_s: float = 120.0,
) -> StreamSpec:
    """The stream of frame shard ``shard``: ``V2X_FRAMES_{shard}`` on ``v2x.*.{shard}.>``,
    the settings ``V2X_FRAMES`` would have (``streams``)."""
    if servers < 1:
        raise ValueError(f"servers must be >= 1, not {servers}")
    if frames_max_age_s <= 0:
        raise ValueError("stream ages must be positive")
    return StreamSpec(
        shard_stream(shard),
        (f"v2x.*.{token(shard)}.>",),
        frames_max_age_s,
        min(3, servers),
        min(duplicate_window_s, frames_max_age_s),
    )


def _is_quadkey(text: str) -> bool:
    return bool(text) and all(c in "0123" for c in text)


def shard_of(place: str, shard_zoom: int) -> str:
    """The shard of a frame filed at ``place``: its quadkey cut at ``shard_zoom``; ``_``
    (``NO_SHARD``) for a place that is no quadkey or is coarser than the shards."""
    if _is_quadkey(place) and len(place) >= shard_zoom:
        return place[:shard_zoom]
    return NO_SHARD


def token(text: str) -> str:
    """``text`` as one safe subject token (unsafe characters become ``_``; empty: ``_``)."""
    return _UNSAFE.sub("_", text) or "_"


def frame_subject(
    tenant: str,
    place: str,
    message_type: str,
    *,
    shard_zoom: int | None = None,
    shard: str | None = None,
) -> str:
    """``v2x.{tenant}.{tile}.{cell}.{type}`` of a frame filed at ``place`` (a zoom-18 quadkey,
    ``runtime.tiles.cell_of``: ``tile`` its first ``TILE_DIGITS`` digits, ``cell`` the rest;
    a shorter place has cell ``_``), ``type`` lower-case. With ``shard_zoom``:
    ``v2x.{tenant}.{shard}.{tile}.{cell}.{type}``, ``shard`` given (a tick marker's) or the
    place's (``shard_of``)."""
    tile, cell = place[:TILE_DIGITS], place[TILE_DIGITS:]
    tail = f"{token(tile)}.{token(cell)}.{token(message_type.lower())}"
    if shard_zoom is None:
        return f"v2x.{token(tenant)}.{tail}"
    if shard is None:
        shard = shard_of(place, shard_zoom)
    return f"v2x.{token(tenant)}.{token(shard)}.{tail}"


def frame_place(subject: str, *, shard_zoom: int | None = None) -> tuple[str, str]:
    """``(tile, place)`` of a frame subject: its tile token and the place it was filed at
    (tile and cell digits joined; the tile alone when the cell is ``_``). With
    ``shard_zoom`` the subject must carry the place's shard token (``shard_of``; a tick
    marker, tile ``clock``, any shard of ``shard_zoom`` digits); ``ValueError`` naming what is
    wrong."""
    parts = subject.split(".")
    if shard_zoom is None:
        if len(parts) != 5 or parts[0] != "v2x":
            raise ValueError(f"{subject!r} is not a frame subject v2x.tenant.tile.cell.type")
        tile, cell = parts[2], parts[3]
        return tile, tile if cell == "_" else tile + cell
    if len(parts) != 6 or parts[0] != "v2x":
        raise ValueError(
            f"{subject!r} is not a sharded frame subject v2x.tenant.shard.tile.cell.type"
        )
    shard, tile, cell = parts[2], parts[3], parts[4]
    place = tile if cell == "_" else tile + cell
    if tile == "clock":
        if shard == NO_SHARD or (_is_quadkey(shard) and len(shard) == shard_zoom):
            return tile, place
    elif shard == shard_of(place, shard_zoom):
        return tile, place
    raise ValueError(
        f"{subject!r}: shard token {shard!r} is not the shard of place {place!r} at shard zoom "
        f"{shard_zoom} ({shard_of(place, shard_zoom)!r})"
    )


def advisory_subject(tenant: str, tile: str, app: str) -> str:
    """``adv.{tenant}.{tile}.{app}`` (app lower-case)."""
    return f"adv.{token(tenant)}.{token(tile)}.{token(app.lower())}"


def event_subject(tenant: str, tile: str, kind: str) -> str:
    """``evt.{tenant}.{tile}.{kind}``."""
    return f"evt.{token(tenant)}.{token(tile)}.{token(kind.lower())}"


def delivery_subject(tenant: str, tile: str, channel: str) -> str:
    """``dlv.{tenant}.{tile}.{channel}`` (channel: rsi, advisory, ...)."""
    return f"dlv.{token(tenant)}.{token(tile)}.{token(channel.lower())}"


def traffic_subject(tenant: str, tile: str) -> str:
    """``trf.{tenant}.{tile}``."""
    return f"trf.{token(tenant)}.{token(tile)}"


def live_subject(tenant: str, tile: str) -> str:
    """``live.{tenant}.{tile}``: a tile's live-map snapshots (core NATS)."""
    return f"live.{token(tenant)}.{token(tile)}"


def live_tile(subject: str) -> str:
    """The tile token of a live-map subject; ``ValueError`` for any other subject."""
    parts = subject.split(".")
    if len(parts) != 3 or parts[0] != "live" or not all(parts):
        raise ValueError(f"{subject!r} is not a live-map subject live.tenant.tile")
    return parts[2]


def misbehaviour_subject(tenant: str, tile: str) -> str:
    """``mbr.{tenant}.{tile}``."""
    return f"mbr.{token(tenant)}.{token(tile)}"


def clocks_key(tenant: str, tile: str) -> str:
    """``{tenant}.{tile}``: a tile's key in the detectors' clocks bucket."""
    return f"{token(tenant)}.{token(tile)}"


def ev_subject(tenant: str, vin: str) -> str:
    """``ev.{tenant}.{digest}``: one subject per vehicle, named by a 10-byte BLAKE2b digest of
    its VIN (a VIN identifies a person's car: it stays out of subject names, logs and ACLs)."""
    digest = hashlib.blake2b(vin.encode("utf-8", "replace"), digest_size=10).hexdigest()
    return f"ev.{token(tenant)}.{digest}"


def ev_msg_id(vin: str, collected_at_ms: int) -> str:
    """``ev:{vin}:{collected ms}``: a vehicle's report is one per collection time (GB/T 32960
    dedupes on it too), however many gateways or retries carried it."""
    return f"ev:{vin}:{collected_at_ms}"


def dead_subject(tenant: str, reason: str) -> str:
    """``dead.{tenant}.{reason}`` (the ``DropReason`` value)."""
    return f"dead.{token(tenant)}.{token(reason)}"


def frame_msg_id(device_id: str, received_at_ms: int, payload: bytes) -> str:
    """The deterministic ``Nats-Msg-Id`` of a frame: ``{device}:{received ms}:{digest}``,
    so a retried publish of the same frame is dropped by the stream's duplicate window.

    >>> frame_msg_id("obu:7", 1700000000123, b"x")[:19]
    'obu:7:1700000000123'
    """
    digest = hashlib.blake2b(payload, digest_size=8).hexdigest()
    return f"{device_id}:{received_at_ms}:{digest}"


def frame_source(msg_id: str) -> tuple[str, int]:
    """``(device, received ms)`` of a frame's ``Nats-Msg-Id`` (``frame_msg_id``; a device id
    may itself hold ``:``); ``ValueError`` naming what is wrong.

    >>> frame_source(frame_msg_id("obu:7", 1700000000123, b"x"))
    ('obu:7', 1700000000123)
    """
    head, sep, digest = msg_id.rpartition(":")
    device, sep2, received = head.rpartition(":")
    if not (sep and sep2 and device and digest) or not received.isdigit():
        raise ValueError(f"{msg_id!r} is no frame id device:received_ms:digest")
    return device, int(received)


def frame_reading(kind: str, message_set: str, fmt: str) -> str:
    """The ``V2X-Frame`` header of a frame: ``{kind} {message set} {format}`` (tokens, no
    spaces).

    >>> frame_reading("obu", "csae2020", "uper")
    'obu csae2020 uper'
    """
    parts = (kind, message_set, fmt)
    if not all(parts) or any(" " in p for p in parts):
        raise ValueError(f"frame reading {parts!r}: three non-empty words without spaces")
    return f"{kind} {message_set} {fmt}"
