"""Checks every bench run must pass, shared by the modules that run library scenarios
(``test_bench`` and the Day-2 family modules, which run their own scenarios once instead of
``test_bench`` running them again)."""

from __future__ import annotations

from collections.abc import Iterable

from v2xcloud.apps.day2 import DAY2_APPS
from v2xcloud.sim.result import ScenarioResult

__all__ = ["DAY2", "check_day2_reference", "check_no_cooperative_collision", "check_wire"]

DAY2 = {app.code for app in DAY2_APPS}


def check_wire(runs: Iterable[ScenarioResult]) -> None:
    """Every run put BSMs on the wire, with no encode error, dead letter or unapplied action."""
    for r in runs:
        assert r.frames.get("BSM", 0) > 0, r.name
        assert not r.encode_errors, (r.name, r.encode_errors)
        assert not r.dead_letters, (r.name, r.dead_letters)
        assert not r.unapplied_actions, (r.name, r.unapplied_actions)


def check_day2_reference(runs: Iterable[ScenarioResult]) -> int:
    """Every Day-2 app is scored in every run, and every Day-2 message it sent was decoded
    again with the reference schema and delivered; returns the messages checked."""
    sent = 0
    for r in runs:
        assert {c.app for c in r.cooperation} == DAY2, r.name  # every app scored everywhere
        for c in r.cooperation:
            total = sum(c.messages_sent.values())
            assert c.messages_checked == total, (r.name, c.app, c.outcome)
            assert "not delivered" not in c.outcome, (r.name, c.app, c.outcome)
            sent += total
    return sent


def check_no_cooperative_collision(runs: Iterable[ScenarioResult]) -> None:
    """No Day-2 app's plan ended in a collision."""
    for r in runs:
        for c in r.cooperation:
            assert c.collisions == 0, (r.name, c.app, c.outcome)
