"""Who is calling: a bearer token (bootstrap, local or OIDC) → a ``Principal``.

Sources, tried by the token's shape: the bootstrap tokens of the settings
(``V2XCLOUD_ADMIN_TOKEN`` → platform-wide ``admin``, ``V2XCLOUD_VIEWER_TOKEN`` → platform-wide
``viewer``; compared in constant time), local tokens (``v2x_...``, ``api.tokens.TokenBook``)
and, when configured, an OIDC provider's JWTs (``api.oidc``). Without any credential a caller
is anonymous; anonymous reads are allowed (as a platform-wide viewer, ``via="open"``) only
while NO read credential exists at all — no viewer token, no OIDC provider, no live local
token — the lab set-up of a fresh install. Routes get the caller with the ``Caller``
dependency, which reads what the access gate (``api.gate``) established.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from v2xcloud.api.access import PLATFORM, Principal, Role
from v2xcloud.api.oidc import OidcVerifier
from v2xcloud.api.settings import ApiSettings
from v2xcloud.api.tokens import PREFIX, TokenBook

__all__ = ["SCOPE_KEY", "Authenticator", "Caller", "bearer_token", "caller"]

SCOPE_KEY = "v2xcloud.principal"
"""Where the access gate leaves the caller's ``Principal`` in the ASGI scope."""

_OPEN = Principal(role=Role.VIEWER, tenant=PLATFORM, via="open", subject="anonymous")


def bearer_token(headers: list[tuple[bytes, bytes]], query: bytes = b"") -> str | None:
    """The token of ``Authorization: Bearer <token>``, or (WebSocket: browsers cannot set
    headers) of the ``token=`` query parameter; ``None`` when there is none."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    if query:
        from urllib.parse import parse_qs

        found = parse_qs(query.decode("latin-1")).get("token")
        if found and found[0]:
            return found[0]
    return None


class Authenticator:
    """Maps a presented token to a principal; see the module docstring."""

    def __init__(
        self, settings: ApiSettings, book: TokenBook, oidc: OidcVerifier | None = None
    ) -> None:
        self.settings = settings
        self.book = book
        self.oidc = oidc

    def is_open(self) -> bool:
        """Whether anonymous callers may read (no read credential configured at all)."""
        return (
            self.settings.viewer_token is None and self.oidc is None and not self.book.has_tokens()
        )

    def has_writers(self) -> bool:
        """Whether any credential could write (else writes are disabled, 403)."""
        return (
            self.settings.admin_token is not None
            or self.oidc is not None
            or (self.book.has_tokens())
        )

    def anonymous(self) -> Principal | None:
        """The principal of a caller without a token: open reads, or ``None``."""
        return _OPEN if self.is_open() else None

    def local(self, token: str) -> Principal | None:
        """Bootstrap or local token → principal (cheap, never blocks); ``None`` if neither."""
        if _matches(token, self.settings.admin_token):
            return Principal(role=Role.ADMIN, tenant=PLATFORM, via="bootstrap", subject="admin")
        if _matches(token, self.settings.viewer_token):
            return Principal(role=Role.VIEWER, tenant=PLATFORM, via="bootstrap", subject="viewer")
        if token.startswith(PREFIX):
            return self.book.authenticate(token)
        return None

    def wants_oidc(self, token: str) -> bool:
        """Whether ``token`` should go to the OIDC provider (configured; shaped like a JWT)."""
        return self.oidc is not None and not token.startswith(PREFIX) and token.count(".") == 2


def _matches(token: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(token.encode(), expected.encode())


def caller(request: Request) -> Principal:
    """Dependency: the caller the access gate established (401 if it established none)."""
    found = request.scope.get(SCOPE_KEY)
    if not isinstance(found, Principal):
        raise HTTPException(401, "no credential established for this request")
    return found


Caller = Annotated[Principal, Depends(caller)]
"""Route parameter type: the calling ``Principal``."""
