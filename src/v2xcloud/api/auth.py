"""Bearer-token roles: ``admin`` for writes, ``viewer`` for reads (when a viewer token is set)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, WebSocket, status

from v2xcloud.api.settings import ApiSettings

__all__ = ["require_admin", "require_viewer", "websocket_allowed"]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _matches(token: str | None, expected: str | None) -> bool:
    return token is not None and expected is not None and hmac.compare_digest(token, expected)


def _role(token: str | None, settings: ApiSettings) -> str | None:
    if _matches(token, settings.admin_token):
        return "admin"
    if settings.viewer_token is None or _matches(token, settings.viewer_token):
        return "viewer"
    return None


def require_viewer(request: Request) -> str:
    """Dependency for read endpoints; returns the caller's role or raises 401."""
    settings: ApiSettings = request.app.state.settings
    role = _role(_bearer(request), settings)
    if role is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a viewer or admin bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return role


def require_admin(request: Request) -> str:
    """Dependency for write/admin endpoints: 403 when disabled, 401 without the admin token."""
    settings: ApiSettings = request.app.state.settings
    if settings.admin_token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "write endpoints are disabled: set V2XCLOUD_ADMIN_TOKEN to enable them",
        )
    if not _matches(_bearer(request), settings.admin_token):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the admin bearer token is required for this endpoint",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "admin"


def websocket_allowed(websocket: WebSocket) -> bool:
    """Browsers cannot set headers on a WebSocket: the token may come as ``?token=``."""
    settings: ApiSettings = websocket.app.state.settings
    token = websocket.query_params.get("token")
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    return _role(token, settings) is not None
