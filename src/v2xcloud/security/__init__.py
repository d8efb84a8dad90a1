"""Message signing and verification, misbehaviour detection, device identity.

May import: ``model``, ``codec``.

``MisbehaviourDetector`` (``security.misbehaviour``) checks every self-report against the
sender's history, its neighbours and roadside perception, flags misbehaving senders and writes
``model.MisbehaviourReport``; the runtime calls it through its ``MisbehaviourScreen`` protocol
(wired in from ``cli``).

``security.codec`` reads and writes the secured data unit and the certificate in COER from the
project's own ASN.1 of both profiles (``security/asn1/cn``: YD/T 3957 / GB/T 45112, SM2/SM3;
``security/asn1/intl``: IEEE 1609.2 / ETSI TS 103 097, ECDSA-P256/SHA-256) into the domain
types of ``security.types`` (``SignedFrame``, ``Certificate``, ``HashedId8``, ...).

The receive side of signed frames: ``security.verify.SecurityStage`` (the runtime's
``FrameGuard``, wired in by ``serve --pki``) runs the receiver checks — policy per device kind,
algorithm, freshness (``replay.ReplayWindow`` for replays), signer and chain
(``trust.TrustStore``: anchors, CAs, revocation list, certificate cache), validity, AID
(``aid``), region (``region``) and the signature (``crypto``) — over frames decoded by
``codec``, each refusal with its one ``model.DropReason``. ``pki`` makes and reads a test PKI,
``signing.FrameSigner`` signs frames as one of its devices. What exactly a signature covers
(IEEE 1609.2's hash of the data and of the signer's certificate; for ``cn`` the SM2 user id
from the signer's certificate) is ``sig_input``'s one rule, used by every signer and verifier.
"""

from v2xcloud.security.misbehaviour import Coverage, MisbehaviourDetector

__all__ = ["Coverage", "MisbehaviourDetector"]
