"""``FailureLog``: every failure counted per boundary, logged once, repeats rate-limited."""

from __future__ import annotations

import logging

import pytest

from v2xcloud.failures import OTHER_BOUNDARY, FailureLog

LOGGER = "v2xcloud.test_failures"


def _raise(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


def test_first_failure_per_boundary_and_type_is_logged_with_traceback_repeats_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = FailureLog(
        logger=logging.getLogger(LOGGER), repeat_every_s=10.0, monotonic=lambda: now[0]
    )
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for _ in range(5):
            failures.record("app:FCW", _raise(ZeroDivisionError("division by zero")))
        failures.record("app:FCW", _raise(KeyError("x")))  # another type: logged too
        failures.record("sink:Bad", _raise(ZeroDivisionError("z")))  # another boundary
    assert failures.counts() == {"app:FCW": 6, "sink:Bad": 1}
    assert failures.last()["app:FCW"] == "KeyError: 'x'"
    assert [r.boundary for r in caplog.records] == ["app:FCW", "app:FCW", "sink:Bad"]  # type: ignore[attr-defined]
    assert all(r.exc_info is not None for r in caplog.records)
    assert "ZeroDivisionError" in caplog.records[0].getMessage()

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        now[0] = 9.9
        failures.record("app:FCW", ZeroDivisionError("still"))  # within the interval: counted
        assert caplog.records == []
        now[0] = 10.0
        failures.record("app:FCW", ZeroDivisionError("still"))  # due: one line with the count
    (record,) = caplog.records
    assert record.exc_info is None and record.failures == 8  # type: ignore[attr-defined]
    assert "6× ZeroDivisionError" in record.getMessage()  # 4 repeats + the 9.9 s one + this


def test_distinct_boundaries_are_bounded() -> None:
    failures = FailureLog(logger=logging.getLogger(LOGGER), max_boundaries=3)
    for i in range(100):
        failures.record(f"source:{i}", ValueError("bad"))
    counts = failures.counts()
    assert len(counts) == 4 and counts[OTHER_BOUNDARY] == 97
    assert sum(counts.values()) == 100
