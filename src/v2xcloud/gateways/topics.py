"""The MQTT topic tree devices and the platform share (the OpenV2X / "新四跨" RSU↔cloud layout).

Up-link (device → platform)::

    V2X/RSU/{esn}/{BSM|MAP|SPAT|RSM|RSI}/UP     what the RSU heard or generated
    V2X/RSU/{esn}/HB/UP                         RSU heartbeat
    V2X/RSU/INFO/UP                             RSU device information (the ESN is in the body)
    V2X/RADAR/{id}/{TRACK|EVENT|FLOW|STATUS|CROSS}/UP   roadside radar / camera
    V2X/OBU/{id}/BSM/UP                         a vehicle over cellular (Uu)

Down-link (platform → device) and its acknowledgement::

    V2X/RSU/{esn}/{RSI|RSM|MAP|SPAT|CONFIG}/DOWN   acknowledged on .../DOWN/ACK
    V2X/RSU/{esn}/{type}/DOWN/ACK                  {"seqNum": n, "errorCode": 0}
    V2X/OBU/{id}/ADVISORY/DOWN                     per-vehicle advisory (JSON)

>>> parse("V2X/RSU/R001/RSM/UP")
Topic(kind=<DeviceKind.RSU: 'rsu'>, device_id='R001', message_type='RSM', direction='up')
>>> rsu_down("R001", "RSI")
'V2X/RSU/R001/RSI/DOWN'
>>> parse("V2X/RSU/R001/RSI/DOWN/ACK").direction
'ack'
>>> parse("V2X/RSU/R001/FOO/UP")
Traceback (most recent call last):
...
v2xcloud.gateways.topics.TopicError: unknown topic 'V2X/RSU/R001/FOO/UP': RSU up-link type 'FOO' is not one of BSM, HB, MAP, RSI, RSM, SPAT
"""

from __future__ import annotations

from typing import Literal

import msgspec

from v2xcloud.errors import GatewayError
from v2xcloud.gateways.base import DeviceKind

__all__ = [
    "OBU_DOWN_TYPES",
    "OBU_UP_TYPES",
    "RADAR_UP_TYPES",
    "RSU_DOWN_TYPES",
    "RSU_UP_TYPES",
    "SUBSCRIPTIONS",
    "Direction",
    "Topic",
    "TopicError",
    "obu_down",
    "parse",
    "rsu_down",
    "up",
]

Direction = Literal["up", "down", "ack"]

RSU_UP_TYPES = frozenset({"BSM", "MAP", "SPAT", "RSM", "RSI", "HB"})
RADAR_UP_TYPES = frozenset({"TRACK", "EVENT", "FLOW", "STATUS", "CROSS"})
OBU_UP_TYPES = frozenset({"BSM"})
RSU_DOWN_TYPES = frozenset({"RSI", "RSM", "MAP", "SPAT", "CONFIG"})
OBU_DOWN_TYPES = frozenset({"ADVISORY"})

#: What the platform subscribes to (QoS 1): every up-link and every down-link ACK.
SUBSCRIPTIONS: tuple[str, ...] = (
    "V2X/RSU/+/+/UP",
    "V2X/RSU/INFO/UP",
    "V2X/RSU/+/+/DOWN/ACK",
    "V2X/RADAR/+/+/UP",
    "V2X/OBU/+/BSM/UP",
)

_KINDS = {"RSU": DeviceKind.RSU, "RADAR": DeviceKind.RADAR, "OBU": DeviceKind.OBU}
_UP_TYPES = {
    DeviceKind.RSU: RSU_UP_TYPES,
    DeviceKind.RADAR: RADAR_UP_TYPES,
    DeviceKind.OBU: OBU_UP_TYPES,
}
_DOWN_TYPES = {DeviceKind.RSU: RSU_DOWN_TYPES, DeviceKind.OBU: OBU_DOWN_TYPES}


class TopicError(GatewayError):
    """A topic outside the tree (the gateway dead-letters it as ``UNKNOWN_TOPIC``)."""

    def __init__(self, topic: str, detail: str) -> None:
        self.topic = topic
        self.detail = detail
        super().__init__(f"unknown topic {topic!r}: {detail}")


class Topic(msgspec.Struct, frozen=True):
    """A parsed topic. ``device_id`` is empty for ``V2X/RSU/INFO/UP`` (the body names it)."""

    kind: DeviceKind
    device_id: str
    message_type: str
    direction: Direction


def _check_id(device_id: str, topic: str) -> None:
    if not device_id or any(c in device_id for c in "/+#"):
        raise TopicError(topic, f"device id {device_id!r} is empty or holds / + #")


def up(kind: DeviceKind, device_id: str, message_type: str) -> str:
    """The up-link topic a device publishes ``message_type`` on (``INFO`` has no id level)."""
    if kind is DeviceKind.RSU and message_type == "INFO":
        return "V2X/RSU/INFO/UP"
    allowed = _UP_TYPES.get(kind)
    name = f"V2X/{kind.name}/{device_id}/{message_type}/UP"
    if allowed is None or message_type not in allowed:
        raise TopicError(name, f"{kind.value} has no up-link type {message_type!r}")
    _check_id(device_id, name)
    return name


def rsu_down(esn: str, message_type: str) -> str:
    """``V2X/RSU/{esn}/{type}/DOWN`` for one of ``RSU_DOWN_TYPES``."""
    name = f"V2X/RSU/{esn}/{message_type}/DOWN"
    if message_type not in RSU_DOWN_TYPES:
        raise TopicError(name, f"RSU down-link type {message_type!r} is not one of RSU_DOWN_TYPES")
    _check_id(esn, name)
    return name


def obu_down(obu_id: str) -> str:
    """``V2X/OBU/{id}/ADVISORY/DOWN``."""
    name = f"V2X/OBU/{obu_id}/ADVISORY/DOWN"
    _check_id(obu_id, name)
    return name


def parse(topic: str) -> Topic:
    """Split a topic of the tree into kind, device id, message type and direction.

    Raises ``TopicError`` for anything outside the tree (wrong root, kind, type or shape).
    """
    parts = topic.split("/")
    if topic == "V2X/RSU/INFO/UP":
        return Topic(DeviceKind.RSU, "", "INFO", "up")
    if len(parts) < 5 or parts[0] != "V2X" or parts[1] not in _KINDS:
        raise TopicError(topic, "not V2X/{RSU|RADAR|OBU}/{id}/{type}/{UP|DOWN|DOWN/ACK}")
    kind = _KINDS[parts[1]]
    device_id, message_type, tail = parts[2], parts[3], parts[4:]
    _check_id(device_id, topic)
    if tail == ["UP"]:
        return Topic(kind, device_id, message_type, _checked(topic, kind, message_type, "up"))
    if tail == ["DOWN"]:
        return Topic(kind, device_id, message_type, _checked(topic, kind, message_type, "down"))
    if tail == ["DOWN", "ACK"] and kind is DeviceKind.RSU:
        return Topic(kind, device_id, message_type, _checked(topic, kind, message_type, "ack"))
    raise TopicError(topic, f"direction {'/'.join(tail)!r} is not UP, DOWN or DOWN/ACK")


def _checked(topic: str, kind: DeviceKind, message_type: str, direction: Direction) -> Direction:
    table = _UP_TYPES if direction == "up" else _DOWN_TYPES
    allowed = table.get(kind, frozenset())
    if message_type not in allowed:
        way = "up-link" if direction == "up" else "down-link"
        raise TopicError(
            topic,
            f"{kind.name} {way} type {message_type!r} is not one of {', '.join(sorted(allowed))}",
        )
    return direction
