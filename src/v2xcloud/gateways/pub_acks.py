"""JetStream publications in batches, their PubAcks collected on one inbox of the client.

nats-py's ``JetStreamContext.publish`` is a request per message: a new reply token (a NUID
and random bytes: a system call), a future, ``asyncio.wait_for`` (a timer), a full ``Msg``
for the reply and its JSON parsed into a ``PubAck``; awaited in a ``gather``, a task each on
top. A tile worker publishes hundreds a tick (every advisory of its egos, the episode marks),
so that was a large share of its CPU per frame read (``benchmarks/cluster.py``).
``PubAcks.publish_all`` publishes a batch with reply subjects numbered on one wildcard
subscription (``BackboneClient.subscribe_plain``), reads each reply with one msgspec decoder
and awaits the whole batch under one timeout. What each message gets back is what
``publish`` returned or raised: the ``PubAck`` (stream, sequence, duplicate), an
``APIError`` of the server's error (nats-py's classes, by code), ``NoStreamResponseError``
when no stream takes the subject, ``nats.errors.TimeoutError`` when no reply came in time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.js.api import PubAck

from v2xcloud.gateways.nats import BackboneClient, PulledMsg

__all__ = ["PubAcks", "Publication", "kv_subject"]

#: one message to publish: subject, payload, headers (or None)
Publication = tuple[str, bytes, dict[str, str] | None]


class _Reply(msgspec.Struct):
    """The server's reply to a JetStream publication (a PubAck, or an error)."""

    stream: str = ""
    seq: int = 0
    duplicate: bool | None = None
    domain: str | None = None
    error: dict[str, Any] | None = None


_REPLY = msgspec.json.Decoder(_Reply)


def kv_subject(bucket: str, key: str) -> str:
    """The subject a put of ``key`` in the KV ``bucket`` is published on (JetStream's KV
    protocol, as ``KeyValue.put`` does without a domain).

    >>> kv_subject("V2X_EPISODES", "t.a.b")
    '$KV.V2X_EPISODES.t.a.b'
    """
    return f"$KV.{bucket}.{key}"


class _Batch:
    __slots__ = ("done", "left", "results")

    def __init__(self, n: int) -> None:
        self.results: list[PubAck | BaseException | None] = [None] * n
        self.left = n
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class PubAcks:
    """Batches of JetStream publications on ``nc`` (see the module); ``timeout_s`` bounds
    the wait for a batch's replies, as nats-py's JetStream timeout bounds each request."""

    def __init__(self, nc: BackboneClient, *, timeout_s: float = 5.0) -> None:
        self.nc = nc
        self.timeout_s = timeout_s
        self._prefix = nc.new_inbox() + "."
        self._tokens = itertools.count(1)
        self._waiting: dict[str, tuple[_Batch, int]] = {}  # reply token -> (batch, index)
        self._sub: Any = None

    async def publish_all(
        self, publications: Sequence[Publication]
    ) -> list[PubAck | BaseException]:
        """Publish every message (in order), then await their replies: per message its
        ``PubAck`` or the exception ``JetStreamContext.publish`` would have raised."""
        if not publications:
            return []
        if self._sub is None:
            self._sub = await self.nc.subscribe_plain(self._prefix + "*", self._on_reply)
        batch = _Batch(len(publications))
        tokens = []
        try:
            for i, (subject, payload, headers) in enumerate(publications):
                token = str(next(self._tokens))
                tokens.append(token)
                self._waiting[token] = (batch, i)
                try:
                    await self.nc.publish(
                        subject, payload, reply=self._prefix + token, headers=headers
                    )
                except Exception as exc:  # a closed or draining connection: that one fails
                    self._settle(token, exc)
            if batch.left:
                await asyncio.wait({batch.done}, timeout=self.timeout_s)
        finally:
            for token in tokens:
                self._waiting.pop(token, None)
        return [nats.errors.TimeoutError() if r is None else r for r in batch.results]

    async def _on_reply(self, msg: PulledMsg) -> None:
        token = msg.subject[len(self._prefix) :]
        if token not in self._waiting:
            return  # late: its batch timed out
        headers = msg.headers
        if headers and headers.get("Status") == "503":  # no responders: no stream takes it
            self._settle(token, nats.js.errors.NoStreamResponseError())
            return
        try:
            reply = _REPLY.decode(msg.data)
        except msgspec.DecodeError as exc:
            self._settle(token, nats.js.errors.Error(f"bad PubAck {msg.data[:80]!r}: {exc}"))
            return
        if reply.error is not None:
            try:
                nats.js.errors.APIError.from_error(reply.error)  # raises the error's class
            except Exception as exc:
                self._settle(token, exc)
            return
        self._settle(
            token,
            PubAck(stream=reply.stream, seq=reply.seq, domain=reply.domain,
                   duplicate=reply.duplicate),
        )  # fmt: skip

    def _settle(self, token: str, result: PubAck | BaseException) -> None:
        waiting = self._waiting.pop(token, None)
        if waiting is None:
            return
        batch, index = waiting
        batch.results[index] = result
        batch.left -= 1
        if not batch.left and not batch.done.done():
            batch.done.set_result(None)
