"""``/api/dead-letters``: stored letters with filters, raw hex cut for display, counts by
reason and by source; viewer-token reads like every other read."""

from __future__ import annotations

from v2xcloud.api.testing import ScriptedLive
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.store import HistoryStore

from .conftest import T0, VIEWER, make_client

LETTERS = [
    DeadLetter(
        received_at_ms=T0 + 1000,
        reason=DropReason.MALFORMED,
        source="udp:rsu-1",
        raw=bytes(range(100)),
        detail="MessageFrame: bad index",
        where="$",
    ),
    DeadLetter(
        received_at_ms=T0 + 2000,
        reason=DropReason.IMPLAUSIBLE,
        source="mqtt:obu-7",
        raw=b"\xaa\xbb",
        detail="BSM: speed 160.0 m/s is outside 0..150 m/s",
        where="$.bsmFrame.speed",
    ),
    DeadLetter(
        received_at_ms=T0 + 3000,
        reason=DropReason.MALFORMED,
        source="mqtt:obu-7",
        raw=b"",
        detail="empty",
    ),
]


def test_lists_letters_newest_first_with_hex_cut_and_full_length(
    played: ScriptedLive, store: HistoryStore
) -> None:
    store.write_dead_letters(LETTERS)
    with make_client(played, store) as client:
        body = client.get("/api/dead-letters", params={"raw_bytes": 8}).json()
    assert [d["received_at_ms"] for d in body["letters"]] == [T0 + 3000, T0 + 2000, T0 + 1000]
    oldest = body["letters"][-1]
    assert oldest["raw_hex"] == bytes(range(8)).hex() and oldest["raw_len"] == 100
    assert oldest["raw_truncated"] is True and oldest["where"] == "$"
    middle = body["letters"][1]
    assert middle["raw_hex"] == "aabb" and middle["raw_truncated"] is False
    assert middle["reason"] == "implausible" and middle["where"] == "$.bsmFrame.speed"
    assert body["counts"] == {
        "by_reason": {"implausible": 1, "malformed": 2},
        "by_source": {"mqtt:obu-7": 2, "udp:rsu-1": 1},
    }
    assert body["live"] == {}


def test_filters_by_reason_source_and_since(played: ScriptedLive, store: HistoryStore) -> None:
    store.write_dead_letters(LETTERS)
    with make_client(played, store) as client:

        def times(**params: object) -> list[int]:
            body = client.get("/api/dead-letters", params=params).json()
            return [d["received_at_ms"] for d in body["letters"]]

        assert times(reason="malformed") == [T0 + 3000, T0 + 1000]
        assert times(source="mqtt:obu-7") == [T0 + 3000, T0 + 2000]
        assert times(reason="malformed", source="mqtt:obu-7") == [T0 + 3000]
        assert times(since=T0 + 1500) == [T0 + 3000, T0 + 2000]
        assert times(limit=1) == [T0 + 3000]
        bad = client.get("/api/dead-letters", params={"reason": "crc"})
        assert bad.status_code == 422 and "not a drop reason" in bad.text
        counts = client.get("/api/dead-letters/counts", params={"start_ms": T0 + 1500}).json()
        assert counts["by_reason"] == {"implausible": 1, "malformed": 1}
        assert counts["by_source"] == {"mqtt:obu-7": 2}


def test_reads_need_the_viewer_token_when_set(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store, viewer_token=VIEWER) as client:
        assert client.get("/api/dead-letters").status_code == 401
        assert client.get("/api/dead-letters/counts").status_code == 401
        viewer = {"Authorization": f"Bearer {VIEWER}"}
        assert client.get("/api/dead-letters", headers=viewer).status_code == 200


def test_one_sources_raw_bytes_download_whole_and_decode_back(
    played: ScriptedLive, store: HistoryStore
) -> None:
    from v2xcloud.codec.framing import iter_hex_lines

    big = DeadLetter(
        received_at_ms=T0 + 4000,
        reason=DropReason.MALFORMED,
        source="mqtt:obu-7",
        raw=bytes(range(256)) * 20,  # 5120 bytes: more than the listing ever shows
        detail="two\nlines",
    )
    store.write_dead_letters([*LETTERS, big])
    with make_client(played, store) as client:
        got = client.get("/api/dead-letters/raw", params={"source": "mqtt:obu-7", "start_ms": T0})
        none = client.get("/api/dead-letters/raw", params={"source": "nobody", "start_ms": T0})
        missing = client.get("/api/dead-letters/raw")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
    assert 'filename="dead-letters-mqtt_obu-7.hex"' in got.headers["content-disposition"]
    lines = got.text.splitlines()
    assert (
        lines[0]
        == f"# {T0 + 2000} implausible at $.bsmFrame.speed: BSM: speed 160.0 m/s is outside 0..150 m/s"
    )
    assert lines[-2] == f"# {T0 + 4000} malformed: two lines"
    frames = [f for _, f in iter_hex_lines(line for line in lines if not line.startswith("#"))]
    assert frames == [b"\xaa\xbb", big.raw]  # the empty letter is an empty line: skipped
    assert none.status_code == 200 and none.text == ""
    assert missing.status_code == 422
