"""Reading vendor JSON with a path for every complaint.

The JSON drivers read fields through ``Fields``; a missing, mistyped or out-of-range field
raises ``BadField`` naming the JSON path, which the driver turns into a ``Dropped``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec

from v2xcloud.gateways.drivers.result import Dropped
from v2xcloud.model import DropReason

__all__ = ["BOM", "BadField", "Fields", "load_json"]

_BYTE = re.compile(r"\(byte (\d+)\)")
BOM = b"\xef\xbb\xbf"
_MISSING = object()


class BadField(Exception):
    """A field that is missing, of the wrong type or outside its wire range."""

    def __init__(self, reason: DropReason, detail: str, where: str) -> None:
        super().__init__(f"{detail} at {where}")
        self.reason = reason
        self.detail = detail
        self.where = where

    def dropped(self, shape: str) -> Dropped:
        """This complaint as a driver's ``Dropped``."""
        return Dropped(reason=self.reason, detail=self.detail, where=self.where, shape=shape)


def load_json(payload: bytes, shape: str) -> Any:
    """Parse JSON text (a leading UTF-8 byte-order mark allowed); a ``Dropped`` (BAD_PAYLOAD,
    ``byte N``) when it is not JSON."""
    try:
        return msgspec.json.decode(payload.removeprefix(BOM))
    except msgspec.DecodeError as exc:
        found = _BYTE.search(str(exc))
        if found:  # msgspec counts from after the mark we removed
            skipped = len(BOM) if payload.startswith(BOM) else 0
            where: str | None = f"byte {int(found.group(1)) + skipped}"
        else:  # msgspec names no offset when the text ends early
            where = f"byte {len(payload)}" if "truncated" in str(exc) else None
        return Dropped(
            reason=DropReason.BAD_PAYLOAD, detail=f"not JSON: {exc}", where=where, shape=shape
        )


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class Fields:
    """Typed access to one JSON object at ``path``."""

    __slots__ = ("obj", "path")

    def __init__(self, obj: Any, path: str) -> None:
        if not isinstance(obj, dict):
            raise BadField(DropReason.BAD_PAYLOAD, f"expected an object, got {_kind(obj)}", path)
        self.obj: dict[str, Any] = obj
        self.path = path

    def at(self, key: str) -> str:
        """The path of one member."""
        return f"{self.path}.{key}"

    def has(self, key: str) -> bool:
        """True if the member is present and not null."""
        return self.obj.get(key) is not None

    def _get(self, key: str, required: bool) -> Any:
        value = self.obj.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise BadField(DropReason.BAD_PAYLOAD, f"missing field {key!r}", self.at(key))
            return None
        return value

    def number(
        self,
        key: str,
        *,
        required: bool = True,
        lo: float | None = None,
        hi: float | None = None,
    ) -> float | None:
        """A finite number (int or float, not a boolean), within [lo, hi] when given; a
        number given as text (``"39.07"``) is read too, as some vendors write them so."""
        value: Any = self.obj.get(key)
        kind = type(value)
        # the common case first, in few operations: a finite int/float (not bool), no range
        if (kind is float or kind is int) and value - value == 0 and lo is None and hi is None:
            return value
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise BadField(
                    DropReason.BAD_PAYLOAD, f"{key} is {value!r}, not a number", self.at(key)
                ) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadField(
                DropReason.BAD_PAYLOAD, f"{key} must be a number, got {_kind(value)}", self.at(key)
            )
        if not math.isfinite(value):
            raise BadField(DropReason.BAD_PAYLOAD, f"{key} is not finite", self.at(key))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise BadField(
                DropReason.CONSTRAINT, f"{key} {value} is outside {lo}..{hi}", self.at(key)
            )
        return value

    def integer(
        self, key: str, *, required: bool = True, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        """An integer (a float with no fraction counts), within [lo, hi] when given."""
        value: Any = self.obj.get(key)
        if type(value) is int and (lo is None or lo <= value) and (hi is None or value <= hi):
            return value  # the common case, without the checks below
        value = self.number(key, required=required, lo=lo, hi=hi)
        if value is None:
            return None
        if value != int(value):
            raise BadField(
                DropReason.BAD_PAYLOAD, f"{key} must be an integer, got {value}", self.at(key)
            )
        return int(value)

    def text(self, key: str, *, required: bool = True) -> str | None:
        """A string, or an integer written as its decimal text (ids are sent both ways, and
        some vendors write integers as ``26219.0``)."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise BadField(
                DropReason.BAD_PAYLOAD, f"{key} must be text, got {_kind(value)}", self.at(key)
            )
        return value

    def child(self, key: str, *, required: bool = True) -> Fields | None:
        """A nested object."""
        value = self._get(key, required)
        return None if value is None else Fields(value, self.at(key))

    def items(self, key: str, *, required: bool = True) -> list[Fields]:
        """A list of objects."""
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise BadField(
                DropReason.BAD_PAYLOAD, f"{key} must be a list, got {_kind(value)}", self.at(key)
            )
        return [Fields(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]
