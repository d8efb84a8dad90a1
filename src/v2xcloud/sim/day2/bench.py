"""The Day-2 side of a bench run: what the platform's Day-2 apps send, on the wire and to
the road users, and each app's probe turning it into a ``CooperationScore``.

Every tick the bench takes the platform's outbound Day-2 messages (``Runtime.take_outbound``),
encodes each with the codec (UPER MessageFrame, as a real down-link would), decodes the bytes
again — with our codec always, and with the published reference schema when the run names
one (``RunConfig.reference_asn1_dir``; counted in ``messages_checked``) — and carries one copy
to each recipient over a seeded down-link channel with the run's latency, jitter and loss.
A message that does not encode, or whose bytes the reference refuses, is counted apart
(``encode_errors`` / ``check_failures`` in the outcome) and never delivered.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from v2xcloud.codec import DAY2_MESSAGES, Decoded, compile_asn1, decode, message_set_of
from v2xcloud.errors import EncodeError, SimulationError
from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.sim.channel import Channel
from v2xcloud.sim.cooperation import CooperationScore
from v2xcloud.sim.day2.probe import Day2Probe, ProbeSetup, RunFacts

if TYPE_CHECKING:
    from v2xcloud.sim.snapshot import Snapshot

__all__ = ["Day2Bench", "ReferenceCheck"]

logger = logging.getLogger(__name__)


class ReferenceCheck:
    """Decodes frames with the published reference schema in ``directory`` (every ``*.asn``;
    compiled once per process) and re-encodes them: the bytes must come back identical.

    Raises ``SimulationError`` when the directory holds no schema.
    """

    def __init__(self, directory: str | Path) -> None:
        files = sorted(Path(directory).glob("*.asn"))
        if not files:
            raise SimulationError(f"reference schema directory {directory} holds no *.asn file")
        self.spec = compile_asn1(f"reference:{Path(directory).resolve()}", files, "uper")

    def check(self, raw: bytes) -> None:
        """Raise ``SimulationError`` unless ``raw`` is a MessageFrame the reference decodes
        (a Day-2 payload too, by its messageId) and encodes back to the same bytes."""
        spec = self.spec
        try:
            alternative, content = spec.decode("MessageFrame", raw)
            if alternative == "msgFrameExt":
                mid = content["messageId"]
                type_name = DAY2_MESSAGES[mid][1]
                inner = spec.decode(type_name, content["value"])
                if spec.encode(type_name, inner) != content["value"]:
                    raise SimulationError(f"{type_name}: reference re-encodes to other bytes")
            if spec.encode("MessageFrame", (alternative, content)) != raw:
                raise SimulationError("MessageFrame: reference re-encodes to other bytes")
        except SimulationError:
            raise
        except Exception as exc:  # asn1tools raises its own errors: translated here
            raise SimulationError(f"reference schema refuses the frame: {exc}") from exc


class Day2Bench:
    """Carries one run's Day-2 messages and feeds the probes; see the module docstring.

    ``encode`` turns a model into UPER (the codec's ``encode_model``); ``to_sumo`` resolves a
    participant id to its SUMO id (``None``: not a simulated road user, counted as
    ``unaddressable``); ``probes`` score the apps the platform runs.
    """

    def __init__(
        self,
        *,
        setup: ProbeSetup,
        probes: list[Day2Probe],
        encode: Callable[[Any], bytes],
        to_sumo: Callable[[str], str | None],
        message_set: str,
        latency_ms: float,
        jitter_ms: float,
        loss: float,
        reference_dir: str | None = None,
    ) -> None:
        self.setup = setup
        self.probes = {p.app: p for p in probes}
        self.encode = encode
        self.to_sumo = to_sumo
        self.message_set = message_set_of(message_set)
        self.down = Channel(
            latency_ms=latency_ms, jitter_ms=jitter_ms, loss=loss, seed=setup.scenario.seed + 1
        )
        self.reference = ReferenceCheck(reference_dir) if reference_dir else None
        self.sent: dict[str, Counter[str]] = {}  # app -> message type -> messages
        self.checked: Counter[str] = Counter()  # app -> decoded again with the reference
        self.problems: dict[str, Counter[str]] = {}  # app -> what went wrong -> count
        self._in_flight: dict[int, tuple[Outbound, str]] = {}
        self._next = 0
        # told of every copy that reaches a road user: (sent, SUMO id, arrive_ms, the bytes);
        # the closed loop's vehicles (``sim.actuation.CoordinationFollower``) listen here
        self.listeners: list[Callable[[Outbound, str, int, bytes], None]] = []

    def step(self, snap: Snapshot, now_ms: int, outbound: list[Outbound]) -> None:
        """One simulation step: ground truth to the probes, then this tick's messages onto
        the down-link, then what has arrived by ``now_ms`` to the probes."""
        for each in self.probes.values():
            each.observe(snap, now_ms)
        for o in outbound:
            self._send(o, now_ms)
        for arrival in self.down.deliver_until(now_ms):
            key = int(arrival.sender)
            sent, to = self._in_flight.pop(key)
            probe = self.probes.get(sent.app)
            if probe is not None:
                probe.received(sent, to, arrival.arrive_ms, len(arrival.raw))
            for listener in self.listeners:
                listener(sent, to, arrival.arrive_ms, arrival.raw)

    def _problem(self, app: str, what: str) -> None:
        self.problems.setdefault(app, Counter())[what] += 1

    def _send(self, o: Outbound, now_ms: int) -> None:
        self.sent.setdefault(o.app, Counter())[o.kind] += 1
        try:
            raw = self.encode(o.message)
        except EncodeError as exc:
            logger.warning("%s: %s does not encode: %s", o.app, o.kind, exc)
            self._problem(o.app, f"encode_error: {exc.detail}")
            return
        if not self._decodes(o, raw):
            return
        for pid in o.recipients:
            to = self.to_sumo(pid)
            if to is None:
                self._problem(o.app, "unaddressable")
                continue
            key = self._next
            self._next += 1
            lost = self.down.stats.lost
            self.down.send(raw, sent_ms=now_ms, sender=str(key), kind=o.kind, about=(to,))
            if self.down.stats.lost == lost:  # a lost copy never arrives: not kept
                self._in_flight[key] = (o, to)

    def _decodes(self, o: Outbound, raw: bytes) -> bool:
        """Whether our codec and (when configured) the reference decode ``raw`` again."""
        result = decode(raw, message_set=self.message_set, check_version=False)
        if not isinstance(result, Decoded):
            logger.warning("%s: our codec refuses its own %s: %s", o.app, o.kind, result.detail)
            self._problem(o.app, f"own_decode: {result.reason.value}")
            return False
        if self.reference is not None:
            try:
                self.reference.check(raw)
            except SimulationError as exc:
                logger.warning("%s: %s refused by the reference schema: %s", o.app, o.kind, exc)
                self._problem(o.app, "reference_refused")
                return False
            self.checked[o.app] += 1
        return True

    def finish(self, facts: RunFacts) -> list[CooperationScore]:
        """Each probe's score, with the bench's message counts and any problems."""
        out = []
        for app, probe in self.probes.items():
            score = probe.score(facts)
            problems = self.problems.get(app)
            outcome = score.outcome
            if problems:
                outcome += "; not delivered: " + ", ".join(f"{k} {v}" for k, v in problems.items())
            out.append(
                msgspec.structs.replace(
                    score,
                    outcome=outcome,
                    messages_sent=dict(self.sent.get(app, {})),
                    messages_checked=self.checked[app],
                )
            )
        return out
