"""Certificate trust: anchors, intermediates, a revocation list and a bounded certificate cache.

A ``TrustStore`` holds what a receiver believes about certificates:

- **trust anchors** — root certificates (self-signed, their self-signature verified when
  added) and **intermediates** (CA certificates chained to an anchor, e.g. the enrolment CA):
  pinned, never evicted; together they are the trust list;
- a **revocation list** — certificate digests with the time (UTC ms) each was revoked; a
  certificate is revoked for frames generated at or after that time, and so is everything it
  issued;
- a **certificate cache** keyed by ``HashedId8``: end-entity certificates that were sent in
  full (a frame whose signer is a certificate teaches it), bounded (``bounded.LruTable``: the
  least recently learned evicted, counted; a device sends its full certificate again now and
  then, which re-learns it). A frame signed by digest alone is judged against it: an unknown digest
  is ``UNKNOWN_SIGNER``.

Chain validation (``learn``) walks a chain from the signer up to a certificate already
trusted. Each new link is checked once and then cached: the issuer's digest is the one the
child names, the child's bytes are its canonical COER encoding (a loosely read copy would
be the same certificate under a second digest, past the revocation list), the issuer's
signature over the child's to-be-signed bytes verifies (by ``security.sig_input``'s rule), the child's
validity lies within the issuer's, its application permissions (AIDs) within what the issuer
may issue and its region within the issuer's effective region (a certificate without a region
inherits its issuer's). Any failure is ``UNTRUSTED_CHAIN`` naming the link and the rule, or
``REVOKED`` when a link is on the revocation list.

>>> store = TrustStore(verify=lambda key, tbs, sig, issuer: True, cache_capacity=2)
>>> store.lookup(HashedId8(bytes(8))) is None
True
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import msgspec

from v2xcloud.bounded import LruTable
from v2xcloud.model import DropReason
from v2xcloud.security import region as geo
from v2xcloud.security.codec import is_canonical_certificate
from v2xcloud.security.types import Certificate, HashedId8, PublicKey, Region, Signature

__all__ = ["ChainFailure", "LinkVerify", "TrustStore", "Trusted"]

logger = logging.getLogger(__name__)

#: checks one certificate's signature: ``verify(issuer_key, tbs_bytes, signature, issuer)``,
#: ``issuer`` the issuing certificate (``None``: self-signed), by ``security.sig_input``'s rule
LinkVerify = Callable[[PublicKey, bytes, Signature, Certificate | None], bool]


class Trusted(msgspec.Struct, frozen=True, kw_only=True):
    """A certificate whose chain to an anchor was validated, with what it inherits: the
    effective ``region`` (its own or the nearest issuer's; None: unrestricted), ``depth``
    (0 for an anchor), ``is_ca`` and the device id it was issued to when known."""

    certificate: Certificate
    digest: HashedId8
    region: Region | None
    depth: int
    is_ca: bool
    device: str | None = None

    @property
    def issuer(self) -> HashedId8 | None:
        """The issuing certificate's digest (None for an anchor)."""
        return self.certificate.issuer


class ChainFailure(msgspec.Struct, frozen=True, kw_only=True):
    """Why a chain is not trusted: ``UNTRUSTED_CHAIN``, ``REVOKED`` or ``UNKNOWN_SIGNER``,
    and a sentence naming the certificate and the rule."""

    reason: DropReason
    detail: str


def _name(cert: Certificate, digest: HashedId8 | None = None) -> str:
    label = cert.subject_name or (cert.subject_id.hex() if cert.subject_id else "unnamed")
    d = digest or cert.digest
    return f"{label} ({d.hex()})" if d is not None else label


class TrustStore:
    """Trust anchors, intermediates, revocations and the certificate cache (module docstring).

    ``verify`` checks a certificate's signature with its issuer's key (``security.crypto``
    behind it); ``cache_capacity`` bounds the learned end-entity certificates. Not
    thread-safe: one receive path owns it.
    """

    def __init__(self, *, verify: LinkVerify, cache_capacity: int = 100_000) -> None:
        if cache_capacity < 1:
            raise ValueError("cache_capacity must be at least 1")
        self._verify = verify
        self.cache_capacity = cache_capacity
        self._pinned: dict[HashedId8, Trusted] = {}
        self._cache: LruTable[HashedId8, Trusted] = LruTable(
            limit=cache_capacity, name="certificate cache"
        )
        self._revoked: dict[HashedId8, int] = {}
        self._devices: LruTable[HashedId8, str] = LruTable(
            limit=cache_capacity, name="certificate devices"
        )
        self.counts: Counter[str] = Counter()

    # -- what is trusted -------------------------------------------------------------------------

    def add_anchor(self, cert: Certificate) -> Trusted:
        """Trust a root certificate; ``ValueError`` if it is not self-signed, has no digest
        (decode it with ``security.codec``) or its self-signature does not verify."""
        digest = _digest(cert)
        if not cert.is_self_signed:
            raise ValueError(f"trust anchor {_name(cert)} is not self-signed")
        if cert.signature is None or not self._verify(
            cert.verification_key, cert.tbs_bytes, cert.signature, None
        ):
            raise ValueError(f"trust anchor {_name(cert)}: its self-signature does not verify")
        trusted = Trusted(certificate=cert, digest=digest, region=cert.region, depth=0, is_ca=True)
        self._pinned[digest] = trusted
        return trusted

    def add_intermediate(self, cert: Certificate, *, at_ms: int) -> Trusted:
        """Trust a CA certificate issued (directly or not) by an anchor; ``ValueError`` with
        the chain's complaint when it does not validate (at ``at_ms``)."""
        found = self.learn([cert], at_ms=at_ms, pin=True)
        if isinstance(found, ChainFailure):
            raise ValueError(f"intermediate {_name(cert)}: {found.detail}")
        return found

    def name_device(self, digest: HashedId8, device: str) -> None:
        """Say which device a certificate was issued to (the PKI's manifest), so a verified
        frame names its sender; bounded like the cache."""
        self._devices[digest] = device
        found = self._pinned.get(digest) or self._cache.get(digest)
        if found is not None:
            self._put(msgspec.structs.replace(found, device=device), pin=digest in self._pinned)

    def revoke(self, digest: HashedId8, *, at_ms: int) -> None:
        """Put a certificate on the revocation list from ``at_ms`` (UTC ms) on."""
        earlier = self._revoked.get(digest)
        self._revoked[digest] = at_ms if earlier is None else min(earlier, at_ms)

    @property
    def revoked(self) -> dict[HashedId8, int]:
        """The revocation list: digest → revoked at (UTC ms)."""
        return dict(self._revoked)

    def anchors(self) -> list[Trusted]:
        """The trust list: anchors and intermediates."""
        return list(self._pinned.values())

    # -- lookups ---------------------------------------------------------------------------------

    def lookup(self, digest: HashedId8) -> Trusted | None:
        """The validated certificate with this digest (pinned or cached), or None."""
        found = self._pinned.get(digest)
        if found is not None:
            return found
        return self._cache.get(digest)

    def revoked_in_chain(self, trusted: Trusted, at_ms: int) -> HashedId8 | None:
        """The first certificate of ``trusted``'s chain (itself, then its issuers) revoked at
        or before ``at_ms``, or None."""
        if not self._revoked:
            return None
        node: Trusted | None = trusted
        while node is not None:
            when = self._revoked.get(node.digest)
            if when is not None and when <= at_ms:
                return node.digest
            up = node.issuer
            node = None if up is None else (self._pinned.get(up) or self._cache.get(up))
        return None

    def __len__(self) -> int:
        return len(self._pinned) + len(self._cache)

    def stats(self) -> dict[str, int]:
        """Anchors/intermediates, cached certificates, revocations, links verified, chains
        refused, certificates evicted."""
        return {
            "trust_list": len(self._pinned),
            "cached": len(self._cache),
            "revoked": len(self._revoked),
            "evicted": self._cache.evicted,
            **self.counts,
        }

    # -- chain validation ------------------------------------------------------------------------

    def learn(
        self, chain: Sequence[Certificate], *, at_ms: int, pin: bool = False
    ) -> Trusted | ChainFailure:
        """Validate ``chain`` (signer first, then its issuers, as a frame carries it) up to a
        certificate already trusted, caching each new link; the signer's ``Trusted`` or why
        not. Links already known are not checked again (their signature was verified once).
        ``pin``: keep the new certificates with the trust list instead of the cache."""
        if not chain:
            return ChainFailure(reason=DropReason.UNTRUSTED_CHAIN, detail="empty chain")
        known = self.lookup(_digest(chain[0]))
        if known is not None:
            return self.not_revoked(known, at_ms)
        for cert in reversed(chain):  # from the top: each link's issuer is trusted first
            if self.lookup(_digest(cert)) is not None:
                continue
            result = self._link(cert, at_ms, pin)
            if isinstance(result, ChainFailure):
                self.counts["chains_refused"] += 1
                return result
        signer = self.lookup(_digest(chain[0]))
        assert signer is not None  # _link just stored it
        return self.not_revoked(signer, at_ms)

    def not_revoked(self, trusted: Trusted, at_ms: int) -> Trusted | ChainFailure:
        bad = self.revoked_in_chain(trusted, at_ms)
        if bad is None:
            return trusted
        return ChainFailure(
            reason=DropReason.REVOKED,
            detail=f"certificate {bad.hex()} in the chain of {_name(trusted.certificate)} "
            f"was revoked at {self._revoked[bad]} ms",
        )

    def _link(self, cert: Certificate, at_ms: int, pin: bool) -> Trusted | ChainFailure:
        digest = _digest(cert)
        if cert.issuer is None:
            return _fail(f"{_name(cert)} is self-signed and not a trust anchor")
        issuer = self.lookup(cert.issuer)
        if issuer is None:
            return ChainFailure(
                reason=DropReason.UNTRUSTED_CHAIN,
                detail=f"issuer {cert.issuer.hex()} of {_name(cert)} is not trusted or known",
            )
        if not issuer.is_ca:
            return _fail(f"issuer {_name(issuer.certificate)} of {_name(cert)} is no CA")
        complaint = _nesting(cert, issuer)
        if complaint is not None:
            return _fail(f"{_name(cert)}: {complaint}")
        if (
            cert.region is not None
            and issuer.region is not None
            and geo.within(cert.region, issuer.region) is None
        ):  # an identified region beside a geometric one: no boundaries to compare here
            self.counts["region_nesting_unchecked"] += 1
        if not is_canonical_certificate(cert):
            return _fail(
                f"{_name(cert)} is not in canonical COER (its bytes differ from its own "
                "re-encoding): a second digest for one certificate would slip past revocation"
            )
        if cert.signature is None or cert.signature.algorithm is not (
            issuer.certificate.verification_key.algorithm
        ):
            return _fail(f"{_name(cert)}: no signature in its issuer's algorithm")
        self.counts["links_verified"] += 1
        up = issuer.certificate
        if not self._verify(up.verification_key, cert.tbs_bytes, cert.signature, up):
            return _fail(f"{_name(cert)}: the issuer's signature does not verify")
        trusted = Trusted(
            certificate=cert,
            digest=digest,
            region=cert.region if cert.region is not None else issuer.region,
            depth=issuer.depth + 1,
            is_ca=bool(cert.issue_permissions),
            device=self._devices.get(digest),
        )
        self._put(trusted, pin=pin)
        return trusted

    def _put(self, trusted: Trusted, *, pin: bool) -> None:
        if pin:
            self._pinned[trusted.digest] = trusted
            return
        self._cache[trusted.digest] = trusted

    def forget(self, digests: Iterable[HashedId8]) -> None:
        """Drop cached certificates (not the trust list)."""
        for d in digests:
            self._cache.pop(d, None)


def _digest(cert: Certificate) -> HashedId8:
    if cert.digest is None:
        raise ValueError(f"certificate {_name(cert)} has no digest: decode it with security.codec")
    return cert.digest


def _fail(detail: str) -> ChainFailure:
    return ChainFailure(reason=DropReason.UNTRUSTED_CHAIN, detail=detail)


def _nesting(cert: Certificate, issuer: Trusted) -> str | None:
    """What of ``cert`` exceeds its issuer: validity, permissions, region; None if nothing."""
    up = issuer.certificate
    if cert.validity_start_ms < up.validity_start_ms or cert.validity_end_ms > up.validity_end_ms:
        return (
            f"validity {cert.validity_start_ms}..{cert.validity_end_ms} ms is not within its "
            f"issuer's {up.validity_start_ms}..{up.validity_end_ms} ms"
        )
    may_issue = _issuable(up)
    if may_issue is not None:
        wanted = {p.aid for p in cert.app_permissions}
        for perm in cert.issue_permissions:
            if perm.aids is None:
                return "may issue every AID, its issuer may not"
            wanted |= set(perm.aids)
        beyond = sorted(wanted - may_issue)
        if beyond:
            return f"AIDs {beyond} are beyond what its issuer may issue"
    if (
        cert.region is not None
        and issuer.region is not None
        and geo.within(cert.region, issuer.region) is False
    ):
        return "its region is not within its issuer's"
    return None


def _issuable(cert: Certificate) -> set[int] | None:
    """The AIDs ``cert`` may issue (None: any)."""
    out: set[int] = set()
    for perm in cert.issue_permissions:
        if perm.aids is None:
            return None
        out |= set(perm.aids)
    return out
