"""THE validity stage: every rule a frame or model must pass before anything counts it accepted.

``codec.decode`` runs ``check_frame`` once on every frame that parsed; models that enter
without bytes (a gateway's JSON driver, ``Runtime.ingest``) run the same rules through
``check_model``. Nothing downstream checks again: the scene trusts what passed here.

The rules, each with its named limit and its ``DropReason``:

- ``no_position``: the sender's/reference position, or a nested absolute position (a path
  crumb, lane point, RSM object or RSI point given as ``position-LatLon``), is marked
  unavailable; the SI model has no place for it.
- ``implausible``: a position off the Earth (``LAT_RANGE_DEG``, ``LON_RANGE_DEG``) or not
  finite; a speed outside ``0..MAX_SPEED_MPS``; a heading outside ``HEADING_RANGE_DEG``; an
  elevation outside ``ELEVATION_RANGE_M``; with a configured ``DeploymentArea``, a MAP node or
  RSI reference point outside it, or a lane point farther than ``max_point_distance_m`` from
  its node (geodesic distance on WGS-84).
- ``wrong_version``: a MAP/RSI whose reference point lies outside China while the other
  message set decodes the same bytes completely into a point inside China, or that fails to
  decode while the other set decodes it cleanly inside China (no area configured) — the
  signature of a device on the other version. A T/CSAE 53-2017 MAP decodes under the 53-2020
  schema without any error, into garbage: on the real 2017 capture the node's reference point
  lands at (-30.95°, -33.51°), in the South Atlantic, instead of Changsha.

The schema bounds some of these on the wire (latitude, heading and elevation cannot leave
their range in UPER; speed can reach 163.8 m/s), so for the hot messages (BSM, RSM, MAP)
``check_frame`` applies the rules to the native value with the same converters the SI models
use, without building the model; for the others (RSI, Day-2) it builds the model and runs
``check_model`` on it (the model is kept in the ``Decoded``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

import msgspec

from v2xcloud.codec import _units as u
from v2xcloud.codec._uper import Reject, decode_type, peek_alternative
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.codec.result import Decoded, Rejected
from v2xcloud.errors import DecodeError
from v2xcloud.model import (
    Bsm,
    DropReason,
    MapData,
    ParticipantState,
    Rsi,
    Rsm,
)
from v2xcloud.model.day2 import Psm, Ssm

__all__ = [
    "CHINA",
    "ELEVATION_RANGE_M",
    "HEADING_RANGE_DEG",
    "LAT_RANGE_DEG",
    "LON_RANGE_DEG",
    "MAX_SPEED_MPS",
    "DeploymentArea",
    "check_frame",
    "check_model",
    "check_state",
    "explain_version",
    "missing_position",
    "reference_points",
]

#: fastest plausible road user (540 km/h); the wire allows 163.8 m/s
MAX_SPEED_MPS = 150.0
LAT_RANGE_DEG = (-90.0, 90.0)
LON_RANGE_DEG = (-180.0, 180.0)
#: degrees clockwise from north; the wire's 0..28800 × 0.0125° ends at 360 inclusive
HEADING_RANGE_DEG = (0.0, 360.0)
#: below the Dead Sea shore (-430 m) to above Everest (8849 m)
ELEVATION_RANGE_M = (-500.0, 9000.0)

_DEG_DIV = 10_000_000
_UNAVAILABLE_LAT = u.LAT_UNAVAILABLE
_UNAVAILABLE_LON = u.LON_UNAVAILABLE
_SPEED = u.SI["speed"]
#: a reference point this close to a pole or the antimeridian (1e-7°) may put an offset
#: position off the Earth: such frames are judged on their SI model
_EDGE_LAT = 890_000_000
_EDGE_LON = 1_790_000_000


class DeploymentArea(msgspec.Struct, frozen=True, kw_only=True):
    """A lat/lon box (degrees) the deployment's RSUs lie in, plus a geometry tolerance."""

    min_lat_deg: float
    max_lat_deg: float
    min_lon_deg: float
    max_lon_deg: float
    max_point_distance_m: float = 10_000.0

    def contains(self, lat_deg: float, lon_deg: float) -> bool:
        """True if the point lies inside the box (edges included)."""
        return (
            self.min_lat_deg <= lat_deg <= self.max_lat_deg
            and self.min_lon_deg <= lon_deg <= self.max_lon_deg
        )

    @classmethod
    def parse(cls, text: str) -> DeploymentArea:
        """``"china"`` or ``"min_lat,min_lon,max_lat,max_lon"`` (degrees)."""
        from v2xcloud.errors import ConfigError

        if text.strip().lower() == "china":
            return CHINA
        try:
            a, b, c, d = (float(x) for x in text.split(","))
        except ValueError:
            raise ConfigError(
                f"bad deployment area {text!r}; use 'china' or 'min_lat,min_lon,max_lat,max_lon'"
            ) from None
        return cls(min_lat_deg=a, min_lon_deg=b, max_lat_deg=c, max_lon_deg=d)


CHINA = DeploymentArea(min_lat_deg=3.8, max_lat_deg=53.6, min_lon_deg=73.5, max_lon_deg=135.1)


# --- the rules on SI values ---------------------------------------------------------------------
def _position_problem(lat: float, lon: float) -> str | None:
    if not (
        LAT_RANGE_DEG[0] <= lat <= LAT_RANGE_DEG[1] and LON_RANGE_DEG[0] <= lon <= LON_RANGE_DEG[1]
    ):  # NaN fails every comparison
        return f"position ({lat}, {lon}) is not a WGS-84 position"
    return None


def _speed_problem(speed: float | None) -> str | None:
    if speed is None or 0.0 <= speed <= MAX_SPEED_MPS:
        return None
    return f"speed {speed} m/s is outside 0..{MAX_SPEED_MPS:g} m/s"


_LAT_MIN, _LAT_MAX = LAT_RANGE_DEG
_LON_MIN, _LON_MAX = LON_RANGE_DEG
_HEADING_MIN, _HEADING_MAX = HEADING_RANGE_DEG
_ELEVATION_MIN, _ELEVATION_MAX = ELEVATION_RANGE_M


def _is_plausible(state: ParticipantState) -> bool:
    """``check_state(state) is None``, inline (called once per report); NaN fails it."""
    speed, heading, elevation = state.speed_mps, state.heading_deg, state.elevation_m
    return (
        _LAT_MIN <= state.lat_deg <= _LAT_MAX
        and _LON_MIN <= state.lon_deg <= _LON_MAX
        and (speed is None or 0.0 <= speed <= MAX_SPEED_MPS)
        and (heading is None or _HEADING_MIN <= heading <= _HEADING_MAX)
        and (elevation is None or _ELEVATION_MIN <= elevation <= _ELEVATION_MAX)
    )


def check_state(state: ParticipantState) -> str | None:
    """Why one road user's state is impossible (position, speed, heading, elevation), or None."""
    problem = _position_problem(state.lat_deg, state.lon_deg) or _speed_problem(state.speed_mps)
    if problem:
        return problem
    heading = state.heading_deg
    if heading is not None and not HEADING_RANGE_DEG[0] <= heading <= HEADING_RANGE_DEG[1]:
        return (
            f"heading {heading} deg is outside {HEADING_RANGE_DEG[0]:g}..{HEADING_RANGE_DEG[1]:g}"
        )
    elevation = state.elevation_m
    if elevation is not None and not ELEVATION_RANGE_M[0] <= elevation <= ELEVATION_RANGE_M[1]:
        return f"elevation {elevation} m is outside {ELEVATION_RANGE_M[0]:g}..{ELEVATION_RANGE_M[1]:g} m"
    return None


def _participants(model: Any) -> Iterator[tuple[str, ParticipantState]]:
    if isinstance(model, ParticipantState):
        yield "$", model
    elif isinstance(model, Bsm | Psm):
        yield "$.participant", model.participant
    elif isinstance(model, Rsm | Ssm):
        for i, state in enumerate(model.participants):
            yield f"$.participants[{i}]", state


def _reference_positions(model: Any) -> Iterator[tuple[str, float, float]]:
    if isinstance(model, MapData):
        for i, node in enumerate(model.nodes):
            yield f"$.nodes[{i}]", node.lat_deg, node.lon_deg
    elif isinstance(model, Ssm):
        yield "$.sensor", model.sensor_lat_deg, model.sensor_lon_deg
    elif hasattr(model, "ref_lat_deg"):  # Rsm, Rsi, Vir, Rsc
        yield "$.ref", model.ref_lat_deg, model.ref_lon_deg


def _model_area_problem(model: Any, area: DeploymentArea) -> tuple[str, str] | None:
    if not isinstance(model, MapData | Rsi):
        return None
    for where, lat, lon in _reference_positions(model):
        if not area.contains(lat, lon):
            return where, f"reference point ({lat:.5f}, {lon:.5f}) is outside the deployment area"
    if isinstance(model, MapData):
        for n, node in enumerate(model.nodes):
            points = [
                point
                for link in node.in_links
                for line in (link.points, *(lane.points for lane in link.lanes))
                for point in line
            ]
            far = _farthest((node.lat_deg, node.lon_deg), points)
            if far is not None and far[1] > area.max_point_distance_m:
                return f"$.nodes[{n}].in_links", _far_sentence(far[1])
    return None


def check_model(
    model: Any, *, raw: bytes = b"", area: DeploymentArea | None = None
) -> Rejected | None:
    """Run the validity rules on an SI model that entered without passing ``decode``.

    Returns ``Rejected`` (``implausible``, with ``raw`` kept) naming the first broken rule and
    where, or ``None`` when the model is valid. An RSM/SSM is rejected whole when one of its
    objects is impossible: a sender that reports one impossible object is not trusted for the
    others. Message types without rules (SPAT, the Day-2 payment/RTCM messages) pass.

    >>> from v2xcloud.twin.testing import bsm_at
    >>> check_model(bsm_at("a", x_m=0, y_m=0, t_ms=0, speed_mps=160.0)).reason.value
    'implausible'
    """
    kind = type(model)
    if kind is Bsm or kind is ParticipantState:  # the hot path: one report (no area rule)
        state = model.participant if kind is Bsm else model
        if _is_plausible(state):
            return None
    message_type = kind.__name__
    for where, lat, lon in _reference_positions(model):
        if (problem := _position_problem(lat, lon)) is not None:
            return _rejected(raw, DropReason.IMPLAUSIBLE, f"{message_type}: {problem}", where)
    for where, state in _participants(model):
        if (problem := check_state(state)) is not None:
            detail = f"{message_type}: participant {state.id!r}: {problem}"
            return _rejected(raw, DropReason.IMPLAUSIBLE, detail, where)
    if area is not None and (found := _model_area_problem(model, area)) is not None:
        return _rejected(raw, DropReason.IMPLAUSIBLE, f"{message_type}: {found[1]}", found[0])
    return None


def _rejected(raw: bytes, reason: DropReason, detail: str, where: str | None) -> Rejected:
    return Rejected(raw=raw, reason=reason, detail=detail, where=where)


# --- the rules on native values (the hot messages) ------------------------------------------------
def _latlon(pos: dict[str, Any]) -> tuple[float, float] | None:
    lat, lon = pos["lat"], pos["long"]
    if lat == _UNAVAILABLE_LAT or lon == _UNAVAILABLE_LON:
        return None
    return lat / _DEG_DIV, lon / _DEG_DIV


def _near_edge(pos: dict[str, Any]) -> bool:
    return abs(pos["lat"]) > _EDGE_LAT or abs(pos["long"]) > _EDGE_LON


def _offset_unavailable(offset: dict[str, Any]) -> bool:
    kind, ll = offset["offsetLL"]
    return kind == "position-LatLon" and (
        ll["lat"] == _UNAVAILABLE_LAT or ll["lon"] == _UNAVAILABLE_LON
    )


def reference_points(alternative: str, value: dict[str, Any]) -> Iterator[tuple[str, float, float]]:
    """(where, lat, lon) of each available reference point of a MAP or RSI native value."""
    if alternative == "mapFrame":
        for i, node in enumerate(value["nodes"]):
            if (ll := _latlon(node["refPos"])) is not None:
                yield f"$.mapFrame.nodes[{i}].refPos", *ll
    elif alternative == "rsiFrame" and (ll := _latlon(value["refPos"])) is not None:
        yield "$.rsiFrame.refPos", *ll


_POSITION_FIELD = {"bsmFrame": "pos", "rsmFrame": "refPos", "rsiFrame": "refPos"}
_DAY2_POSITION_FIELD = {15: "pos", 12: "sensorPos", 13: "refPos", 11: "refPos"}  # PSM SSM VIR RSC


def missing_position(alternative: str, value: dict[str, Any]) -> str | None:
    """Where the sender's or reference position is marked unavailable, or None."""
    if alternative == "mapFrame":
        for i, node in enumerate(value["nodes"]):
            if _latlon(node["refPos"]) is None:
                return f"$.mapFrame.nodes[{i}].refPos"
        return None
    if alternative == "msgFrameExt":
        field = _DAY2_POSITION_FIELD.get(value["messageId"])
        if field and _latlon(value["value"][field]) is None:
            return f"$.msgFrameExt.value.{field}"
        return None
    field = _POSITION_FIELD.get(alternative)
    return f"$.{alternative}.{field}" if field and _latlon(value[field]) is None else None


def _bsm_problem(value: dict[str, Any]) -> Reject | None:
    if (problem := _speed_problem(_SPEED(value["speed"]))) is not None:
        return Reject(DropReason.IMPLAUSIBLE, f"BSM: {problem}", "$.bsmFrame.speed")
    history = (value.get("safetyExt") or {}).get("pathHistory")
    if history:
        for i, crumb in enumerate(history["crumbData"]):
            if _offset_unavailable(crumb["llvOffset"]):
                where = f"$.bsmFrame.safetyExt.pathHistory.crumbData[{i}].llvOffset"
                return Reject(DropReason.NO_POSITION, _NESTED % "BSM", where)
    return None


def _rsm_problem(value: dict[str, Any]) -> Reject | None:
    for i, obj in enumerate(value["participants"]):
        where = f"$.rsmFrame.participants[{i}]"
        if (problem := _speed_problem(_SPEED(obj.get("speed")))) is not None:
            return Reject(DropReason.IMPLAUSIBLE, f"RSM: object {i}: {problem}", where + ".speed")
        if _offset_unavailable(obj["pos"]):
            return Reject(DropReason.NO_POSITION, _NESTED % "RSM", where + ".pos")
    return None


def _map_problem(value: dict[str, Any]) -> Reject | None:
    for n, node in enumerate(value["nodes"]):
        for where, point in _native_points(node):
            if _offset_unavailable(point["posOffset"]):
                return Reject(
                    DropReason.NO_POSITION, _NESTED % "MAP", f"$.mapFrame.nodes[{n}].{where}"
                )
    return None


_NESTED = "%s: an absolute position-LatLon is marked unavailable; the SI model needs one"


def _native_points(node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, link in enumerate(node.get("inLinks", ())):
        for j, p in enumerate(link.get("points", ())):
            yield f"inLinks[{i}].points[{j}]", p
        for k, lane in enumerate(link.get("lanes", ())):
            for j, p in enumerate(lane.get("points", ())):
                yield f"inLinks[{i}].lanes[{k}].points[{j}]", p


def _farthest(
    ref: tuple[float, float], points: Iterable[tuple[float, float]]
) -> tuple[int, float] | None:
    """(index, geodesic distance m) of the point farthest from ``ref``, or None if none."""
    pts = list(points)
    if not pts:
        return None
    lats = [p[0] for p in pts]
    lons = [p[1] for p in pts]
    _, _, dist = _geod().inv([ref[1]] * len(pts), [ref[0]] * len(pts), lons, lats)
    distances = [float(d) for d in dist]
    k = max(range(len(distances)), key=distances.__getitem__)
    return k, distances[k]


@cache
def _geod() -> Any:
    """The WGS-84 ellipsoid for geodesic distances (pyproj imported on the first area check,
    not with the codec)."""
    from pyproj import Geod

    return Geod(ellps="WGS84")


def _far_sentence(distance_m: float) -> str:
    return f"lane point {distance_m / 1000:.1f} km from its node"


def _native_area_problem(
    alternative: str, value: dict[str, Any], area: DeploymentArea
) -> tuple[str, str] | None:
    """(where, what is wrong) under a configured area, or None if the frame is inside it."""
    for where, lat, lon in reference_points(alternative, value):
        if not area.contains(lat, lon):
            return where, f"reference point ({lat:.5f}, {lon:.5f}) is outside the deployment area"
    if alternative != "mapFrame":
        return None
    for n, node in enumerate(value["nodes"]):
        ref = _latlon(node["refPos"])
        if ref is None:
            continue
        located = [
            (where, u.absolute(p["posOffset"], node["refPos"])[:2])
            for where, p in _native_points(node)
            if not _offset_unavailable(p["posOffset"])
        ]
        far = _farthest(ref, (point for _, point in located))
        if far is not None and far[1] > area.max_point_distance_m:
            return f"$.mapFrame.nodes[{n}].{located[far[0]][0]}", _far_sentence(far[1])
    return None


# --- wrong message-set version ------------------------------------------------------------------
def _other(message_set: MessageSet) -> MessageSet:
    return MessageSet.CSAE2017 if message_set is MessageSet.CSAE2020 else MessageSet.CSAE2020


def _mismatch_sentence(message_set: MessageSet, what: str) -> str:
    other = _other(message_set).value
    return f"decoded with {message_set.value} but {what}; is the device on {other}?"


def _other_set_is_plausible(data: bytes, message_set: MessageSet) -> bool:
    try:
        value = decode_type(_other(message_set), "MessageFrame", data, "$")
    except Reject:
        return False
    points = (
        list(reference_points(value[0], value[1])) if value[0] in ("mapFrame", "rsiFrame") else []
    )
    return bool(points) and all(CHINA.contains(la, lo) for _, la, lo in points)


def _version_problem(decoded: Decoded[Any], area: DeploymentArea | None) -> Reject | None:
    alternative, content = decoded.value
    if area is not None:
        problem = _native_area_problem(alternative, content, area)
        if problem:
            where, what = problem
            detail = _mismatch_sentence(decoded.message_set, what)
            return Reject(DropReason.IMPLAUSIBLE, detail, where)
        return None
    outside = [
        (w, la, lo)
        for w, la, lo in reference_points(alternative, content)
        if not CHINA.contains(la, lo)
    ]
    if outside and _other_set_is_plausible(decoded.raw, decoded.message_set):
        where, lat, lon = outside[0]
        other = _other(decoded.message_set).value
        what = f"reference point ({lat:.5f}, {lon:.5f}) lies outside China, while {other} puts it inside"
        return Reject(
            DropReason.WRONG_VERSION, _mismatch_sentence(decoded.message_set, what), where
        )
    return None


_STRUCTURAL = (DropReason.MALFORMED, DropReason.TRAILING_BYTES, DropReason.CONSTRAINT)


def explain_version(exc: Reject, data: bytes, message_set: MessageSet) -> Reject:
    """A MAP/RSI that fails under one set but decodes cleanly under the other: ``wrong_version``."""
    if exc.reason not in _STRUCTURAL or peek_alternative(data) not in ("mapFrame", "rsiFrame"):
        return exc
    if not _other_set_is_plausible(data, message_set):
        return exc
    other = _other(message_set).value
    detail = (
        f"does not decode with {message_set.value} ({exc.reason.value}: {exc.detail}), but "
        f"{other} decodes it completely with its reference point inside China; "
        f"is the device on {other}?"
    )
    return Reject(DropReason.WRONG_VERSION, detail, exc.where)


# --- the stage ----------------------------------------------------------------------------------
_NATIVE = {"bsmFrame": _bsm_problem, "rsmFrame": _rsm_problem, "mapFrame": _map_problem}
_NO_RULES = ("spatFrame",)  # no position, no speed: nothing to judge


def check_frame(
    decoded: Decoded[Any], *, check_version: bool = True, wire_only: bool = False
) -> Rejected | None:
    """Run every rule once on a frame that parsed; ``Rejected`` (raw kept) or ``None``.

    ``wire_only=True`` (the lossless-JSON path) skips the model rules (``no_position``,
    ``implausible``): such a frame is valid on the wire but unjudged, its ``to_model()`` may
    raise, and it must not be ingested. ``check_version=False`` skips the wrong-version
    heuristic (used only when no ``decoded.area`` is configured).
    """
    if not wire_only and _obviously_valid(decoded.value):  # most BSMs and RSMs
        return None
    problem = _check(decoded, check_version, wire_only)
    if problem is None:
        return None
    return Rejected(
        raw=decoded.raw, reason=problem.reason, detail=problem.detail, where=problem.where
    )


#: the largest wire speed (0.02 m/s) the SI rule accepts: derived from MAX_SPEED_MPS through
#: the very converter the SI model uses, so the native shortcut cannot disagree with it
_MAX_SPEED_RAW = max(r for r in range(u.SPEED_UNAVAILABLE) if (_SPEED(r) or 0.0) <= MAX_SPEED_MPS)
_SPEED_UNAVAILABLE = u.SPEED_UNAVAILABLE
_EMPTY: dict[str, Any] = {}


def _obviously_valid(value: tuple[str, Any]) -> bool:
    """True when a BSM or RSM passes every rule at a glance (positions available, no
    absolute nested position, speeds within the limit); False means: run the rules."""
    alternative, content = value
    if alternative == "bsmFrame":
        pos, speed = content["pos"], content["speed"]
        if not (
            pos["lat"] != _UNAVAILABLE_LAT
            and pos["long"] != _UNAVAILABLE_LON
            and (speed <= _MAX_SPEED_RAW or speed == _SPEED_UNAVAILABLE)
        ):
            return False
        history = (content.get("safetyExt") or _EMPTY).get("pathHistory")
        if history:
            for crumb in history["crumbData"]:
                kind, ll = crumb["llvOffset"]["offsetLL"]
                if kind == "position-LatLon" and (
                    ll["lat"] == _UNAVAILABLE_LAT or ll["lon"] == _UNAVAILABLE_LON
                ):
                    return False
        return True
    if alternative != "rsmFrame":
        return False
    ref = content["refPos"]
    if ref["lat"] == _UNAVAILABLE_LAT or ref["long"] == _UNAVAILABLE_LON or _near_edge(ref):
        return False
    for obj in content["participants"]:
        speed = obj.get("speed", 0)
        if speed > _MAX_SPEED_RAW and speed != _SPEED_UNAVAILABLE:
            return False
        kind, ll = obj["pos"]["offsetLL"]
        if kind == "position-LatLon" and (
            ll["lat"] == _UNAVAILABLE_LAT or ll["lon"] == _UNAVAILABLE_LON
        ):
            return False
    return True


def _check(decoded: Decoded[Any], check_version: bool, wire_only: bool) -> Reject | None:
    alternative, content = decoded.value
    problem = None if wire_only else _model_rules(decoded, alternative, content)
    needs_version = decoded.area is not None or check_version
    if problem is None and needs_version and alternative in ("mapFrame", "rsiFrame"):
        problem = _version_problem(decoded, decoded.area)
    return problem


def _model_rules(decoded: Decoded[Any], alternative: str, content: Any) -> Reject | None:
    if (where := missing_position(alternative, content)) is not None:
        detail = f"{decoded.message_type}: position marked unavailable; the SI model needs one"
        return Reject(DropReason.NO_POSITION, detail, where)
    if alternative in _NO_RULES:
        return None
    native = _NATIVE.get(alternative)
    ref = content.get("refPos") if alternative == "rsmFrame" else None
    if native is not None and not (ref is not None and _near_edge(ref)):
        return native(content)
    return _model_problem(decoded)


def _model_problem(decoded: Decoded[Any]) -> Reject | None:
    try:
        model = decoded.to_model()  # kept in the Decoded: built once
    except DecodeError as exc:  # a nested absolute position marked unavailable
        return Reject(exc.reason, f"{decoded.message_type}: {exc.detail}", exc.where)
    rejected = check_model(model, raw=decoded.raw)
    if rejected is None:
        return None
    return Reject(rejected.reason, rejected.detail, rejected.where)
