"""Helpers shared by the route modules: JSON responses, bbox and time-range parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, Response

from v2xcloud.api.wire import encode
from v2xcloud.model.road import UTC_MS_MAX
from v2xcloud.store import BBox

UTC_MS_QUERY: dict[str, Any] = {"ge": 0, "le": UTC_MS_MAX}
"""Bounds of a UTC-millisecond query parameter: the model's (``model.road.UtcMs``)."""

BBoxParam = Annotated[
    str | None,
    Query(
        description="min_lon,min_lat,max_lon,max_lat in degrees (WGS-84)",
        examples=["121.46,31.22,121.49,31.24"],
    ),
]


def json_response(value: Any, *, status_code: int = 200) -> Response:
    """Encode with msgspec (model structs, enums by value)."""
    return Response(content=encode(value), media_type="application/json", status_code=status_code)


def parse_bbox(text: str | None) -> BBox | None:
    """``"min_lon,min_lat,max_lon,max_lat"`` → ``BBox``; 422 naming the problem otherwise."""
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise HTTPException(
            422, f"bbox {text!r}: expected 4 numbers min_lon,min_lat,max_lon,max_lat"
        )
    box = BBox(
        min_lon_deg=values[0], min_lat_deg=values[1], max_lon_deg=values[2], max_lat_deg=values[3]
    )
    if box.min_lon_deg > box.max_lon_deg or box.min_lat_deg > box.max_lat_deg:
        raise HTTPException(422, f"bbox {text!r}: minimum exceeds maximum")
    if not (
        box.min_lat_deg >= -90
        and box.max_lat_deg <= 90
        and box.min_lon_deg >= -180
        and box.max_lon_deg <= 180
    ):
        raise HTTPException(422, f"bbox {text!r}: outside WGS-84 degree ranges")
    return box


def time_range(
    request: Request, start_ms: int | None, end_ms: int | None, default_span_ms: int
) -> tuple[int, int]:
    """Fill a missing end with the platform's now and a missing start with end − span."""
    end = end_ms if end_ms is not None else request.app.state.live.stats().now_ms
    start = start_ms if start_ms is not None else end - default_span_ms
    if start > end:
        raise HTTPException(422, f"start_ms {start} is after end_ms {end}")
    return start, end
