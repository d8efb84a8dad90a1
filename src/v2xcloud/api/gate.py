"""The access gate: every request is matched to its route's rule, authenticated, authorised,
rate-limited and size-checked BEFORE a byte of its body is read.

``AccessGate`` is a pure ASGI middleware in front of the whole app (dashboard included). Per
HTTP request or WebSocket handshake it

1. finds the route the app would run (the app's own route table, so the path template is
   exact) and its ``access.Rule`` — a route without a rule is refused with 403 and logged as
   a programming error (the access-matrix test fails on it first);
2. authenticates the bearer token from the headers (``?token=`` for a WebSocket): bootstrap
   and local tokens inline (a hash and a dict look-up), OIDC JWTs on a worker thread (the key
   set may have to be fetched); a bad token is 401 (audited; a client over its rate gets 429
   instead);
3. checks the role (401 without a credential, 403 with the wrong one) and, for
   platform-only routes, the platform tenant (403);
4. takes one request from the client's rate bucket (token/subject, else IP) and from its
   tenant's (429 with ``Retry-After`` when either is empty);
5. refuses a declared ``Content-Length`` over the rule's ``max_body`` with 413;
6. passes the request on with the ``Principal`` in the scope (``auth.SCOPE_KEY``) and, for a
   body without a length (chunked), counts it as it arrives and answers 413 the moment it
   passes the limit (the app is told the client went away).

Refusals of a request that still has a body coming carry ``Connection: close``, so the server
drops the connection instead of reading the rest. Everything refused is counted
(``AccessControl.stats()``, in ``/api/stats`` as ``access``).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import anyio.to_thread
import msgspec
from fastapi.routing import iter_route_contexts
from starlette.routing import Match, Mount, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from v2xcloud.api.access import Principal, Rule, rule_for
from v2xcloud.api.auth import SCOPE_KEY, Authenticator, bearer_token
from v2xcloud.api.ratelimit import RateLimiter
from v2xcloud.api.tokens import wall_clock_ms
from v2xcloud.bounded import LruTable
from v2xcloud.errors import ConfigError, StoreError
from v2xcloud.store.audit import AuditTrail

__all__ = ["AccessControl", "AccessGate", "flat_routes"]

logger = logging.getLogger(__name__)

_UNMATCHED = Rule(role=None)  # no route: the app answers 404/405 itself; no body accepted


class AccessControl:
    """What the gate needs and what it counts: the authenticator, the rate limiter and the
    audit trail every successful write and every refused credential is recorded in.
    ``limiter`` buckets each client (token/subject, else IP); ``tenant_limiter`` each tenant
    (all of a tenant's clients together; platform-wide callers are not tenant-limited)."""

    def __init__(
        self,
        authenticator: Authenticator,
        limiter: RateLimiter,
        audit: AuditTrail | None = None,
        tenant_limiter: RateLimiter | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.limiter = limiter
        self.tenant_limiter = tenant_limiter
        self.audit = audit
        self.refused: Counter[str] = Counter()
        self.passed = 0
        self.audited = 0
        self.audit_failures = 0
        # who called lately (``api.routes_security``'s sessions), bounded like every per-id table
        self.callers: LruTable[str, dict[str, Any]] = LruTable(limit=1000, name="api callers")

    def seen(self, principal: Principal, path: str) -> None:
        """Note a caller that passed the gate: first and last time, requests, last path."""
        key = f"{principal.via}:{principal.subject}@{principal.tenant}"
        now_ms = wall_clock_ms()
        found = self.callers.get(key)
        if found is None:
            found = {
                "caller": key,
                "via": principal.via,
                "subject": principal.subject,
                "tenant": principal.tenant,
                "role": principal.role.value,
                "first_ms": now_ms,
                "requests": 0,
            }
        found["last_ms"] = now_ms
        found["last_path"] = path
        found["requests"] += 1
        self.callers[key] = found  # a write: keeps the most recent callers

    def stats(self) -> dict[str, Any]:
        """Requests passed, refused per cause, rate-limit table size, OIDC refusals."""
        oidc = self.authenticator.oidc
        return {
            "passed": self.passed,
            "refused": dict(self.refused),
            "rate_limited_clients": len(self.limiter),
            "rate_limit_evicted": self.limiter.evicted,
            "oidc_refused": dict(oidc.failures) if oidc is not None else {},
            "tokens_persistent": self.authenticator.book.is_persistent,
            "audited": self.audited,
            "audit_failures": self.audit_failures,
        }

    async def record(
        self, actor: str, action: str, target: str, tenant: str, detail: dict[str, Any]
    ) -> None:
        """Append to the audit trail before the request is answered, off the event loop (an
        authenticated write); a failure is counted and logged (the write has happened)."""
        audit = self.audit
        if audit is None:
            return

        def append() -> None:
            audit.record(actor, action, target, tenant=tenant, detail=detail, at_ms=wall_clock_ms())

        try:
            await anyio.to_thread.run_sync(append)
            self.audited += 1
        except (StoreError, ConfigError) as exc:
            self.audit_failures += 1
            logger.error("audit trail: %s %s by %s not recorded: %s", action, target, actor, exc)

    def submit(
        self, actor: str, action: str, target: str, tenant: str, detail: dict[str, Any]
    ) -> None:
        """Queue for the audit trail without waiting: what anyone can trigger at any rate (a
        refused credential) must not hold a thread or the loop; the trail bounds and counts."""
        if self.audit is None:
            return
        try:
            self.audit.submit(
                actor, action, target, tenant=tenant, detail=detail, at_ms=wall_clock_ms()
            )
            self.audited += 1
        except ConfigError as exc:
            self.audit_failures += 1
            logger.error("audit trail: %s %s by %s not queued: %s", action, target, actor, exc)


class AccessGate:
    """The ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, *, control: AccessControl) -> None:
        self.app = app
        self.control = control
        self._routes: list[Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        is_ws = kind == "websocket"
        method = "WS" if is_ws else scope["method"]
        if self._routes is None:  # the app's routes are complete once it serves
            self._routes = flat_routes(scope["app"])
        found = _route_path(scope, self._routes)
        template = scope.get("path", "")
        if found is None:
            rule = _UNMATCHED
        else:
            method, template = found[0] or method, found[1]
            ruled = rule_for(method, template)
            if ruled is None:
                logger.error(
                    "no access rule for %s %s: refused (add it to access.RULES)", method, template
                )
                await self._refuse(
                    scope, receive, send, 403, "no_rule", f"no access rule for {method} {template}"
                )
                return
            rule = ruled
        headers = scope.get("headers") or []
        declared = _content_length(headers)
        principal, failure = await self._authenticate(scope, headers, is_ws)
        if failure is not None:
            if not self.control.limiter.allow(_client_key(scope, None)):
                await self._refuse(  # a guessing client: refused, counted, not audited each time
                    scope,
                    receive,
                    send,
                    429,
                    "client_rate",
                    "too many requests from this client; slow down",
                    extra=[(b"retry-after", str(self.control.limiter.retry_after_s()).encode())],
                )
                return
            client = _client_ip(scope)
            self.control.refused["bad_token"] += 1
            logger.warning("API credential refused from %s: %s", client, failure)
            self.control.submit(
                f"client:{client}",
                "api.login_refused",
                f"{method} {template}",
                "",
                {"reason": failure},
            )
            await self._refuse(scope, receive, send, 401, "bad_token", failure, counted=True)
            return
        if rule.role is not None:
            denied = self._denied(rule, principal, method, template)
            if denied is not None:
                status, why, detail = denied
                await self._refuse(scope, receive, send, status, why, detail)
                return
        if rule.rate_limited:
            over = self._over_rate(scope, principal)
            if over is not None:
                why, limiter = over
                await self._refuse(
                    scope,
                    receive,
                    send,
                    429,
                    why,
                    "too many requests from this "
                    + ("tenant" if why == "tenant_rate" else "client")
                    + "; slow down",
                    extra=[(b"retry-after", str(limiter.retry_after_s()).encode())],
                )
                return
        if not is_ws and declared is not None and declared > rule.max_body:
            await self._refuse(
                scope,
                receive,
                send,
                413,
                "too_large",
                f"request body too large: {declared} bytes for {method} {template}, "
                f"the limit is {rule.max_body}",
            )
            return
        scope[SCOPE_KEY] = principal
        self.control.passed += 1
        if principal is not None:
            self.control.seen(principal, str(scope.get("path", "")))
        if rule.audit is not None and principal is not None:
            send = self._audited(scope, send, rule.audit, principal)
        if is_ws or declared is not None:
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, rule.max_body)

    def _audited(self, scope: Scope, send: Send, action: str, principal: Principal) -> Send:
        """``send`` that records a successful write in the audit trail before answering."""

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                await self.control.record(
                    f"{principal.via}:{principal.subject}",
                    action,
                    str(scope.get("path", "")),
                    principal.tenant,
                    {
                        "method": scope.get("method"),
                        "status": message["status"],
                        "client": _client_ip(scope),
                    },
                )
            await send(message)

        return audited_send

    def _over_rate(
        self, scope: Scope, principal: Principal | None
    ) -> tuple[str, RateLimiter] | None:
        """The bucket that is empty — the client's, else its tenant's — or ``None``."""
        control = self.control
        if not control.limiter.allow(_client_key(scope, principal)):
            return "client_rate", control.limiter
        tenants = control.tenant_limiter
        if (
            tenants is not None
            and principal is not None
            and not principal.is_platform
            and not tenants.allow(f"tenant:{principal.tenant}")
        ):
            return "tenant_rate", tenants
        return None

    async def _authenticate(
        self, scope: Scope, headers: list[tuple[bytes, bytes]], is_ws: bool
    ) -> tuple[Principal | None, str | None]:
        auth = self.control.authenticator
        token = bearer_token(headers, scope.get("query_string", b"") if is_ws else b"")
        if token is None:
            return auth.anonymous(), None
        principal = auth.local(token)
        if principal is None and auth.wants_oidc(token):
            oidc = auth.oidc
            assert oidc is not None
            principal = await anyio.to_thread.run_sync(oidc.verify, token)
        if principal is None:
            return None, "invalid, expired or revoked token (Authorization: Bearer <token>)"
        return principal, None

    def _denied(
        self, rule: Rule, principal: Principal | None, method: str, template: str
    ) -> tuple[int, str, str] | None:
        assert rule.role is not None
        anonymous = principal is None or principal.via == "open"
        if anonymous and (principal is None or not principal.role.includes(rule.role)):
            if not self.control.authenticator.has_writers() and rule.role.rank > 0:
                return (
                    403,
                    "disabled",
                    (
                        "write endpoints are disabled: no credential can write; set "
                        "V2XCLOUD_ADMIN_TOKEN or create a token with `v2xcloud token create`"
                    ),
                )
            return (
                401,
                "no_token",
                (
                    f"{method} {template} needs a {rule.role.value} credential "
                    "(Authorization: Bearer <token>)"
                ),
            )
        assert principal is not None
        if not principal.role.includes(rule.role):
            return (
                403,
                "role",
                (
                    f"{method} {template} needs the {rule.role.value} role; "
                    f"this credential is {principal.role.value}"
                ),
            )
        if rule.platform_only and not principal.is_platform:
            return (
                403,
                "platform_only",
                (
                    f"{method} {template} is for the platform's own admin (tenant '*'), "
                    f"not tenant {principal.tenant!r}"
                ),
            )
        return None

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        started = refused = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await self._refuse(
                            scope,
                            receive,
                            send,
                            413,
                            "too_large",
                            f"request body too large: {seen}+ bytes, the limit is {limit}",
                        )
                    return {"type": "http.disconnect"}  # the app stops; its answer is dropped
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, tracked_send)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        why: str,
        detail: str,
        extra: list[tuple[bytes, bytes]] | None = None,
        counted: bool = False,
    ) -> None:
        if not counted:
            self.control.refused[why] += 1
        if why not in ("bad_token", "no_rule"):
            logger.info(
                "%s %s refused %d (%s)", scope.get("method", "WS"), scope.get("path"), status, why
            )
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect event
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        body = msgspec.json.encode({"detail": detail})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *(extra or []),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        if _has_body(scope):
            headers.append((b"connection", b"close"))  # do not read what is still coming
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def flat_routes(app: Any) -> list[Any]:
    """Every route of ``app`` with its full path, included routers flattened
    (``fastapi.routing.iter_route_contexts``): the table the gate matches against."""
    return list(iter_route_contexts(app.router.routes))


def _route_path(scope: Scope, routes: list[Any]) -> tuple[str | None, str] | None:
    """``(method key, path template)`` of the route that will serve ``scope`` — the method key
    is ``"MOUNT"`` for the dashboard's static mount, else ``None`` (the request's own) — or
    ``None`` when no route matches (the app answers 404/405 itself)."""
    for route in routes:
        original = route.original_route
        if scope["type"] == "websocket" and not isinstance(original, WebSocketRoute):
            continue
        match, _ = route.matches(scope)
        if match is Match.FULL:
            if isinstance(original, Mount):
                return "MOUNT", "/"
            return None, str(route.path)
    return None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"content-length" and value.strip() not in (b"0", b""):
            return True
        if name == b"transfer-encoding":
            return True
    return False


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _client_key(scope: Scope, principal: Principal | None) -> str:
    if principal is not None and principal.via in ("token", "oidc"):
        return f"{principal.via}:{principal.subject}"
    return f"ip:{_client_ip(scope)}"
