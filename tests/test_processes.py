"""``v2xcloud.processes``: stopping child processes never hangs and never raises."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from v2xcloud import processes

_IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


def _child(code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"up\n"  # its handlers are installed
    return proc


def test_stop_ends_a_child_that_obeys_sigterm() -> None:
    proc = _child("import time; print('up', flush=True); time.sleep(60)")
    assert processes.stop(proc, grace_s=5.0) == -signal.SIGTERM
    assert proc.returncode == -signal.SIGTERM


def test_stop_kills_a_child_that_ignores_sigterm_after_the_grace() -> None:
    proc = _child(_IGNORES_TERM)
    t0 = time.monotonic()
    assert processes.stop(proc, grace_s=0.5) == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - t0 < 5.0


def test_stop_all_runs_the_grace_periods_side_by_side() -> None:
    procs = [_child(_IGNORES_TERM) for _ in range(3)]
    t0 = time.monotonic()
    processes.stop_all(procs, grace_s=1.0)
    assert [p.returncode for p in procs] == [-signal.SIGKILL] * 3
    assert time.monotonic() - t0 < 3.0 + 2.0  # not 3 x 1 s one after another plus kills


def test_stop_is_safe_on_an_ended_or_missing_process() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(10)
    assert processes.stop(proc) == 0
    assert processes.stop(None) is None
    assert processes.reap(proc, 0.0)


def test_log_tail_and_ports(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert processes.log_tail(log) == "(no log)"
    log.write_text("a" * 3000 + "END")
    assert processes.log_tail(log, 10) == "a" * 7 + "END"
    port = processes.free_port()
    assert not processes.accepts("127.0.0.1", port)


def test_cpu_seconds_counts_a_process_and_is_zero_for_none_or_gone() -> None:
    before = processes.cpu_seconds(os.getpid())
    spent = time.process_time() + 0.2
    while time.process_time() < spent:
        pass
    assert processes.cpu_seconds(os.getpid()) - before >= 0.15
    assert processes.cpu_seconds(None) == 0.0
    assert processes.cpu_seconds(2**22 + 17) == 0.0  # above the largest pid_max Linux allows
