"""The real Hisense captures through the UPER and hex drivers: the codec's models, as is."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2xcloud.codec import Decoded, MessageSet, decode, iter_capture_lines
from v2xcloud.gateways import DeviceKind, InboundFrame
from v2xcloud.gateways.drivers import Dropped, Parsed, parse
from v2xcloud.model import Bsm, DropReason, MapData, Rsi, Rsm, Spat

CAPTURES = "captures/csae53-2017-hisense-captures.txt"
SET = MessageSet.CSAE2017


def _frames(reference_dir: Path) -> list[tuple[int, bytes]]:
    text = (reference_dir / CAPTURES).read_text(encoding="utf-8")
    found = []
    for _, records in iter_capture_lines(text):
        assert not isinstance(records, Exception), records
        found.extend((r.timestamp_ms, r.frame) for r in records)
    return found


@pytest.mark.parametrize("shape", ["uper", "hex", "auto"])
def test_real_captures_through_the_byte_drivers(reference_dir: Path, shape: str) -> None:
    frames = _frames(reference_dir)
    kinds = []
    for at_ms, data in frames:
        payload = data.hex().encode() if shape == "hex" else data
        frame = InboundFrame(
            payload=payload,
            device_id="u_id_123",
            device_kind=DeviceKind.RSU,
            message_type=None,
            transport="udp",
            channel="udp:0",
            received_at_ms=at_ms,
        )
        result = parse(frame, message_set=SET, shape=shape)
        assert isinstance(result, Parsed), result
        direct = decode(data, message_set=SET, received_at_ms=at_ms)
        assert isinstance(direct, Decoded)
        assert result.models == (direct.to_model(),)
        kinds.append(type(result.models[0]))
    assert sorted(k.__name__ for k in kinds) == sorted(
        k.__name__ for k in (Spat, Bsm, Bsm, Rsm, Rsi, MapData)
    )


def test_real_2017_map_from_a_device_set_to_2020_is_a_wrong_version_drop(
    reference_dir: Path,
) -> None:
    decoded = [decode(data, message_set=SET) for _, data in _frames(reference_dir)]
    (map_frame,) = [d.raw for d in decoded if isinstance(d, Decoded) and d.message_type == "MAP"]
    for payload, shape in ((map_frame, "uper"), (map_frame.hex().encode(), "hex")):
        frame = InboundFrame(
            payload=payload,
            device_id="R1",
            device_kind=DeviceKind.RSU,
            message_type="MAP",
            transport="mqtt",
            channel="V2X/RSU/R1/MAP/UP",
            received_at_ms=0,
        )
        result = parse(frame, message_set=MessageSet.CSAE2020, shape=shape)
        assert isinstance(result, Dropped), result
        assert result.reason is DropReason.WRONG_VERSION and "csae2017" in result.detail
