"""The source-code writer of the plan compiler: indentation, fresh names, constants, and the
bit cursor (decoding) or bit count (encoding: ``put`` onto the accumulator ``a``).

The frame is one big ``int`` ``v``; ``r`` counts the bits not yet read. A run of fixed-width
fields between two branches or loops shares one cursor: the run's bits are cut out once
(``w = v >> (r - total)``) and each field is ``(w >> shift) & mask`` with constant shifts;
only branches and loops move ``r`` (``flush``). A read past the end shifts by a negative
count, which Python refuses with ``ValueError``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Emitter"]


class Emitter:
    """Collects the lines of one generated function."""

    def __init__(self, *, advance: str = "r -= {}") -> None:
        self.advance = advance  # the line that moves the runtime cursor by the static offset
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self._depth = 1
        self._names = 0
        self.off = 0  # bits read past ``r`` that ``r`` does not yet reflect
        self._run_at = -1  # index of the window line of the open run of reads
        self._run: list[tuple[str, int, int]] = []  # (token, end offset, width) of its reads

    def fresh(self, stem: str) -> str:
        """A new local variable name."""
        self._names += 1
        return f"{stem}{self._names}"

    def const(self, value: Any, stem: str = "K") -> str:
        """A module-level constant of the generated code, by name."""
        name = self.fresh(f"_{stem}")
        self.consts[name] = value
        return name

    def line(self, text: str) -> None:
        """One line at the current indentation."""
        self.lines.append("    " * self._depth + text)

    def indent(self) -> None:
        self._depth += 1

    def dedent(self) -> None:
        self._depth -= 1

    def flush(self) -> None:
        """Move the cursor ``r`` to the static offset (before a branch or a loop)."""
        self._close_run()
        if self.off:
            self.line(self.advance.format(self.off))
            self.off = 0

    def read(self, bits: int) -> str:
        """Expression of the next ``bits`` bits as an unsigned int (used before ``flush``)."""
        if bits == 0:
            return "0"
        if self._run_at < 0:
            self._run_at = len(self.lines)
            self.lines.append("    " * self._depth)
        self.off += bits
        token = f"\x00{len(self._run)}\x00"
        self._run.append((token, self.off, bits))
        return token

    def _close_run(self) -> None:
        if self._run_at < 0:
            return
        start, reads = self._run_at, self._run
        total = reads[-1][1]
        if len(reads) == 1:
            self.lines[start] = ""
            forms = {reads[0][0]: f"((v >> (r - {total})) & {(1 << reads[0][2]) - 1:#x})"}
        else:
            self.lines[start] += f"w = v >> (r - {total})"
            forms = {
                token: f"((w >> {total - end}) & {(1 << bits) - 1:#x})"
                if end < total
                else f"(w & {(1 << bits) - 1:#x})"
                for token, end, bits in reads
            }
        for i in range(start, len(self.lines)):
            for token, form in forms.items():
                if token in self.lines[i]:
                    self.lines[i] = self.lines[i].replace(token, form)
        self._run_at, self._run = -1, []

    def read_var(self, bits_expr: str) -> str:
        """Expression of the next ``bits_expr`` (a runtime value) bits; flushes first."""
        self.flush()
        return f"((v >> (r - {bits_expr})) & ((1 << {bits_expr}) - 1))"

    def put(self, bits: int, expr: str) -> None:
        """Encoding: append ``expr`` (an int below ``2**bits``) to the accumulator ``a``."""
        if bits:
            self.off += bits
            self.line(f"a = (a << {bits}) | {expr}")

    def assign(self, target: str, expr: str) -> None:
        """``target = expr``."""
        self.line(f"{target} = {expr}")

    def source(self, name: str, args: str = "data") -> str:
        """The whole function text."""
        self._close_run()
        body = [line for line in self.lines if line]
        return f"def {name}({args}):\n" + "\n".join(body) + "\n"
