"""Why an input was not used, and the record kept of it: the one ``DropReason`` and ``DeadLetter``.

Every stage that refuses or loses an input — a gateway (oversize payload, unknown device,
rate limit, queue overflow), the security stage (bad signature, unknown signer), the codec
(malformed bytes, a value out of range, an implausible report), the scene (a message it cannot
hold) and the GB/T 32960 server (bad BCC, truncated frame) — names the reason with one member
of ``DropReason`` and keeps the input as a ``DeadLetter``: raw bytes, where it came from, when,
why, where in the input and a sentence. Counters, the history store and the API all key on
``DropReason.value``, so one name means one thing everywhere.

>>> DropReason("implausible") is DropReason.IMPLAUSIBLE
True
>>> DeadLetter(raw=b"\\x00", source="rsu-1", received_at_ms=5, reason=DropReason.EMPTY,
...            detail="no bytes").reason.value
'empty'
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = ["DeadLetter", "DropReason"]


class DropReason(StrEnum):
    """Why an input was dropped; the value is the tag that counters, the store and the API use."""

    # --- the message layer (codec): bytes that are not a usable frame -------------------
    EMPTY = "empty"  # no bytes at all
    FRAMING = "framing"  # hex text, capture prefix or record length wrong
    MALFORMED = "malformed"  # the bits do not parse as a MessageFrame (truncated, bad index)
    CONSTRAINT = "constraint"  # parses, but a value is outside the schema's range or size
    TRAILING_BYTES = "trailing_bytes"  # whole bytes left over after the MessageFrame
    UNKNOWN_MESSAGE = "unknown_message"  # a message type this message set does not define
    WRONG_VERSION = "wrong_version"  # decodes, but as the other message set's content
    IMPLAUSIBLE = "implausible"  # decodes, but the content is physically impossible
    NO_POSITION = "no_position"  # the sender's/reference position is marked unavailable
    UNSUPPORTED_MESSAGE = "unsupported_message"  # decoded, but nothing downstream holds it
    # --- device gateways ---------------------------------------------------------------
    OVERSIZE = "oversize"  # payload larger than the gateway accepts
    UNKNOWN_DEVICE = "unknown_device"  # not in the device registry (and unknown not allowed)
    DEVICE_DISABLED = "device_disabled"  # registered, but disabled by an operator
    IDENTITY_MISMATCH = "identity_mismatch"  # a device publishing for another device's id
    UNKNOWN_TOPIC = "unknown_topic"  # a topic or port the gateway has no route for
    BAD_PAYLOAD = "bad_payload"  # a vendor JSON shape that does not parse or lacks fields
    RATE_LIMITED = "rate_limited"  # over the device's rate for this message type
    QUEUE_FULL = "queue_full"  # the bounded queue between network and tick loop overflowed
    BACKBONE_UNAVAILABLE = (
        "backbone_unavailable"  # accepted, but JetStream never acked it (retried)
    )
    # --- security: the receiver checks of a secured (signed) frame, one reason each -----
    SIGNED_UNVERIFIED = "signed_unverified"  # signed, and no verifier is configured
    UNSIGNED = "unsigned"  # the policy requires a signature and the frame has none
    UNKNOWN_ALGORITHM = "unknown_algorithm"  # a signature/hash/curve the verifier does not know
    UNKNOWN_SIGNER = "unknown_signer"  # signer digest (HashedId8) not in the certificate cache
    UNTRUSTED_CHAIN = "untrusted_chain"  # the certificate chain does not end at a trust anchor
    REVOKED = "revoked"  # the signer's (or an issuer's) certificate is on the revocation list
    OUTSIDE_VALIDITY = "outside_validity"  # generation time before/after the cert's validity
    OUTSIDE_REGION = "outside_region"  # the sender's position is outside the cert's region
    NOT_PERMITTED = "not_permitted"  # the certificate does not permit this AID (PSID)
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify over the signed content
    STALE = "stale"  # generation time too old or in the future (configurable window)
    REPLAY = "replay"  # the same signed content was already accepted
    MISBEHAVING = "misbehaving"  # the sender is flagged by misbehaviour detection
    # --- access: who may connect -------------------------------------------------------
    BAD_CREDENTIAL = "bad_credential"  # login refused: unknown identity or wrong credential
    # --- GB/T 32960 frames -------------------------------------------------------------
    BAD_START = "bad_start"
    BAD_VIN = "bad_vin"
    BAD_TEXT = "bad_text"
    BAD_TIME = "bad_time"
    BAD_UNIT = "bad_unit"
    BAD_RESPONSE = "bad_response"
    BAD_COMMAND = "bad_command"  # a command byte the frame's layout does not define
    BCC_MISMATCH = "bcc_mismatch"
    LENGTH_MISMATCH = "length_mismatch"
    TRUNCATED = "truncated"
    NOT_LOGGED_IN = "not_logged_in"
    DUPLICATE = "duplicate"  # a re-sent report already taken
    # --- anything else -------------------------------------------------------------------
    INTERNAL_ERROR = "internal_error"  # a stage raised unexpectedly on this input (logged)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One input that was not used: its raw bytes (as received, never re-encoded), who sent it
    (gateway/device id), when it arrived (UTC ms), why, where in the input (a field path such
    as ``$.bsmFrame.speed`` or ``byte 17``) and a human sentence."""

    raw: bytes
    source: str
    received_at_ms: int
    reason: DropReason
    detail: str
    where: str | None = None
