"""The real Hisense captures decode under T/CSAE 53-2017 and equal the vendor tool's text.

The vendor text is parsed here (not hand-copied) into a tree and compared field by field with
our lossless JSON. Findings recorded by these tests:

- The BSM line is a batched capture record holding two BSMs (86 and 53 bytes); the vendor text
  shows two BSMs too. The 53-byte BSM (msgCnt 101) equals the vendor's first block exactly.
- The vendor's second BSM block (msgCnt 118, secMark 9600) and its SPAT (msgCnt 109) are
  *neighbouring* transmissions of the same senders, not the frames in the file: every field
  equal except the counters and times listed in ``_NEIGHBOUR_DIFFS``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.codec import CHINA, Decoded, MessageSet, decode, iter_capture_lines
from v2xcloud.model import DropReason

CAPTURES = "captures/csae53-2017-hisense-captures.txt"
_LABEL = re.compile(r"^(\w+)(?:样例|发送的消息)：")
_TEXT_START = re.compile(r"^(\w+)解析：")
_ENUM = re.compile(r"^-?\d+ \((.+)\)$")
_BITS = re.compile(r"^((?:[0-9A-F]{2} ?)+)\((\d+) bits unused\)$")


class _Number(str):
    """A vendor number as written: compared as an integer, or as hex text ("01")."""


def _leaf(text: str) -> Any:
    if re.fullmatch(r"-?\d+", text):
        return _Number(text)
    if m := _ENUM.match(text):
        return m.group(1)
    if m := _BITS.match(text):
        return _bits(bytes.fromhex(m.group(1).replace(" ", "")), int(m.group(2)))
    return {"hex": text.replace(" ", "").lower()}


def _bits(data: bytes, unused: int) -> dict[str, str]:
    length = len(data) * 8 - unused
    return {"bits": format(int.from_bytes(data, "big"), f"0{len(data) * 8}b")[:length]}


def _same_leaf(vendor: Any, ours: Any) -> bool:
    if isinstance(vendor, _Number):
        return int(vendor) == ours if isinstance(ours, int) else vendor == ours
    if isinstance(vendor, dict) and "hex" in vendor:
        if (
            isinstance(ours, str)
            and set(ours) <= {"0", "1"}
            and len(ours) == len(vendor["hex"]) * 4
        ):
            return (
                _bits(bytes.fromhex(vendor["hex"]), 0)["bits"] == ours
            )  # BIT STRING, no unused bits
        return bool(vendor["hex"] == ours)
    if isinstance(vendor, dict) and "bits" in vendor:
        return bool(vendor["bits"] == ours)
    return bool(vendor == ours)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _parse_block(lines: list[str], i: int, indent: int) -> tuple[Any, int]:
    """Parse the lines indented deeper than ``indent``; a block of unnamed items is a list.

    Indentation, not braces, delimits blocks: the vendor text lacks some closing braces.
    """
    named: dict[str, Any] = {}
    items: list[Any] = []
    while i < len(lines) and lines[i].strip() and _indent(lines[i]) > indent:
        line = lines[i].strip()
        i += 1
        if line == "}":
            continue
        key, _, rest = line.partition(": ")
        if line.endswith("::= {"):
            value, i = _parse_block(lines, i, _indent(lines[i - 1]))
            if rest:
                named[key] = value
            else:
                items.append(value)
        else:
            named[key] = _leaf(rest)
    if i < len(lines) and lines[i].strip() == "}" and _indent(lines[i]) == indent:
        i += 1
    return (items if items else named), i


def vendor_text(path: Path) -> dict[str, list[Any]]:
    """Message label ("SPAT", "BSM", ...) → the vendor tool's decoded messages, as trees."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: dict[str, list[Any]] = {}
    label = None
    i = 0
    while i < len(lines):
        if m := _TEXT_START.match(lines[i]):
            label = m.group(1)
        elif lines[i].endswith("::= {") and label and _indent(lines[i]) == 0:
            tree, i = _parse_block(lines, i + 1, 0)
            out.setdefault(label, []).append(tree)
            continue
        i += 1
    return out


def diff(vendor: Any, ours: Any, path: str = "$", *, prefix: bool = False) -> list[str]:
    """Paths where the vendor tree and our lossless JSON differ (CHOICE wrappers unwrapped).

    ``prefix``: the vendor text was cut off, so its lists and objects may end early.
    """
    if (
        isinstance(ours, dict)
        and len(ours) == 1
        and not (isinstance(vendor, dict) and set(vendor) <= set(ours))
    ):
        ((alt, inner),) = ours.items()
        return diff(vendor, inner, f"{path}.{alt}", prefix=prefix)
    if isinstance(vendor, dict) and isinstance(ours, dict) and not ({"hex", "bits"} & set(vendor)):
        keys_ok = set(vendor) <= set(ours) if prefix else set(vendor) == set(ours)
        if not keys_ok:
            return [f"{path} keys {sorted(set(vendor) ^ set(ours))}"]
        return [p for k in vendor for p in diff(vendor[k], ours[k], f"{path}.{k}", prefix=prefix)]
    if isinstance(vendor, list) and isinstance(ours, list):
        if len(vendor) > len(ours) or (len(vendor) < len(ours) and not prefix):
            return [f"{path} length {len(vendor)} != {len(ours)}"]
        pairs = zip(vendor, ours[: len(vendor)], strict=True)
        return [
            p for n, (a, b) in enumerate(pairs) for p in diff(a, b, f"{path}[{n}]", prefix=prefix)
        ]
    return [] if _same_leaf(vendor, ours) else [path]


@pytest.fixture(scope="module")
def captures(reference_dir: Path) -> dict[str, list[Any]]:
    """Message label → our decoded frames (csae2017), in file order."""
    text = (reference_dir / CAPTURES).read_text(encoding="utf-8")
    labels = [m.group(1) for line in text.splitlines() if (m := _LABEL.match(line))]
    out: dict[str, list[Any]] = {}
    for label, (_, frames) in zip(labels, iter_capture_lines(text), strict=True):
        assert not isinstance(frames, Exception), frames
        for f in frames:
            out.setdefault(label, []).append(
                decode(f.frame, message_set=MessageSet.CSAE2017, received_at_ms=f.timestamp_ms)
            )
    return out


@pytest.fixture(scope="module")
def vendor(reference_dir: Path) -> dict[str, list[Any]]:
    return vendor_text(reference_dir / CAPTURES)


def _content(result: Any) -> Any:
    assert isinstance(result, Decoded), result
    ((_, content),) = result.json.items()
    return content


@pytest.mark.parametrize("label", ["RSM", "RSI"])
def test_capture_equals_vendor_text_field_by_field(
    label: str, captures: dict, vendor: dict
) -> None:
    (ours,), (theirs,) = captures[label], vendor[label]
    assert diff(theirs, _content(ours)) == []


def test_batched_bsm_record_holds_two_bsms_and_one_equals_vendor_text(
    captures: dict, vendor: dict
) -> None:
    ours = [_content(r) for r in captures["BSM"]]
    assert [b["msgCnt"] for b in ours] == [117, 101]
    assert [int(b["msgCnt"]) for b in vendor["BSM"]] == [101, 118]
    assert diff(vendor["BSM"][0], ours[1]) == []


def test_neighbouring_vendor_frames_differ_only_in_counters_and_times(
    captures: dict, vendor: dict
) -> None:
    # the vendor printed the next BSM of the same car and an earlier SPAT of the same signal
    assert diff(vendor["BSM"][1], _content(captures["BSM"][0])) == ["$.msgCnt", "$.secMark"]
    assert diff(vendor["SPAT"][0], _content(captures["SPAT"][0])) == [
        "$.msgCnt",
        "$.moy",
        "$.timeStamp",
    ]


def test_map_equals_the_truncated_vendor_text(captures: dict, vendor: dict) -> None:
    # the file ends inside the vendor's MAP text (2 of 4 links); that MAP is 18 minutes later
    ours = _content(captures["MAP"][0])
    assert diff(vendor["MAP"][0], ours, prefix=True) == ["$.timeStamp"]
    assert int(vendor["MAP"][0]["timeStamp"]) - ours["timeStamp"] == 18


def test_diff_sees_a_changed_field(captures: dict, vendor: dict) -> None:
    ours = _content(captures["RSM"][0])
    ours["participants"][0]["heading"] += 1
    assert diff(vendor["RSM"][0], ours) == ["$.participants[0].heading"]


def test_2017_map_and_rsi_are_rejected_under_csae2020_with_a_version_hint(
    reference_dir: Path,
) -> None:
    text = (reference_dir / CAPTURES).read_text(encoding="utf-8")
    frames = [f for _, fr in iter_capture_lines(text) for f in fr]
    results = [decode(f.frame, message_set=MessageSet.CSAE2020) for f in frames]
    decoded = [r.message_type for r in results if isinstance(r, Decoded)]
    assert decoded == ["SPAT", "BSM", "BSM", "RSM"]  # encoded identically in both sets
    rejected = [r for r in results if not isinstance(r, Decoded)]
    assert [r.reason for r in rejected] == [DropReason.WRONG_VERSION] * 2
    assert all("is the device on csae2017?" in r.detail for r in rejected)


def test_2017_map_under_csae2020_with_a_deployment_area(reference_dir: Path) -> None:
    """Measured: under csae2020 the 2017 MAP stops after 20 of 529 bytes (its first node's
    reference point would be at about (-30.95, -33.51))."""
    text = (reference_dir / CAPTURES).read_text(encoding="utf-8")
    map_frame = [f for _, fr in iter_capture_lines(text) for f in fr][-1].frame
    result = decode(map_frame, message_set=MessageSet.CSAE2020, check_version=False)
    assert not isinstance(result, Decoded)
    assert result.reason is DropReason.TRAILING_BYTES and result.where == "byte 20"
    good = decode(map_frame, message_set=MessageSet.CSAE2017, area=CHINA)
    assert isinstance(good, Decoded)
    node = good.to_model().nodes[0]
    assert (round(node.lat_deg, 4), round(node.lon_deg, 4)) == (28.0985, 112.983)
