"""Fixtures for the gateway tests: a real Mosquitto broker on 127.0.0.1, stopped by pid after.

Without the broker binary the tests that need it skip and say why, except under CI (``CI=true``),
where a missing broker is a failure: CI installs it (tools/system-deps.sh).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from v2xcloud.gateways.broker import Mosquitto, find_mosquitto


def _require_mosquitto() -> None:
    if find_mosquitto() is not None:
        return
    reason = "mosquitto not installed (/usr/sbin/mosquitto); tools/system-deps.sh installs it"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A fresh broker for one test (own port, own persistence); stopped and deleted after."""
    _require_mosquitto()
    broker = Mosquitto()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_factory() -> Iterator[type[Mosquitto]]:
    """For tests that configure the broker themselves; every broker made is stopped after."""
    _require_mosquitto()
    made: list[Mosquitto] = []

    class _Tracked(Mosquitto):
        def start(self) -> Mosquitto:
            if self not in made:
                made.append(self)
            return super().start()

    try:
        yield _Tracked
    finally:
        for broker in made:
            broker.stop()
