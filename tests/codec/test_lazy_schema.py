"""Importing the codec compiles nothing (nor imports asn1tools); the first use compiles each
set once, thread-safely."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_compiles_no_schema_and_first_decode_compiles_one() -> None:
    out = _run(
        """
        import sys
        import v2xcloud.codec as codec
        from v2xcloud.codec import _schema
        print("asn1tools" in sys.modules, _schema.compiled_count())
        codec.decode(b"\\x00\\x01", message_set=codec.MessageSet.CSAE2017)
        print(_schema.compiled_count())
        """
    )
    assert out.split() == ["False", "0", "1"]


def test_concurrent_first_use_compiles_once() -> None:
    out = _run(
        """
        import threading
        from v2xcloud.codec import MessageSet, _schema
        specs = []
        start = threading.Barrier(6)
        def use():
            start.wait()
            specs.append(_schema.compiled(MessageSet.CSAE2017))
        threads = [threading.Thread(target=use) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(_schema.compiled_count(), len({id(s) for s in specs}), len(specs))
        """
    )
    assert out.split() == ["1", "1", "6"]
