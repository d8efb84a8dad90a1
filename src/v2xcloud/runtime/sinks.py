"""Where advisories and deliveries go when they leave a tick: protocols plus in-process sinks.

An ``AdvisorySink`` gets every advisory a tick issued; a ``DeliverySink`` gets the
dissemination decisions (``runtime.dissemination.Delivery``: an advisory or road event, its
recipients, why it is sent, and for events the encoded RSI).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from v2xcloud.model import Advisory

if TYPE_CHECKING:
    from v2xcloud.runtime.dissemination import Delivery

__all__ = ["AdvisorySink", "CallbackSink", "DeliverySink", "ListDeliverySink", "ListSink"]


@runtime_checkable
class AdvisorySink(Protocol):
    """Receives each tick's advisories (possibly an empty batch is never sent)."""

    def emit(self, advisories: Sequence[Advisory], *, now_ms: int) -> None:
        """Take one tick's advisories; must not block for long."""
        ...


class ListSink:
    """Keeps every advisory it receives, in order (tests and the test bench)."""

    def __init__(self) -> None:
        self.advisories: list[Advisory] = []
        self.batches: list[tuple[int, list[Advisory]]] = []

    def emit(self, advisories: Sequence[Advisory], *, now_ms: int) -> None:
        """Append the batch."""
        batch = list(advisories)
        self.advisories.extend(batch)
        self.batches.append((now_ms, batch))

    def of_app(self, app: str) -> list[Advisory]:
        """The advisories of one application code."""
        return [a for a in self.advisories if a.app == app]


class CallbackSink:
    """Calls a function with each batch (for gateways and the API stream)."""

    def __init__(self, callback: Callable[[Sequence[Advisory], int], None]) -> None:
        self._callback = callback

    def emit(self, advisories: Sequence[Advisory], *, now_ms: int) -> None:
        """Forward the batch."""
        self._callback(advisories, now_ms)


@runtime_checkable
class DeliverySink(Protocol):
    """Receives each tick's deliveries (only ticks that produced some)."""

    def deliver(self, deliveries: Sequence[Delivery], *, now_ms: int) -> None:
        """Take one tick's deliveries; must not block for long."""
        ...


class ListDeliverySink:
    """Keeps every delivery it receives, in order (tests and the test bench)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    def deliver(self, deliveries: Sequence[Delivery], *, now_ms: int) -> None:
        """Append the batch."""
        self.deliveries.extend(deliveries)
