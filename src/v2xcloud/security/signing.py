"""Signing UPER frames as a device (or the platform) of a PKI: what ``v2xcloud sign`` does.

``FrameSigner.for_device(pki, "obu-1")`` holds the device's pseudonym certificate and key;
``sign(payload, generation_time_ms=...)`` wraps one UPER MessageFrame into a signed secured
frame of the PKI's profile: the AID of the message type (``security.aid``), the generation
time, the sender's position as the generation location (from the payload, when it has one),
and the signer as the certificate's digest — or the full certificate every
``certificate_every`` frames and whenever asked (``with_certificate``), so receivers that
have not met the certificate learn it (IEEE 1609.2 senders do the same).

>>> import tempfile, time                                            # doctest: +SKIP
>>> signer = FrameSigner.for_device(load_pki(dir), "obu-1")          # doctest: +SKIP
>>> signed = signer.sign(uper_bsm, generation_time_ms=now_ms)        # doctest: +SKIP
"""

from __future__ import annotations

from v2xcloud.codec import Decoded, MessageSet, decode
from v2xcloud.errors import ConfigError
from v2xcloud.security.aid import aid_of
from v2xcloud.security.codec import encode_signed
from v2xcloud.security.crypto import Signer
from v2xcloud.security.pki import Pki
from v2xcloud.security.sig_input import sign_data
from v2xcloud.security.types import (
    Certificate,
    GenerationLocation,
    HashedId8,
    Signature,
    SignatureAlgorithm,
)

__all__ = ["FrameSigner", "payload_facts"]


def payload_facts(
    payload: bytes, *, message_set: MessageSet
) -> tuple[str | None, GenerationLocation | None]:
    """The message type of a UPER MessageFrame (``"BSM"``, ``"RSI"``, …) and the sender's
    position in it (a BSM's position, an RSM's or RSI's reference point), None where the
    frame does not decode or has none."""
    result = decode(payload, message_set=message_set)
    if not isinstance(result, Decoded):
        return None, None
    model = result.to_model()
    participant = getattr(model, "participant", None)
    if participant is not None:
        lat, lon = participant.lat_deg, participant.lon_deg
    else:
        lat, lon = getattr(model, "ref_lat_deg", None), getattr(model, "ref_lon_deg", None)
    if isinstance(lat, float) and isinstance(lon, float):
        return result.message_type, GenerationLocation(lat_deg=lat, lon_deg=lon)
    return result.message_type, None


class FrameSigner:
    """Signs frames with one certificate and its key (module docstring)."""

    def __init__(
        self,
        certificate: Certificate,
        key: Signer,
        *,
        message_set: MessageSet = MessageSet.CSAE2020,
        certificate_every: int = 0,
    ) -> None:
        if certificate.digest is None or not certificate.encoded:
            raise ConfigError("sign with a decoded certificate (security.codec), not a draft")
        self.certificate = certificate
        self.digest: HashedId8 = certificate.digest
        self.key = key
        self.message_set = message_set
        self.certificate_every = certificate_every
        self.signed = 0

    @classmethod
    def for_device(
        cls,
        pki: Pki,
        device: str,
        *,
        role: str = "pseudonym",
        message_set: MessageSet = MessageSet.CSAE2020,
        certificate_every: int = 0,
    ) -> FrameSigner:
        """The signer of ``device``'s ``role`` certificate (``pseudonym`` or ``enrolment``;
        the device ``platform`` signs with the platform's certificate)."""
        name = pki.signing_name(device, role=role)
        return cls(
            pki.certificate(name),
            pki.signer(name),
            message_set=message_set,
            certificate_every=certificate_every,
        )

    def sign(
        self,
        payload: bytes,
        *,
        generation_time_ms: int,
        aid: int | None = None,
        with_certificate: bool = False,
        with_location: bool = True,
        location: GenerationLocation | None = None,
    ) -> bytes:
        """One signed secured frame around ``payload``. ``aid`` defaults to the AID of the
        payload's message type; ``ConfigError`` when it cannot be told (a payload that does not
        decode: give ``aid``). ``location``: the sender's position when the caller knows it
        (with ``aid`` given, the payload is then not decoded at all)."""
        message_type: str | None = None
        if aid is None or (with_location and location is None):
            message_type, location = payload_facts(payload, message_set=self.message_set)
        if aid is None:
            if message_type is None:
                raise ConfigError(
                    f"{len(payload)}-byte payload does not decode as a {self.message_set.value} "
                    "MessageFrame: cannot tell its AID (give --aid)"
                )
            aid = aid_of(message_type)
        every = self.certificate_every
        send_cert = with_certificate or (every > 0 and self.signed % every == 0)
        algorithm = self.certificate.verification_key.algorithm
        encoded = encode_signed(
            profile=self.certificate.profile,
            aid=aid,
            payload=payload,
            signer=[self.certificate] if send_cert else self.digest,
            sign=lambda tbs: _signature(sign_data(self.key, tbs, self.certificate), algorithm),
            generation_time_ms=generation_time_ms,
            generation_location=location if with_location else None,
        )
        self.signed += 1
        return encoded.raw


def _signature(raw: bytes, algorithm: SignatureAlgorithm) -> Signature:
    return Signature(algorithm=algorithm, r=raw[:32], s=raw[32:])
