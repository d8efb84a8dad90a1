"""The topic tree: every topic the issue lists builds and parses back; anything else is refused."""

from __future__ import annotations

import pytest

from v2xcloud.gateways import topics
from v2xcloud.gateways.base import DeviceKind
from v2xcloud.gateways.topics import Topic, TopicError, parse


@pytest.mark.parametrize(
    "kind,types",
    [
        (DeviceKind.RSU, ["BSM", "MAP", "SPAT", "RSM", "RSI", "HB"]),
        (DeviceKind.RADAR, ["TRACK", "EVENT", "FLOW", "STATUS", "CROSS"]),
        (DeviceKind.OBU, ["BSM"]),
    ],
)
def test_every_up_link_topic_round_trips(kind: DeviceKind, types: list[str]) -> None:
    for message_type in types:
        name = topics.up(kind, "dev-7", message_type)
        assert name == f"V2X/{kind.name}/dev-7/{message_type}/UP"
        assert parse(name) == Topic(kind, "dev-7", message_type, "up")


def test_info_down_and_ack() -> None:
    assert topics.up(DeviceKind.RSU, "x", "INFO") == "V2X/RSU/INFO/UP"
    assert parse("V2X/RSU/INFO/UP") == Topic(DeviceKind.RSU, "", "INFO", "up")
    for t in ["RSI", "RSM", "MAP", "SPAT", "CONFIG"]:
        assert parse(topics.rsu_down("R1", t)) == Topic(DeviceKind.RSU, "R1", t, "down")
        assert parse(topics.rsu_down("R1", t) + "/ACK") == Topic(DeviceKind.RSU, "R1", t, "ack")
    assert parse(topics.obu_down("car-1")) == Topic(DeviceKind.OBU, "car-1", "ADVISORY", "down")


@pytest.mark.parametrize(
    "bad",
    [
        "V2X/RSU/R1/FOO/UP",  # unknown type
        "V2X/OBU/car/RSM/UP",  # OBU has BSM only
        "V2X/TRUCK/t1/BSM/UP",  # unknown kind
        "V2X/RSU/R1/BSM",  # no direction
        "V2X/RSU/R1/BSM/SIDEWAYS",  # bad direction
        "V2X/RSU//BSM/UP",  # empty id
        "X2V/RSU/R1/BSM/UP",  # wrong root
        "V2X/OBU/c/ADVISORY/DOWN/ACK",  # only RSUs acknowledge
    ],
)
def test_topics_outside_the_tree_are_refused(bad: str) -> None:
    with pytest.raises(TopicError, match="unknown topic"):
        parse(bad)


def test_builders_refuse_wildcards_and_wrong_types() -> None:
    with pytest.raises(TopicError):
        topics.up(DeviceKind.RSU, "a/b", "BSM")
    with pytest.raises(TopicError):
        topics.rsu_down("R1", "ADVISORY")
    with pytest.raises(TopicError):
        topics.obu_down("+")
