"""A MAP repeated byte for byte is decoded once; its judgement still runs every time."""

from __future__ import annotations

import pytest

from v2xcloud.codec import Decoded, DeploymentArea, MessageSet, _uper, decode, encode_model
from v2xcloud.codec import frame as frame_mod
from v2xcloud.model import Connection, DropReason, Lane, MapData, MapLink, MapNode, NodeId

S20 = MessageSet.CSAE2020


def _map(node_id: int, lat_deg: float = 28.1) -> MapData:
    lane = Lane(
        lane_id=1,
        width_m=3.5,
        points=((lat_deg + 0.0005, 112.9), (lat_deg + 0.0009, 112.9)),
        connections=(Connection(remote_node=NodeId(region=1, id=2), remote_lane_id=4, phase_id=3),),
    )
    link = MapLink(upstream_node=NodeId(region=1, id=2), width_m=7.0, lanes=(lane,))
    node = MapNode(
        id=NodeId(region=1, id=node_id), lat_deg=lat_deg, lon_deg=112.9, in_links=(link,)
    )
    return MapData(msg_count=0, nodes=(node,))


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> frame_mod._RepeatedFrames:
    cache = frame_mod._RepeatedFrames(max_frames=3)
    monkeypatch.setattr(frame_mod, "_REPEATED", cache)
    return cache


def test_a_repeated_map_skips_the_decoder_and_gives_the_same_model(
    fresh: frame_mod._RepeatedFrames, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = encode_model(_map(1), message_set=S20)
    first = decode(raw, message_set=S20)
    assert isinstance(first, Decoded)

    def no_decoder(*args: object, **kwargs: object) -> object:
        raise AssertionError("asn1tools was asked again")

    monkeypatch.setattr(frame_mod, "decode_type", no_decoder)
    again = decode(raw, message_set=S20, received_at_ms=5)
    assert isinstance(again, Decoded) and fresh.hits == 1
    assert again.to_model() == first.to_model()
    # a MAP that differs in one byte is decoded afresh (here: the decoder refuses)
    other = encode_model(_map(2), message_set=S20)
    with pytest.raises(AssertionError, match="asked again"):
        decode(other, message_set=S20)


def test_the_area_check_judges_a_repeated_map_every_time(
    fresh: frame_mod._RepeatedFrames,
) -> None:
    raw = encode_model(_map(1), message_set=S20)
    assert isinstance(decode(raw, message_set=S20), Decoded)
    beijing = DeploymentArea(
        min_lat_deg=39.4, max_lat_deg=41.1, min_lon_deg=115.4, max_lon_deg=117.5
    )
    result = decode(raw, message_set=S20, area=beijing)
    assert not isinstance(result, Decoded) and result.reason is DropReason.IMPLAUSIBLE
    assert fresh.hits == 1


def test_bad_frames_are_not_kept_and_the_cache_is_bounded(
    fresh: frame_mod._RepeatedFrames, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = encode_model(_map(1), message_set=S20)
    cut = raw[:-3]
    for _ in range(2):
        result = decode(cut, message_set=S20)
        assert not isinstance(result, Decoded)
    assert len(fresh) == 0
    frames = [encode_model(_map(i), message_set=S20) for i in range(1, 6)]
    for raw in frames:
        assert isinstance(decode(raw, message_set=S20), Decoded)
    assert len(fresh) == 3  # max_frames
    calls: list[int] = []
    real = _uper.decode_type

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(frame_mod, "decode_type", counting)
    decode(frames[-1], message_set=S20)  # newest: kept
    decode(frames[0], message_set=S20)  # oldest: dropped, decoded again
    assert len(calls) == 1
    small = frame_mod._RepeatedFrames(max_frames=100, max_bytes=2 * len(frames[0]))
    for raw in frames[:3]:
        small.put(S20, raw, ("mapFrame", {}))
    assert len(small) == 2  # the byte bound holds too
