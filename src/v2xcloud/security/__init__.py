"""Message signing and verification, misbehaviour detection, device identity.

May import: ``model``, ``codec``.
"""

__all__: list[str] = []
