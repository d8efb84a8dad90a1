"""One-off maintenance tool: emit v2xcloud's own ASN.1 modules for a message set.

The wire structure of the C-V2X message sets (type names, types, ranges, tags, extension
markers) is fixed by the standards. This tool takes the *structure* of a set, as parsed by
asn1tools from a published module text, and writes it out in v2xcloud's own module
organisation (by topic, see ``GROUPS``) and layout, without any comment or header of the
source. The hand-written Day-2 frame module (``V2xDay2Frame.asn``) is not produced here.

    python tools/asn1_regroup.py ../shared/reference/asn1/csae53-2017 \
        src/v2xcloud/codec/asn1 csae2017 V2x17
    python tools/asn1_regroup.py ../shared/reference/asn1/csae53-2020-day2 \
        src/v2xcloud/codec/asn1 csae2020 V2x20

The Day-2 topic modules (Sensing, Cooperation, Services) go to ``day2/`` as ``V2xDay2*``.

Wire compatibility with the published text is proven by ``tests/codec/test_schema_compat.py``.
"""

from __future__ import annotations

import argparse
import glob
import re
import sys
from pathlib import Path

import asn1tools

# source module name -> our topic module (suffix after the prefix)
GROUPS = {
    "DefAcceleration": "Kinematics",
    "DefMotion": "Kinematics",
    "DefPosition": "Position",
    "DefPositionOffset": "Position",
    "DefTime": "Time",
    "VehBrake": "Vehicle",
    "VehClass": "Vehicle",
    "VehEmgExt": "Vehicle",
    "VehSafetyExt": "Vehicle",
    "VehSize": "Vehicle",
    "VehStatus": "Vehicle",
    "BSM": "Vehicle",
    "Map": "Map",
    "MapLane": "Map",
    "MapLink": "Map",
    "MapNode": "Map",
    "MapPoint": "Map",
    "MapSpeedLimit": "Map",
    "SPATIntersectionState": "Signal",
    "SignalPhaseAndTiming": "Signal",
    "RSI": "Roadside",
    "RSM": "Roadside",
    "MsgFrame": "Frame",
    "SensorSharing": "Sensing",
    "PSM": "Sensing",
    "VIR": "Cooperation",
    "RSC": "Cooperation",
    "Platooning": "Cooperation",
    "PAM": "Services",
    "VPM": "Services",
    "RTCM": "Services",
    "TestMsg": "Services",
}
BUILTIN = {
    "INTEGER",
    "BOOLEAN",
    "NULL",
    "SEQUENCE",
    "SEQUENCE OF",
    "CHOICE",
    "ENUMERATED",
    "BIT STRING",
    "OCTET STRING",
    "IA5String",
    "UTF8String",
    "VisibleString",
    "PrintableString",
    "NumericString",
    "BMPString",
}


def _bound(v: object) -> str:
    return "MAX" if v == "MAX" else "MIN" if v == "MIN" else str(v)


def _ranges(spec: list) -> str:
    parts = []
    for item in spec:
        if item is None:
            parts.append("...")
        elif isinstance(item, (list, tuple)):
            lo, hi = item
            parts.append(_bound(lo) if lo == hi else f"{_bound(lo)}..{_bound(hi)}")
        else:
            parts.append(_bound(item))
    return ", ".join(parts)


def _type(t: dict, indent: int) -> str:
    kind = t["type"]
    pad = "  " * (indent + 1)
    if kind in ("SEQUENCE", "CHOICE"):
        lines = []
        for m in t["members"]:
            if m is None:
                lines.append(f"{pad}...")
                continue
            opt = " OPTIONAL" if m.get("optional") else ""
            if "default" in m:
                opt = f" DEFAULT {m['default']}"
            lines.append(f"{pad}{m['name']} {_type(m, indent + 1)}{opt}")
        body = ",\n".join(lines)
        return f"{kind} {{\n{body}\n{'  ' * indent}}}" if lines else f"{kind} {{}}"
    if kind == "SEQUENCE OF":
        size = f" (SIZE({_ranges(t['size'])}))" if t.get("size") else ""
        return f"SEQUENCE{size} OF {_type(t['element'], indent)}"
    if kind == "ENUMERATED":
        vals = ", ".join("..." if v is None else f"{v[0]}({v[1]})" for v in t["values"])
        return f"ENUMERATED {{{vals}}}"
    out = kind
    if kind == "BIT STRING" and t.get("named-bits"):
        out += " {" + ", ".join(f"{n}({b})" for n, b in t["named-bits"]) + "}"
    if t.get("restricted-to"):
        out += f" ({_ranges(t['restricted-to'])})"
    if t.get("size"):
        out += f" (SIZE({_ranges(t['size'])}))"
    return out


def _refs(t: dict, found: set[str]) -> None:
    if t is None:
        return
    if t["type"] not in BUILTIN and "." not in t["type"]:
        found.add(t["type"])
    for m in t.get("members") or []:
        _refs(m, found)
    if "element" in t:
        _refs(t["element"], found)


DAY2_TOPICS = {"Sensing", "Cooperation", "Services"}


def _module_name(prefix: str, topic: str) -> str:
    return f"V2xDay2{topic}" if topic in DAY2_TOPICS else prefix + topic


def emit(src: Path, out: Path, folder: str, prefix: str, skip: set[str]) -> None:
    parsed = asn1tools.parse_files(sorted(glob.glob(str(src / "*.asn"))))
    owner: dict[str, str] = {}
    groups: dict[str, dict[str, dict]] = {}
    values: dict[str, dict[str, dict]] = {}
    for module, content in parsed.items():
        if module in skip:
            continue
        group = _module_name(prefix, GROUPS[module])
        for name, t in content["types"].items():
            owner[name] = group
            groups.setdefault(group, {})[name] = t
        for name, v in content.get("values", {}).items():
            values.setdefault(group, {})[name] = v
    for group, types in sorted(groups.items()):
        found: set[str] = set()
        for t in types.values():
            _refs(t, found)
        imports: dict[str, list[str]] = {}
        for ref in sorted(found - set(types)):
            imports.setdefault(owner.get(ref, "V2xDay2Frame"), []).append(ref)
        lines = [f"{group} DEFINITIONS AUTOMATIC TAGS ::= BEGIN", ""]
        if imports:
            items = "\n  ".join(f"{', '.join(n)} FROM {m}" for m, n in sorted(imports.items()))
            lines += [f"IMPORTS\n  {items};", ""]
        for name in sorted(types):
            lines += [f"{name} ::= {_type(types[name], 0)}", ""]
        for name, v in sorted(values.get(group, {}).items(), key=lambda kv: kv[1]["value"]):
            lines += [f"{name} {v['type']} ::= {v['value']}"]
        lines += ["", "END", ""]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
        target = out / ("day2" if group.startswith("V2xDay2") else folder)
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{group}.asn").write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("folder")
    ap.add_argument("prefix")
    args = ap.parse_args()
    emit(args.src, args.out, args.folder, args.prefix, skip={"MsgDayII"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
