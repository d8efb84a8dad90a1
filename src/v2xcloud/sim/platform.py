"""What the test bench drives: anything that ingests frames and ticks out advisories.

The real platform is :class:`v2xcloud.runtime.Runtime`; :func:`runtime_platform` wraps it.
Tests may pass their own object with the same two methods.
"""

from __future__ import annotations

from typing import Any, Protocol

from v2xcloud.errors import SimulationError
from v2xcloud.model import Advisory

__all__ = ["Platform", "runtime_platform"]


class Platform(Protocol):
    """The platform under test, as the bench sees it."""

    def ingest_frame(self, raw: bytes, *, received_at_ms: int, source: str) -> None:
        """Take one received UPER frame (decode, reject or update the scene)."""

    def tick(self, now_ms: int) -> list[Advisory]:
        """Run the applications at ``now_ms`` (UTC ms) and return their advisories."""

    def app_codes(self) -> set[str]:
        """The application codes this platform runs (scored apps)."""


class _RuntimeAdapter:
    """Adapts ``v2xcloud.runtime.Runtime`` to :class:`Platform`."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def ingest_frame(self, raw: bytes, *, received_at_ms: int, source: str) -> None:
        self.runtime.ingest_frame(raw, received_at_ms=received_at_ms, source=source)

    def tick(self, now_ms: int) -> list[Advisory]:
        return list(self.runtime.tick(now_ms))

    def app_codes(self) -> set[str]:
        return {str(code) for code in self.runtime.app_codes()}


def runtime_platform(*, message_set: str) -> Platform:
    """The real platform (runtime with every registered app) reading ``message_set`` UPER.

    Raises ``SimulationError`` if the runtime package does not provide ``Runtime`` yet.
    """
    try:
        from v2xcloud.runtime import Runtime  # type: ignore[attr-defined]
    except ImportError as exc:
        raise SimulationError(
            "v2xcloud.runtime.Runtime is not available yet; the bench can build the road and "
            "ground truth but cannot score applications without it"
        ) from exc
    return _RuntimeAdapter(Runtime(message_set=message_set))
