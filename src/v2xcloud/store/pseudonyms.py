"""Keyed hashes for the ids vehicles and people are seen under, with a key per UTC day.

A participant's id on the air (a BSM's temporary id, an RSM's ptcId, a radar track id) is
stored in the history only as ``HMAC-SHA256(key_of_that_UTC_day, id)`` (hex, 32 digits). The
same vehicle therefore keeps one stored id within a day (its trajectory can be drawn) and gets
an unrelated one the next day (two days cannot be joined on the id), and nobody holding only
the database can compute the stored id of a known raw id.

Where the keys live: in memory only for an in-memory history; otherwise in one JSON file
(``pseudonym-keys.json`` under the data directory, written atomically with mode 0600), apart
from the database so a copy of the database alone links nothing. A key is destroyed
(removed from memory and the file) once its day has left the raw-trajectory retention
(``destroy_before``, called by the store's retention), so rows kept longer (advisories) can no
longer be tied to an id seen on the air. At most ``max_keys`` keys are held (the oldest are
destroyed first), however far apart the timestamps written are.

>>> keys = PseudonymKeys(path=None)
>>> keys.pseudonym("0000000000000c01", 5) == keys.pseudonym("0000000000000c01", 86_399_999)
True
>>> keys.pseudonym("0000000000000c01", 5) == keys.pseudonym("0000000000000c01", 86_400_000)
False
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from pathlib import Path

from v2xcloud.errors import StoreError

__all__ = ["DAY_MS", "KEYS_FILE", "PseudonymKeys"]

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
_CACHE_LIMIT = 200_000
KEYS_FILE = "pseudonym-keys.json"
"""The keys' file name under a DuckDB history's data directory."""


class PseudonymKeys:
    """Daily HMAC keys (32 random bytes each) and the pseudonyms made with them.

    ``path``: the key file (``None``: memory only). Raises ``StoreError`` if the file exists
    but cannot be read, or cannot be written.
    """

    def __init__(self, *, path: Path | str | None, max_keys: int = 400) -> None:
        self.path = Path(path) if path is not None else None
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: dict[int, bytes] = self._load()
        self._cache: dict[str, str] = {}  # raw id -> pseudonym, for _cache_day only
        self._cache_day = -(2**62)

    def pseudonym(self, raw_id: str, at_ms: int) -> str:
        """The stored id of ``raw_id`` seen at ``at_ms`` (UTC ms)."""
        day = at_ms // DAY_MS
        cache = self._cache
        if day == self._cache_day and (hit := cache.get(raw_id)) is not None:
            return hit
        key = self._key(day, create=True)
        assert key is not None
        value = hmac.digest(key, raw_id.encode(), "sha256")[:16].hex()
        if day >= self._cache_day:  # ids repeat every tick: remember the newest day's
            if day > self._cache_day or len(cache) >= _CACHE_LIMIT:
                self._cache, self._cache_day = {}, day
            self._cache[raw_id] = value
        return value

    def candidates(self, raw_id: str, *, start_ms: int, end_ms: int) -> list[str]:
        """The stored ids ``raw_id`` had on each day of ``[start_ms, end_ms]`` whose key still
        exists (for trajectory queries by the id seen on the air)."""
        first, last = start_ms // DAY_MS, end_ms // DAY_MS
        with self._lock:
            keys = [k for d, k in sorted(self._keys.items()) if first <= d <= last]
        return [hmac.digest(k, raw_id.encode(), "sha256")[:16].hex() for k in keys]

    def days(self) -> list[int]:
        """The UTC days (ms // DAY_MS) that have a key."""
        with self._lock:
            return sorted(self._keys)

    def destroy_before(self, day: int) -> int:
        """Destroy the keys of days before ``day``; returns how many were destroyed."""
        with self._lock:
            old = [d for d in self._keys if d < day]
            for d in old:
                del self._keys[d]
            if self._cache_day < day:
                self._cache, self._cache_day = {}, -(2**62)
            if old:
                self._save()
        if old:
            logger.info("destroyed %d pseudonym keys (days before %d)", len(old), day)
        return len(old)

    # -- plumbing ------------------------------------------------------------------------------
    def _key(self, day: int, *, create: bool) -> bytes | None:
        key = self._keys.get(day)
        if key is not None or not create:
            return key
        with self._lock:
            key = self._keys.get(day)
            if key is None:
                key = self._keys[day] = os.urandom(32)
                while len(self._keys) > self.max_keys:
                    del self._keys[min(self._keys)]
                self._save()
        return key

    def _load(self) -> dict[int, bytes]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            doc = json.loads(self.path.read_text())
            return {int(day): bytes.fromhex(key) for day, key in doc["keys"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"cannot read the pseudonym keys {self.path}: {exc}") from exc

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        doc = {"keys": {str(d): k.hex() for d, k in sorted(self._keys.items())}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise StoreError(f"cannot write the pseudonym keys {self.path}: {exc}") from exc
