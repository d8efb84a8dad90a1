"""Fixtures for the bench's MQTT tests: a real Mosquitto on 127.0.0.1, stopped by pid after.

Without the broker binary these tests skip and say why, except under CI (``CI=true``), where a
missing broker is a failure (tools/system-deps.sh installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from v2xcloud.gateways.broker import Mosquitto, find_mosquitto


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A fresh broker for one test. Its snapshot is saved every 100,000 changes instead of
    after each one: these tests never kill it, and per-change saves cap it at a few hundred
    QoS 1 messages/s."""
    if find_mosquitto() is None:
        reason = "mosquitto not installed (/usr/sbin/mosquitto); tools/system-deps.sh installs it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    b = Mosquitto(autosave_interval=100_000)
    b.start()
    try:
        yield b
    finally:
        b.stop()
