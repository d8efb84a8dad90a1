"""Message signing and verification, misbehaviour detection, device identity.

May import: ``model``, ``codec``.

``MisbehaviourDetector`` (``security.misbehaviour``) checks every self-report against the
sender's history, its neighbours and roadside perception, flags misbehaving senders and writes
``model.MisbehaviourReport``; the runtime calls it through its ``MisbehaviourScreen`` protocol
(wired in from ``cli``).
"""

from v2xcloud.security.misbehaviour import Coverage, MisbehaviourDetector

__all__ = ["Coverage", "MisbehaviourDetector"]
