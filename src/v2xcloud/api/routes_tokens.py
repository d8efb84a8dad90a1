"""API tokens through the API: create (the token is in the answer, once), list, revoke.

A tenant's admin manages its own tenant's tokens (any role up to ``admin``); the platform's
admin (tenant ``*``) those of every tenant, platform-wide ones included. Listings never show
a token or its digest, only its id, role, tenant, label, creator and times. A token of
another tenant is 404 to a tenant's admin.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Request, Response

from v2xcloud.api._common import json_response
from v2xcloud.api.access import Principal, Role
from v2xcloud.api.auth import Caller
from v2xcloud.api.tokens import TokenBook
from v2xcloud.errors import ConfigError
from v2xcloud.store.tokens import TokenRecord

__all__ = ["TokenRequest", "router", "token_view"]

router = APIRouter()


class TokenRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/tokens`` body: role, tenant (default: the caller's), label, lifetime in
    days (``null``: no expiry; default 90)."""

    role: Role
    tenant: str | None = None
    label: str = ""
    ttl_days: float | None = 90.0


def token_view(record: TokenRecord) -> dict[str, Any]:
    """A token as listed: everything but its digest."""
    return {
        "token_id": record.token_id,
        "role": record.role,
        "tenant": record.tenant,
        "label": record.label,
        "created_by": record.created_by,
        "created_ms": record.created_ms,
        "expires_ms": record.expires_ms,
        "revoked_ms": record.revoked_ms,
    }


def _book(request: Request) -> TokenBook:
    book: TokenBook = request.app.state.tokens
    return book


def _who(caller: Principal) -> str:
    return f"{caller.via}:{caller.subject}@{caller.tenant}"


@router.get("/tokens", tags=["admin"])
def list_tokens(request: Request, caller: Caller) -> Response:
    """The caller's tenant's tokens (all tokens for the platform's admin), oldest first."""
    tenant = None if caller.is_platform else caller.tenant
    return json_response([token_view(r) for r in _book(request).list(tenant)])


@router.post("/tokens", tags=["admin"], status_code=201)
async def create_token(request: Request, caller: Caller) -> Response:
    """Create a token; the answer holds it (``token``) — the only time it is shown."""
    try:
        wanted = msgspec.json.decode(await request.body(), type=TokenRequest)
    except msgspec.DecodeError as exc:
        raise HTTPException(422, f"token request: {exc}") from exc
    tenant = wanted.tenant if wanted.tenant is not None else caller.tenant
    if not caller.sees(tenant) or (tenant == "*" and not caller.is_platform):
        raise HTTPException(
            403, f"tenant {caller.tenant!r} cannot create tokens of tenant {tenant!r}"
        )
    try:
        token, record = _book(request).create(
            role=wanted.role,
            tenant=tenant,
            label=wanted.label,
            created_by=_who(caller),
            ttl_days=wanted.ttl_days,
        )
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from exc
    return json_response({"token": token, **token_view(record)}, status_code=201)


@router.delete("/tokens/{token_id}", tags=["admin"])
def revoke_token(request: Request, caller: Caller, token_id: str) -> Response:
    """Revoke a token at once (404 when unknown or of another tenant)."""
    book = _book(request)
    found = book.get(token_id)
    if found is None or not caller.sees(found.tenant):
        raise HTTPException(404, f"token {token_id!r} not found")
    return json_response(token_view(book.revoke(token_id)))
