"""Who signs on the wire: the simulated devices (``DeviceSigners``) and the platform
(``PlatformSigner``), both from a PKI directory made by ``v2xcloud pki init``.

``DeviceSigners`` is the bench's ``sim.devices.DeviceSigning``: each device signs its frames
with its own certificate, an OBU with its pseudonym certificate and an RSU with its enrolment
certificate. A device the PKI lists signs with the certificate made for it there (and the
platform, built from the same PKI, already knows it). A device the PKI does not list (the
vehicles a simulation spawns) is enrolled the first time it speaks: it gets a fresh key and a
certificate issued by the PKI's pseudonym CA (OBU) or enrolment CA (RSU) with the AIDs of its
kind, the issuing CA's region and a week's validity (clipped to the CA's), kept in memory only.

Signer form (IEEE 1609.2 leaves the choice to the sender): the signer is the certificate's
digest, except that the full certificate is sent once every ``certificate_period_ms``
(default 1000 ms: once a second, the rate SAE J2945/1 gives for BSMs) and in every frame of a
device's first period, so a receiver that has not met the device learns it within a second
even when its first frames (an RSU's SPAT, MAP and RSM of one instant) arrive out of order.
The "new neighbour" rule needs a receiver that talks back, which the up-link to the cloud has
not: a frame signed by digest that reaches a receiver before any full certificate of its
device (all of them lost) is refused there as ``unknown_signer`` (counted), as a real receiver
would.

``PlatformSigner`` is the runtime's ``OutboundSigner``: the RSI and advisories the platform
sends down are signed with the PKI's ``platform`` certificate, by default carrying the full
certificate in every frame (each down-link recipient hears few messages and may never have
met the platform's certificate).

>>> import tempfile                                                           # doctest: +SKIP
>>> signers = DeviceSigners(load_pki(dir))                                    # doctest: +SKIP
>>> frame = signers.sign(uper_bsm, device_id="5a00000000000001", device_kind="obu",
...                      message_type="BSM", generation_time_ms=now_ms)      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from v2xcloud.bounded import LruTable
from v2xcloud.codec import MessageSet
from v2xcloud.errors import ConfigError
from v2xcloud.security import crypto
from v2xcloud.security.aid import aid_of
from v2xcloud.security.pki import Pki, issue_certificate, kind_aids
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.types import Certificate, GenerationLocation

__all__ = ["DeviceSigners", "PlatformSigner"]

logger = logging.getLogger(__name__)

_HOUR_MS = 3_600_000
_ENROLLED_VALIDITY_MS = 7 * 24 * _HOUR_MS


class _Device:
    """One device's signer, when it first signed and when it last sent its certificate."""

    __slots__ = ("first_ms", "last_certificate_ms", "signer")

    def __init__(self, signer: FrameSigner, first_ms: int) -> None:
        self.signer = signer
        self.first_ms = first_ms
        self.last_certificate_ms = first_ms


class DeviceSigners:
    """Signs frames as any device of a PKI (see the module docstring).

    ``certificate_period_ms`` (> 0): how often a device sends its full certificate (and for
    how long from its first frame it sends it in every frame). ``enrol_unknown``: enrol devices the PKI does not list (else ``ConfigError``
    for them). ``max_devices`` bounds the devices held (the one held longest is
    forgotten; if heard again it is enrolled anew, counted in ``stats()["forgotten"]``).
    """

    def __init__(
        self,
        pki: Pki,
        *,
        certificate_period_ms: int = 1000,
        enrol_unknown: bool = True,
        max_devices: int = 100_000,
        message_set: MessageSet = MessageSet.CSAE2020,
    ) -> None:
        if certificate_period_ms <= 0:
            raise ConfigError(
                f"certificate_period_ms must be positive, got {certificate_period_ms}"
            )
        self.pki = pki
        self.certificate_period_ms = certificate_period_ms
        self.enrol_unknown = enrol_unknown
        self.message_set = message_set
        self._devices: LruTable[str, _Device] = LruTable(limit=max_devices, name="signing devices")
        self._cas: dict[str, tuple[Certificate, crypto.Signer]] = {}
        self.counts: Counter[str] = Counter()
        self.sign_s = 0.0

    def sign(
        self,
        payload: bytes,
        *,
        device_id: str,
        device_kind: str,
        message_type: str,
        generation_time_ms: int,
        lat_deg: float | None = None,
        lon_deg: float | None = None,
    ) -> bytes:
        """The signed secured frame of ``payload`` as ``device_id`` (``sim.devices.DeviceSigning``).

        Raises ``ConfigError`` for a device the PKI does not list when enrolment is off, or
        one that cannot be enrolled at ``generation_time_ms`` (outside its CA's validity).
        """
        t0 = time.perf_counter()
        device = self._devices.get(device_id)
        if device is None:
            device = self._device(device_id, device_kind, generation_time_ms)
        location = None
        if lat_deg is not None and lon_deg is not None:
            location = GenerationLocation(lat_deg=lat_deg, lon_deg=lon_deg)
        t, period = generation_time_ms, self.certificate_period_ms
        with_certificate = t - device.first_ms < period or t - device.last_certificate_ms >= period
        if with_certificate:
            device.last_certificate_ms = max(device.last_certificate_ms, t)
        frame = device.signer.sign(
            payload,
            generation_time_ms=generation_time_ms,
            aid=aid_of(message_type),
            with_certificate=with_certificate,
            with_location=location is not None,
            location=location,
        )
        self.counts[f"signed.{message_type}"] += 1
        if with_certificate:
            self.counts["certificates_sent"] += 1
        self.sign_s += time.perf_counter() - t0
        return frame

    def stats(self) -> dict[str, Any]:
        """Frames signed per message type, full certificates sent, devices signing with a
        PKI certificate (``from_pki``) and enrolled here (``enrolled``), devices held and
        forgotten, and the seconds spent signing."""
        return {
            **self.counts,
            "devices": len(self._devices),
            "forgotten": self._devices.evicted,
            "sign_s": round(self.sign_s, 3),
        }

    def _device(self, device_id: str, kind: str, at_ms: int) -> _Device:
        role = "enrolment" if kind == "rsu" else "pseudonym"
        name = f"{device_id}.{role}"
        if name in self.pki.names():
            signer = FrameSigner.for_device(
                self.pki, device_id, role=role, message_set=self.message_set
            )
            self.counts["from_pki"] += 1
        elif self.enrol_unknown:
            signer = self._enrol(device_id, kind, role, at_ms)
            self.counts["enrolled"] += 1
        else:
            raise ConfigError(
                f"device {device_id!r} has no {role} certificate in {self.pki.directory} "
                "(and enrolling unknown devices is off)"
            )
        device = _Device(signer, at_ms)
        self._devices[device_id] = device
        return device

    def _enrol(self, device_id: str, kind: str, role: str, at_ms: int) -> FrameSigner:
        ca_name = "enrolment-ca" if role == "enrolment" else "pseudonym-ca"
        ca = self._cas.get(ca_name)
        if ca is None:
            ca = self._cas[ca_name] = (self.pki.certificate(ca_name), self.pki.signer(ca_name))
        ca_cert = ca[0]
        start = max(ca_cert.validity_start_ms, (at_ms // _HOUR_MS - 1) * _HOUR_MS)
        end = min(ca_cert.validity_end_ms, start + _ENROLLED_VALIDITY_MS)
        if not start <= at_ms < end:
            raise ConfigError(
                f"cannot enrol device {device_id!r} at {at_ms} ms: outside the validity of "
                f"{ca_name} in {self.pki.directory} ({ca_cert.validity_start_ms}.."
                f"{ca_cert.validity_end_ms} ms)"
            )
        key = crypto.generate_signer(self.pki.algorithm)
        cert = issue_certificate(
            profile=self.pki.profile,
            name=f"{device_id}.{role}",
            subject=key,
            issuer=ca,
            start_ms=start,
            end_ms=end,
            region=ca_cert.region,
            aids=kind_aids("rsu" if kind == "rsu" else "obu"),
        )
        logger.debug("enrolled %s %s (%s)", kind, device_id, cert.digest)
        return FrameSigner(cert, key, message_set=self.message_set)


class PlatformSigner:
    """The platform's signer for what it sends (``runtime.signing.OutboundSigner``).

    ``certificate_every`` (default 1: every frame carries the platform's certificate; N: the
    frames 1, 1 + N, 1 + 2N, ...). Raises ``ConfigError`` at construction when the PKI's platform
    certificate does not permit a message type the down-link sends (a PKI made before the
    advisory AID existed: create a new one).
    """

    MESSAGE_TYPES = ("RSI", "ADVISORY")

    def __init__(self, pki: Pki, *, certificate_every: int = 1) -> None:
        if certificate_every < 1:
            raise ConfigError(f"certificate_every must be at least 1, got {certificate_every}")
        self.signer = FrameSigner.for_device(pki, "platform")
        granted = {p.aid for p in self.signer.certificate.app_permissions}
        missing = [m for m in self.MESSAGE_TYPES if aid_of(m) not in granted]
        if missing:
            raise ConfigError(
                f"the platform certificate in {pki.directory} does not permit {missing} "
                f"(AIDs {sorted(granted)}); create a new PKI with 'v2xcloud pki init'"
            )
        self.certificate_every = certificate_every
        self.counts: Counter[str] = Counter()
        self.sign_s = 0.0

    def sign(self, payload: bytes, *, message_type: str, now_ms: int) -> bytes:
        """``payload`` signed by the platform, generated at ``now_ms`` (UTC ms)."""
        t0 = time.perf_counter()
        n = self.signer.signed
        frame = self.signer.sign(
            payload,
            generation_time_ms=now_ms,
            aid=aid_of(message_type),
            with_certificate=n % self.certificate_every == 0,
            with_location=False,
        )
        self.counts[f"signed.{message_type}"] += 1
        self.sign_s += time.perf_counter() - t0
        return frame

    def stats(self) -> dict[str, Any]:
        """Frames signed per message type and the seconds spent signing."""
        return {**self.counts, "sign_s": round(self.sign_s, 3)}
