"""Chain validation in the trust store: anchors, links checked once, nesting rules, revocation,
the bounded certificate cache."""

from __future__ import annotations

import pytest

from v2xcloud.model import DropReason
from v2xcloud.security import crypto
from v2xcloud.security.pki import CHINA, issue_certificate
from v2xcloud.security.trust import ChainFailure, Trusted, TrustStore
from v2xcloud.security.types import (
    Certificate,
    CircularRegion,
    GeoPoint,
    SecurityProfile,
    SignatureAlgorithm,
)
from v2xcloud.security.verify import link_verify

from ._pki import PKI_MS

H = 3_600_000
START, END = PKI_MS, PKI_MS + 1000 * H
CHANGSHA = CircularRegion(center=GeoPoint(28.19, 112.97), radius_m=30_000)


@pytest.fixture(params=list(SecurityProfile))
def profile(request: pytest.FixtureRequest) -> SecurityProfile:
    return request.param  # type: ignore[no-any-return]


def _algorithm(profile: SecurityProfile) -> SignatureAlgorithm:
    return (
        SignatureAlgorithm.SM2_SM3
        if profile is SecurityProfile.CN
        else (SignatureAlgorithm.ECDSA_P256_SHA256)
    )


class _Ca:
    """A root and a CA under it, with keys, to issue test certificates from."""

    def __init__(self, profile: SecurityProfile) -> None:
        self.profile = profile
        alg = _algorithm(profile)
        self.root_key = crypto.generate_signer(alg)
        self.root = issue_certificate(
            profile=profile, name="root", subject=self.root_key, issuer=None, start_ms=START,
            end_ms=END, region=CHINA, issue_aids=(32, 130), chain_length_range=1,
        )  # fmt: skip
        self.ca_key = crypto.generate_signer(alg)
        self.ca = self.issue(
            "ca", (self.root, self.root_key), key=self.ca_key, issue_aids=(32,), region=None
        )  # its region: the root's, inherited

    def issue(
        self,
        name: str,
        issuer: tuple[Certificate, crypto.Signer] | None = None,
        *,
        key: crypto.Signer | None = None,
        start: int = START + H,
        end: int = END - H,
        region: CircularRegion | None = CHANGSHA,
        aids: tuple[int, ...] = (),
        issue_aids: tuple[int, ...] | None = None,
    ) -> Certificate:
        return issue_certificate(
            profile=self.profile, name=name,
            subject=key or crypto.generate_signer(_algorithm(self.profile)),
            issuer=issuer or (self.ca, self.ca_key), start_ms=start, end_ms=end, region=region,
            aids=aids, issue_aids=issue_aids,
        )  # fmt: skip

    def store(self, capacity: int = 100) -> TrustStore:
        alg = _algorithm(self.profile)
        store = TrustStore(verify=link_verify({alg: crypto.Verifier(alg)}), cache_capacity=capacity)
        store.add_anchor(self.root)
        return store


def _fails(result: Trusted | ChainFailure, reason: DropReason, words: str) -> None:
    assert isinstance(result, ChainFailure), result
    assert result.reason is reason and words in result.detail, result.detail


def test_a_chain_is_learned_once(profile: SecurityProfile) -> None:
    ca = _Ca(profile)
    store = ca.store()
    leaf = ca.issue("obu", aids=(32,))
    trusted = store.learn([leaf, ca.ca], at_ms=START + 2 * H)
    assert isinstance(trusted, Trusted) and trusted.depth == 2 and trusted.region == CHANGSHA
    assert store.stats()["links_verified"] == 2
    assert store.learn([leaf, ca.ca], at_ms=START + 2 * H) == trusted
    assert store.stats()["links_verified"] == 2  # nothing verified twice
    inherits = ca.issue("no-region", aids=(32,), region=None)
    found = store.learn([inherits], at_ms=START + 2 * H)
    assert isinstance(found, Trusted) and found.region == CHINA  # the CA's region, inherited


def test_anchors_must_be_self_signed_and_verify(profile: SecurityProfile) -> None:
    ca = _Ca(profile)
    store = ca.store()
    with pytest.raises(ValueError, match="not self-signed"):
        store.add_anchor(ca.ca)
    forged = Certificate(**{**{f: getattr(ca.root, f) for f in ca.root.__struct_fields__},
                            "tbs_bytes": ca.root.tbs_bytes + b"x"})  # fmt: skip
    with pytest.raises(ValueError, match="does not verify"):
        store.add_anchor(forged)


def test_unknown_issuer_and_a_forged_link(profile: SecurityProfile) -> None:
    ca = _Ca(profile)
    store = ca.store()
    leaf = ca.issue("obu", aids=(32,))
    _fails(store.learn([leaf], at_ms=START + 2 * H), DropReason.UNTRUSTED_CHAIN, "not trusted")
    assert store.learn([ca.ca], at_ms=START + 2 * H)
    impostor = ca.issue("obu", (ca.ca, crypto.generate_signer(_algorithm(profile))), aids=(32,))
    _fails(
        store.learn([impostor], at_ms=START + 2 * H), DropReason.UNTRUSTED_CHAIN, "does not verify"
    )


def test_nesting_rules(profile: SecurityProfile) -> None:
    ca = _Ca(profile)
    store = ca.store()
    store.add_intermediate(ca.ca, at_ms=START + 2 * H)
    at = START + 2 * H
    too_long = ca.issue("long", aids=(32,), end=END + H)
    _fails(store.learn([too_long], at_ms=at), DropReason.UNTRUSTED_CHAIN, "validity")
    wrong_aid = ca.issue("rsi", aids=(131,))
    _fails(store.learn([wrong_aid], at_ms=at), DropReason.UNTRUSTED_CHAIN, "AIDs [131]")
    far = ca.issue(
        "far", aids=(32,), region=CircularRegion(center=GeoPoint(48.8, 2.3), radius_m=10)
    )
    _fails(store.learn([far], at_ms=at), DropReason.UNTRUSTED_CHAIN, "region")
    leaf_key = crypto.generate_signer(_algorithm(profile))
    leaf = ca.issue("leaf", aids=(32,), key=leaf_key)
    assert isinstance(store.learn([leaf], at_ms=at), Trusted)
    grandchild = ca.issue("grand", (leaf, leaf_key), aids=(32,))
    _fails(store.learn([grandchild], at_ms=at), DropReason.UNTRUSTED_CHAIN, "is no CA")


def test_revocation_reaches_down_the_chain(profile: SecurityProfile) -> None:
    ca = _Ca(profile)
    store = ca.store()
    leaf = ca.issue("obu", aids=(32,))
    trusted = store.learn([leaf, ca.ca], at_ms=START + 2 * H)
    assert isinstance(trusted, Trusted)
    store.revoke(ca.ca.digest, at_ms=START + 3 * H)  # type: ignore[arg-type]
    assert store.not_revoked(trusted, START + 3 * H - 1) == trusted
    _fails(store.not_revoked(trusted, START + 3 * H), DropReason.REVOKED, ca.ca.digest.hex())  # type: ignore[union-attr]


def test_cache_is_bounded(profile: SecurityProfile) -> None:
    ca = _Ca(profile)
    store = ca.store(capacity=2)
    store.add_intermediate(ca.ca, at_ms=START + 2 * H)
    leaves = [ca.issue(f"obu-{i}", aids=(32,)) for i in range(3)]
    for leaf in leaves:
        assert isinstance(store.learn([leaf], at_ms=START + 2 * H), Trusted)
    stats = store.stats()
    assert (stats["cached"], stats["evicted"], stats["trust_list"]) == (2, 1, 2)
    assert store.lookup(leaves[0].digest) is None  # type: ignore[arg-type]
    assert store.lookup(ca.ca.digest) is not None  # type: ignore[arg-type]  # pinned
