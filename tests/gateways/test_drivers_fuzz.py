"""Random and mutated payloads never make a driver raise: each gives Parsed or Dropped."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways import DeviceKind, InboundFrame
from v2xcloud.gateways.drivers import DRIVERS, Dropped, Parsed, parse
from v2xcloud.twin.testing import bsm_at

SHAPES = ["auto", *sorted(DRIVERS)]
SET = MessageSet.CSAE2020
_BSM = encode_model(
    bsm_at("a1b2c3d4e5f60718", x_m=3.0, y_m=4.0, t_ms=1_000, speed_mps=5.0), message_set=SET
)
_RADAR = msgspec.json.encode(
    {
        "timeStamp": "2022-10-31 15:33:47",
        "number": 1,
        "targets": [
            {
                "targetId": 1,
                "targetType": 3,
                "latitude": 39.07,
                "longitude": 115.94,
                "speed": -3.0,
                "headingAngle": 164.0,
                "targetLength": 4.5,
                "targetWidth": 1.8,
            }
        ],
    }
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "targets",
                    "content",
                    "rsms",
                    "refPos",
                    "participants",
                    "pos",
                    "lat",
                    "lon",
                    "ptcType",
                    "ptcId",
                    "secMark",
                    "speed",
                    "heading",
                    "size",
                    "latitude",
                    "longitude",
                    "targetId",
                    "timeStamp",
                    "number",
                    "bsmFrame",
                    "dev_pos",
                    "id",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)


def _frame(payload: bytes, message_type: str | None) -> InboundFrame:
    return InboundFrame(
        payload=payload,
        device_id="dev-1",
        device_kind=DeviceKind.UNKNOWN,
        message_type=message_type,
        transport="inproc",
        channel="fuzz",
        received_at_ms=1_700_000_000_000,
    )


def _check(payload: bytes, message_type: str | None = None) -> None:
    for shape in SHAPES:
        result = parse(_frame(payload, message_type), message_set=SET, shape=shape)
        assert isinstance(result, Parsed | Dropped)
        if isinstance(result, Dropped):
            assert result.detail and result.reason.value != "internal_error", result


_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=120))
def test_random_bytes_never_raise(payload: bytes) -> None:
    _check(payload)


@_FUZZ
@given(_JSON)
def test_random_json_never_raises(value: Any) -> None:
    _check(msgspec.json.encode(value), "TRACK")


@_FUZZ
@given(st.data())
def test_mutated_real_payloads_never_raise(data: st.DataObject) -> None:
    for base in (_BSM, _BSM.hex().encode(), _RADAR):
        index = data.draw(st.integers(0, len(base) - 1))
        byte = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(1, len(base)))
        mutated = (base[:index] + bytes([byte]) + base[index + 1 :])[:cut]
        _check(mutated, "TRACK" if base is _RADAR else None)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member of a JSON value (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found += _paths(inner, (*prefix, i))
    return found


def _mutate(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    value = msgspec.json.decode(msgspec.json.encode(value))  # a deep copy
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return value


_VALID = {
    "radar": msgspec.json.decode(_RADAR),
    "openv2x-rsm": {
        "id": "R1",
        "content": {
            "rsms": [
                {
                    "refPos": {"lat": 319348466, "lon": 1188213963, "ele": 100},
                    "participants": [
                        {
                            "ptcType": "motor",
                            "ptcId": 1,
                            "source": 3,
                            "secMark": 100,
                            "pos": {"lat": 319353292, "lon": 1188217469},
                            "speed": 500,
                            "heading": 7200,
                            "size": {"width": 180, "length": 460, "height": 30},
                        }
                    ],
                }
            ]
        },
    },
    "openv2x-dawnline": [
        {
            "dev_pos": {"lat": 31.93, "lon": 118.82},
            "content": [
                {
                    "ptcType": "motor",
                    "ptcId": 1,
                    "timeStamp": 1_700_000_000_000,
                    "pos_lat": 31.93,
                    "pos_lon": 118.82,
                    "heading": 90.0,
                    "speed": 3.0,
                }
            ],
        }
    ],
}


@_FUZZ
@given(st.data())
def test_valid_vendor_json_with_one_member_changed_never_raises(data: st.DataObject) -> None:
    shape = data.draw(st.sampled_from(sorted(_VALID)))
    valid = _VALID[shape]
    path = data.draw(st.sampled_from(_paths(valid)))
    delete = data.draw(st.booleans())
    new = data.draw(_JSON | st.just(float("inf")) | st.just(-(2**70)))
    payload = msgspec.json.encode(_mutate(valid, path, new, delete))
    frame = _frame(payload, "TRACK" if shape == "radar" else "RSM")
    for named in (shape, "auto"):
        result = parse(frame, message_set=SET, shape=named)
        assert isinstance(result, Parsed | Dropped)
        if isinstance(result, Dropped):
            assert result.reason.value != "internal_error", (path, new, result)
