"""The receive-side security stage: raw bytes in; the UPER payload and its signer out, or why not.

``SecurityStage.process(raw, kind=..., now_ms=...)`` judges one frame under the policy for the
sender's device kind (``Policy``: ``require`` a signature, ``verify-if-signed``, or ``off``)
and returns ``Verified`` (the wrapped UPER MessageFrame, the AID, the signer's certificate
digest and device when known) or ``Rejection`` with one ``model.DropReason`` and a sentence
naming what and where. The checks run cheapest first, the signature last:

=====================  =====================================================================
``unsigned``           the policy requires a signature and the frame has none
(decoder's reason)     a secured frame that does not decode (``malformed``, ``truncated``…)
``signed_unverified``  signed, and the policy for this kind is ``off`` (kept, not trusted)
``unknown_algorithm``  a signature algorithm no verifier is configured for, or one that does
                       not belong to the frame's profile
``stale``              no generation time, generated more than ``window_ms`` ago, more than
                       ``future_ms`` ahead of the receiver's clock, or past its expiry time
``replay``             the same signature was accepted before (``replay.ReplayWindow``)
``unknown_signer``     signed by a digest the certificate cache does not hold
``untrusted_chain``    a certificate chain that does not validate to a trust anchor
``revoked``            the signer or an issuer is on the revocation list
``outside_validity``   generated outside the signer certificate's validity period
``not_permitted``      the certificate does not permit the frame's AID
``outside_region``     the sender's position is outside the certificate's (inherited) region
``bad_signature``      the signature does not verify over the signed bytes
=====================  =====================================================================

The sender's position is the header's generation location when present, else the payload's
own (a BSM's position, an RSM's or RSI's reference point: ``codec.decode``). A certificate
with an identified region (country codes) cannot be checked against a position; such frames
are counted in ``stats()["region_unchecked"]``, not guessed about.

``check(raw, source=..., kind=..., now_ms=...)`` is the ``runtime.guard.FrameGuard`` face of the
same stage: the payload bytes or a ``model.DeadLetter``. ``stats()`` counts what passed
(``verified``, also per profile as ``verified.cn``/``verified.intl``, ``unsigned_passed``) and what was refused, per reason, with the trust store's
and the replay window's figures.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol

import msgspec

from v2xcloud.codec import Decoded, MessageSet, Rejected, decode
from v2xcloud.errors import ConfigError, V2xCloudError
from v2xcloud.model import DeadLetter, DeviceKind, DropReason
from v2xcloud.security import region as geo
from v2xcloud.security.codec import decode_secured
from v2xcloud.security.crypto import Verifier
from v2xcloud.security.pki import Pki
from v2xcloud.security.replay import ReplayWindow
from v2xcloud.security.sig_input import verify_data
from v2xcloud.security.trust import ChainFailure, LinkVerify, Trusted, TrustStore
from v2xcloud.security.types import (
    Certificate,
    HashedId8,
    PublicKey,
    SecurityProfile,
    Signature,
    SignatureAlgorithm,
    SignedFrame,
    UnsignedFrame,
)

__all__ = [
    "GuardPass",
    "Policy",
    "Rejection",
    "SecurityPolicy",
    "SecurityStage",
    "SignatureCheck",
    "Verified",
    "link_verify",
    "stage_from_pki",
]

logger = logging.getLogger(__name__)

_SECURED_VERSION = 3
_LOGGED_ERRORS = 10
_KINDS = frozenset(k.value for k in DeviceKind)


def _looks_secured(raw: bytes) -> bool:
    """Version 3 and a content CHOICE tag: a secured data unit (or a UPER frame that starts
    alike, which the decoder then tells apart)."""
    return len(raw) >= 2 and raw[0] == _SECURED_VERSION and raw[1] & 0xC0 == 0x80


class SecurityPolicy(StrEnum):
    """What the stage demands of a device kind's frames."""

    REQUIRE = "require"  # unsigned frames are refused (``unsigned``)
    VERIFY_IF_SIGNED = "verify-if-signed"  # signed ones must verify, unsigned ones pass
    OFF = "off"  # nothing verified: unsigned pass, signed are kept as ``signed_unverified``


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """The deployment's policy and overrides per device kind (``"obu"``, ``"rsu"``, ...).

    >>> p = Policy.parse("require,radar=off")
    >>> p.for_kind("obu").value, p.for_kind("radar").value
    ('require', 'off')
    """

    default: SecurityPolicy = SecurityPolicy.VERIFY_IF_SIGNED
    per_kind: dict[str, SecurityPolicy] = {}

    def for_kind(self, kind: str) -> SecurityPolicy:
        """The policy for a device kind."""
        return self.per_kind.get(kind, self.default)

    @classmethod
    def parse(cls, text: str) -> Policy:
        """``"POLICY[,KIND=POLICY...]"``; ``ConfigError`` saying how to write it otherwise."""
        default: SecurityPolicy | None = None
        per_kind: dict[str, SecurityPolicy] = {}
        choices = [p.value for p in SecurityPolicy]
        for part in (p.strip() for p in text.split(",") if p.strip()):
            kind, _, value = part.rpartition("=")
            if value not in choices:
                raise ConfigError(
                    f"security policy {part!r}: use one of {choices}, optionally per device "
                    "kind, e.g. 'require,radar=off'"
                )
            if kind:
                if kind.strip() not in _KINDS:
                    raise ConfigError(
                        f"security policy {part!r}: device kind {kind.strip()!r} is none of "
                        f"{sorted(_KINDS)}"
                    )
                per_kind[kind.strip()] = SecurityPolicy(value)
            else:
                default = SecurityPolicy(value)
        return cls(default=default or SecurityPolicy.VERIFY_IF_SIGNED, per_kind=per_kind)


class Verified(msgspec.Struct, frozen=True, kw_only=True):
    """A frame that passed: the UPER ``payload`` to decode; for a signed frame its profile,
    AID, signer certificate digest, the device the certificate was issued to (None when not
    known) and the generation time (UTC ms). ``is_signed`` is False for an unsigned frame the
    policy let through."""

    payload: bytes
    is_signed: bool
    profile: SecurityProfile | None = None
    aid: int | None = None
    signer: HashedId8 | None = None
    device: str | None = None
    generation_time_ms: int | None = None


class GuardPass(msgspec.Struct, frozen=True, kw_only=True):
    """A verified frame as the runtime's frame guard hands it on (the shape of
    ``runtime.guard.Passed``): the payload, the signer's digest in hex and its device."""

    payload: bytes
    signer: str | None = None
    device: str | None = None


class Rejection(msgspec.Struct, frozen=True, kw_only=True):
    """A refused frame: one reason, a sentence, and where in the frame (a field path)."""

    reason: DropReason
    detail: str
    where: str | None = None


class SignatureCheck(Protocol):
    """What the stage needs of ``security.crypto.Verifier``: ``verify(point, message, r||s,
    sm2_id=...)`` (the message and id by ``security.sig_input``'s rule)."""

    def verify(
        self, public_key: bytes, tbs: bytes, signature: bytes, *, sm2_id: bytes | None = None
    ) -> bool:
        """True when the signature is valid."""
        ...


class SecurityStage:
    """The receiver checks (module docstring) over a ``TrustStore``.

    ``verifiers`` per signature algorithm (``security.crypto.Verifier``); ``policy`` per
    device kind; ``window_ms`` how old a generation time may be, ``future_ms`` how far ahead of
    the receiver's clock; ``replay_capacity`` bounds the replay table; ``message_set`` is
    what payloads are decoded with when the sender's position must come from the payload.
    """

    def __init__(
        self,
        trust: TrustStore,
        *,
        verifiers: Mapping[SignatureAlgorithm, SignatureCheck],
        policy: Policy | None = None,
        window_ms: int = 5_000,
        future_ms: int = 1_000,
        replay_capacity: int = 1_000_000,
        message_set: MessageSet = MessageSet.CSAE2020,
    ) -> None:
        if window_ms <= 0 or future_ms < 0:
            raise ConfigError("window_ms must be positive and future_ms not negative")
        self.trust = trust
        self.verifiers = dict(verifiers)
        self.policy = policy or Policy()
        self.window_ms = window_ms
        self.future_ms = future_ms
        self.message_set = message_set
        self.replay = ReplayWindow(window_ms=window_ms + future_ms, capacity=replay_capacity)
        self.counts: Counter[str] = Counter()

    # -- the FrameGuard face --------------------------------------------------------------------

    def check(
        self, raw: bytes, *, source: str, kind: str, now_ms: int
    ) -> bytes | GuardPass | DeadLetter:
        """``runtime.guard.FrameGuard``: what to decode — a signed frame's payload with its
        signer's digest and device (``GuardPass``), an unsigned frame's payload as bytes — or
        the dead letter."""
        if not _looks_secured(raw) and self.policy.for_kind(kind) is not SecurityPolicy.REQUIRE:
            self.counts["unsigned_passed"] += 1  # the common unsigned case, without a Verified
            return raw
        result = self.process(raw, kind=kind, now_ms=now_ms)
        if isinstance(result, Verified):
            if result.signer is None:
                return result.payload
            return GuardPass(
                payload=result.payload, signer=result.signer.hex(), device=result.device
            )
        return DeadLetter(
            raw=bytes(raw),
            source=source,
            received_at_ms=now_ms,
            reason=result.reason,
            detail=f"security: {result.detail}",
            where=result.where,
        )

    def stats(self) -> dict[str, Any]:
        """Frames verified, unsigned passed, refused per reason, positions not checkable,
        the trust store's and the replay table's figures."""
        return {
            **self.counts,
            "trust": self.trust.stats(),
            "replay": {
                "remembered": len(self.replay),
                "forgotten": self.replay.forgotten,
                "refused_below_floor": self.replay.refused_below_floor,
            },
        }

    # -- the checks -----------------------------------------------------------------------------

    def process(self, raw: bytes, *, kind: str = "unknown", now_ms: int) -> Verified | Rejection:
        """Judge one frame (module docstring); never raises for bad input."""
        policy = self.policy.for_kind(kind)
        try:
            result = self._judge(raw, policy, now_ms)
        except V2xCloudError as exc:  # a key not on its curve, a value the codec refuses late
            self.counts["errors"] += 1
            if self.counts["errors"] <= _LOGGED_ERRORS:  # counted always, logged the first few
                logger.warning("security stage: %s (frame refused as bad_signature)", exc)
            result = Rejection(reason=DropReason.BAD_SIGNATURE, detail=str(exc))
        if isinstance(result, Rejection):
            self.counts[f"rejected.{result.reason.value}"] += 1
        else:
            self.counts["verified" if result.is_signed else "unsigned_passed"] += 1
            if result.is_signed and result.profile is not None:
                self.counts[f"verified.{result.profile.value}"] += 1
        return result

    def _judge(self, raw: bytes, policy: SecurityPolicy, now_ms: int) -> Verified | Rejection:
        if not _looks_secured(raw):
            return self._unsigned(raw, policy, "no secured-data header")
        frame = decode_secured(raw)
        if isinstance(frame, Rejected):
            if policy is not SecurityPolicy.REQUIRE and raw[1] != 0x81:
                return Verified(payload=raw, is_signed=False)  # a UPER frame that looks alike
            return Rejection(reason=frame.reason, detail=frame.detail, where=frame.where)
        if isinstance(frame, UnsignedFrame):
            unsigned = self._unsigned(frame.payload, policy, "unsecured data")
            return unsigned
        assert isinstance(frame, SignedFrame)
        if policy is SecurityPolicy.OFF:
            return Rejection(
                reason=DropReason.SIGNED_UNVERIFIED,
                detail="signed, and the policy for this device kind is off: kept unverified",
            )
        return self._signed(frame, now_ms)

    def _unsigned(self, payload: bytes, policy: SecurityPolicy, what: str) -> Verified | Rejection:
        if policy is SecurityPolicy.REQUIRE:
            return Rejection(
                reason=DropReason.UNSIGNED,
                detail=f"{what}: the policy for this device kind requires a signature",
            )
        return Verified(payload=payload, is_signed=False)

    def _signed(self, frame: SignedFrame, now_ms: int) -> Verified | Rejection:
        algorithm = frame.signature.algorithm
        verifier = self.verifiers.get(algorithm)
        if verifier is None or algorithm.profile is not frame.profile:
            return Rejection(
                reason=DropReason.UNKNOWN_ALGORITHM,
                detail=f"{algorithm.value} in a {frame.profile.value} frame: no verifier for it",
                where="$.signature",
            )
        generated = frame.generation_time_ms
        stale = self._stale(frame, generated, now_ms)
        if stale is not None:
            return stale
        assert generated is not None
        key = frame.signature.r + frame.signature.s
        if self.replay.is_known(key, generated):
            return Rejection(
                reason=DropReason.REPLAY,
                detail=f"the same signed frame (generated at {generated} ms) was accepted before",
                where="$.signature",
            )
        signer = self._signer(frame, generated)
        if not isinstance(signer, Trusted):
            return signer
        refused = self._certificate_rules(frame, signer, generated)
        if refused is not None:
            return refused
        cert = signer.certificate
        point = cert.verification_key.point
        if not verify_data(verifier, point, frame.tbs_bytes, key, cert, algorithm=algorithm):
            return Rejection(
                reason=DropReason.BAD_SIGNATURE,
                detail=f"the signature does not verify with certificate {signer.digest.hex()}",
                where="$.signature",
            )
        self.replay.accept(key, generated, now_ms=now_ms)
        return Verified(
            payload=frame.payload,
            is_signed=True,
            profile=frame.profile,
            aid=frame.aid,
            signer=signer.digest,
            device=signer.device,
            generation_time_ms=generated,
        )

    def _stale(self, frame: SignedFrame, generated: int | None, now_ms: int) -> Rejection | None:
        where = "$.headerInfo.generationTime"
        if generated is None:
            return Rejection(reason=DropReason.STALE, detail="no generation time", where=where)
        if generated < now_ms - self.window_ms:
            detail = (
                f"generated {now_ms - generated} ms ago, more than the {self.window_ms} ms window"
            )
            return Rejection(reason=DropReason.STALE, detail=detail, where=where)
        if generated > now_ms + self.future_ms:
            detail = (
                f"generated {generated - now_ms} ms in the future, more than the "
                f"{self.future_ms} ms tolerated"
            )
            return Rejection(reason=DropReason.STALE, detail=detail, where=where)
        if frame.expiry_time_ms is not None and frame.expiry_time_ms < now_ms:
            detail = f"expired {now_ms - frame.expiry_time_ms} ms ago"
            return Rejection(
                reason=DropReason.STALE, detail=detail, where="$.headerInfo.expiryTime"
            )
        return None

    def _signer(self, frame: SignedFrame, generated: int) -> Trusted | Rejection:
        if frame.signer_chain:
            found: Trusted | ChainFailure = self.trust.learn(frame.signer_chain, at_ms=generated)
        else:
            known = self.trust.lookup(frame.signer_digest)
            if known is None:
                return Rejection(
                    reason=DropReason.UNKNOWN_SIGNER,
                    detail=f"signer digest {frame.signer_digest.hex()} is not in the "
                    "certificate cache (its full certificate was not seen)",
                    where="$.signer.digest",
                )
            found = self.trust.not_revoked(known, generated)
        if isinstance(found, ChainFailure):
            return Rejection(reason=found.reason, detail=found.detail, where="$.signer")
        return found

    def _certificate_rules(
        self, frame: SignedFrame, signer: Trusted, generated: int
    ) -> Rejection | None:
        cert = signer.certificate
        if not cert.validity_start_ms <= generated < cert.validity_end_ms:
            return Rejection(
                reason=DropReason.OUTSIDE_VALIDITY,
                detail=f"generated at {generated} ms, certificate {signer.digest.hex()} is valid "
                f"{cert.validity_start_ms}..{cert.validity_end_ms} ms",
                where="$.headerInfo.generationTime",
            )
        if not any(p.aid == frame.aid for p in cert.app_permissions):
            granted = sorted(p.aid for p in cert.app_permissions)
            return Rejection(
                reason=DropReason.NOT_PERMITTED,
                detail=f"AID {frame.aid} is not among certificate {signer.digest.hex()}'s "
                f"permissions {granted}",
                where="$.headerInfo.aid",
            )
        if signer.region is not None:
            return self._region(frame, signer)
        return None

    def _region(self, frame: SignedFrame, signer: Trusted) -> Rejection | None:
        assert signer.region is not None
        where = "$.headerInfo.generationLocation"
        loc = frame.generation_location
        position = (loc.lat_deg, loc.lon_deg) if loc is not None else None
        if position is None:
            position, where = self._payload_position(frame.payload), "$.payload"
        if position is None:
            self.counts["region_unchecked"] += 1  # no position: the codec judges the payload
            return None
        inside = geo.contains(signer.region, *position)
        if inside is None:
            self.counts["region_unchecked"] += 1
            return None
        if inside:
            return None
        return Rejection(
            reason=DropReason.OUTSIDE_REGION,
            detail=f"sender at {position[0]:.6f},{position[1]:.6f} is outside the region of "
            f"certificate {signer.digest.hex()}",
            where=where,
        )

    def _payload_position(self, payload: bytes) -> tuple[float, float] | None:
        """The BSM's position or an RSM's/RSI's reference point; None when the payload has
        none or does not decode (the codec stage then rejects it with its reason)."""
        result = decode(payload, message_set=self.message_set)
        if not isinstance(result, Decoded):
            return None
        model = result.to_model()
        participant = getattr(model, "participant", None)
        if participant is not None:
            return participant.lat_deg, participant.lon_deg
        lat, lon = getattr(model, "ref_lat_deg", None), getattr(model, "ref_lon_deg", None)
        if isinstance(lat, float) and isinstance(lon, float):
            return lat, lon
        return None


def link_verify(verifiers: Mapping[SignatureAlgorithm, SignatureCheck]) -> LinkVerify:
    """A ``trust.LinkVerify`` over ``verifiers`` (a certificate signed in an algorithm
    without a verifier does not verify)."""

    def verify(
        key: PublicKey, tbs: bytes, signature: Signature, issuer: Certificate | None
    ) -> bool:
        verifier = verifiers.get(signature.algorithm)
        if verifier is None or key.algorithm is not signature.algorithm:
            return False
        rs = signature.r + signature.s
        return verify_data(verifier, key.point, tbs, rs, issuer, algorithm=signature.algorithm)

    return verify


def stage_from_pki(
    pki: Pki,
    *,
    policy: Policy | None = None,
    window_ms: int = 5_000,
    future_ms: int = 1_000,
    known_devices: bool = True,
    cache_capacity: int = 100_000,
    message_set: MessageSet = MessageSet.CSAE2020,
) -> SecurityStage:
    """The receiver of a PKI directory: its root as trust anchor, its CAs, its revocation list
    and (``known_devices``) its devices' certificates; a native verifier for the PKI's
    algorithm only (frames in the other profile's algorithm are ``unknown_algorithm``)."""
    verifiers: dict[SignatureAlgorithm, SignatureCheck] = {pki.algorithm: Verifier(pki.algorithm)}
    trust = pki.trust_store(
        link_verify(verifiers), cache_capacity=cache_capacity, known_devices=known_devices
    )
    return SecurityStage(
        trust,
        verifiers=verifiers,
        policy=policy,
        window_ms=window_ms,
        future_ms=future_ms,
        message_set=message_set,
    )
