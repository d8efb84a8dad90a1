"""Fast UPER decoders for the hot MessageFrame alternatives: BSM, RSM and SPAT.

Each is generated from the set's own asn1tools type tree (``decoders.build``): one flat Python
function per alternative that reads the frame as one ``int`` with shifts and returns exactly
asn1tools' native value, with the same constraint, length and padding checks. A frame it does
not cover (a set extension bit, an extension addition) or cannot decode is handed to the
asn1tools path, which gives the same value or the same ``Rejected`` as without it; ``stats()``
counts those hand-overs.

The same generator writes fast encoders (``encoders.build_encoder``): native content →
MessageFrame bytes, byte-identical to asn1tools with constraint checks; any value they do not
encode exactly so (a missing member, out of range, an extension) goes to asn1tools, which
encodes it or raises the ``EncodeError``. ``bsm.encode``/``encode_model`` use them unchanged.

Both are registered by default for both message sets when ``v2xcloud.codec`` is imported,
unless the environment sets ``V2XCLOUD_FAST_DECODE=0``; ``install()``/``uninstall()`` switch
them at run time (``encoders=False`` keeps asn1tools for encoding). Each is compiled on its
first use.

>>> from v2xcloud.codec import fast
>>> fast.uninstall()            # every frame through asn1tools
>>> fast.install()              # back to the fast path
>>> fast.stats()                # {("csae2017", "bsmFrame", "fallback"): 3, ...}  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from v2xcloud.codec.fast._plan import Fallback
from v2xcloud.codec.fast.decoders import HOT_ALTERNATIVES, build, source, stats
from v2xcloud.codec.fast.encoders import build_encoder, encoder_source
from v2xcloud.codec.frame import (
    register_fast_decoder,
    register_fast_encoder,
    unregister_fast_decoder,
    unregister_fast_encoder,
)
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.errors import ConfigError

__all__ = [
    "ENV_SWITCH",
    "HOT_ALTERNATIVES",
    "Fallback",
    "build",
    "build_encoder",
    "encoder_source",
    "install",
    "install_default",
    "source",
    "stats",
    "uninstall",
]

ENV_SWITCH = "V2XCLOUD_FAST_DECODE"


def _lazy(message_set: MessageSet, alternative: str) -> Any:
    def first_frame(data: bytes) -> tuple[str, Any]:
        fn = build(message_set, alternative)
        register_fast_decoder(message_set, alternative, fn)
        return fn(data)

    return first_frame


def _lazy_encoder(message_set: MessageSet, alternative: str) -> Any:
    def first_value(content: Any) -> bytes:
        fn = build_encoder(message_set, alternative)
        register_fast_encoder(message_set, alternative, fn)
        return fn(content)

    return first_value


def install(
    *,
    message_sets: Iterable[MessageSet] = tuple(MessageSet),
    alternatives: Iterable[str] = HOT_ALTERNATIVES,
    decoders: bool = True,
    encoders: bool = True,
) -> None:
    """Register the fast decoders and/or encoders (compiled on first use)."""
    names = tuple(alternatives)
    for message_set in message_sets:
        for alternative in names:
            if alternative not in HOT_ALTERNATIVES:
                raise ConfigError(f"fast decoders exist only for {HOT_ALTERNATIVES}")
            if decoders:
                register_fast_decoder(message_set, alternative, _lazy(message_set, alternative))
            if encoders:
                encoder = _lazy_encoder(message_set, alternative)
                register_fast_encoder(message_set, alternative, encoder)


def uninstall(
    *,
    message_sets: Iterable[MessageSet] = tuple(MessageSet),
    alternatives: Iterable[str] = HOT_ALTERNATIVES,
    decoders: bool = True,
    encoders: bool = True,
) -> None:
    """Go back to the asn1tools path for these sets and alternatives."""
    names = tuple(alternatives)
    for message_set in message_sets:
        for alternative in names:
            if decoders:
                unregister_fast_decoder(message_set, alternative)
            if encoders:
                unregister_fast_encoder(message_set, alternative)


def install_default() -> None:
    """``install()`` unless ``V2XCLOUD_FAST_DECODE`` is ``0``/``off``/``false``/``no``."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() not in {"0", "off", "false", "no"}:
        install()
