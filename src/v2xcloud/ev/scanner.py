"""Re-assemble GB/T 32960 frames from a TCP byte stream, with a bounded buffer.

Frames may arrive split across reads or several in one read. Bytes before a start marker
(``##``/``$$``) are garbage: dropped and counted. A header whose length exceeds the standard's
maximum, or a frame whose BCC fails, is rejected and the scan resumes two bytes later (so a
false start inside garbage cannot swallow the real frames behind it). The stream is declared
overflowing — the caller should cut the connection — when the buffer would exceed
``max_buffer_bytes`` or more than ``max_garbage_bytes`` arrive without one good frame.
"""

from __future__ import annotations

from v2xcloud.errors import Gb32960Error
from v2xcloud.ev._wire import fail
from v2xcloud.ev.frame import HEADER_LEN, MAX_DATA_LEN, bcc
from v2xcloud.model import DropReason

__all__ = ["FrameScanner"]

_STARTS = (b"##", b"$$")


class FrameScanner:
    """Incremental frame splitter for one connection.

    >>> s = FrameScanner()
    >>> s.feed(b"junk") == [] and s.dropped_bytes
    4
    """

    def __init__(
        self,
        *,
        max_buffer_bytes: int = 2 * (HEADER_LEN + MAX_DATA_LEN + 1),
        max_garbage_bytes: int = 65_536,
    ) -> None:
        self.max_buffer_bytes = max_buffer_bytes
        self.max_garbage_bytes = max_garbage_bytes
        self.dropped_bytes = 0
        self.garbage_since_frame = 0
        self.is_overflowing = False
        self._buf = bytearray()

    @property
    def buffered_bytes(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[bytes | Gb32960Error]:
        """Add received bytes; returns whole BCC-checked frames and rejections in order."""
        if self.is_overflowing:
            return []
        self._buf += chunk
        out: list[bytes | Gb32960Error] = []
        while self._next(out):
            pass
        if (
            len(self._buf) > self.max_buffer_bytes
            or self.garbage_since_frame > self.max_garbage_bytes
        ):
            self.is_overflowing = True
            self._buf.clear()
        return out

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self.dropped_bytes += n
        self.garbage_since_frame += n

    def _sync(self) -> bool:
        buf = self._buf
        hits = [i for i in (buf.find(s) for s in _STARTS) if i >= 0]
        if not hits:
            # keep a trailing '#'/'$' that may be the first half of a marker
            keep = 1 if buf[-1:] in (b"#", b"$") else 0
            self._drop(len(buf) - keep)
            return False
        if min(hits):
            self._drop(min(hits))
        return True

    def _next(self, out: list[bytes | Gb32960Error]) -> bool:
        if len(self._buf) < 2 or not self._sync() or len(self._buf) < HEADER_LEN:
            return False
        buf = self._buf
        length = int.from_bytes(buf[22:24], "big")
        if length > MAX_DATA_LEN:
            out.append(
                fail(
                    DropReason.LENGTH_MISMATCH, f"length field {length} exceeds {MAX_DATA_LEN}", 22
                )
            )
            self._drop(2)
            return True
        total = HEADER_LEN + length + 1
        if len(buf) < total:
            return False
        frame = bytes(buf[:total])
        if bcc(memoryview(frame)[2:-1]) != frame[-1]:
            out.append(
                fail(DropReason.BCC_MISMATCH, f"BCC {frame[-1]:02x} does not match", total - 1)
            )
            self._drop(2)
            return True
        del buf[:total]
        self.garbage_since_frame = 0
        out.append(frame)
        return True
