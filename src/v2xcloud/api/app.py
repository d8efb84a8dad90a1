"""The FastAPI application factory: REST + WebSocket + the dashboard, from one process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from v2xcloud.api._schema import install_components
from v2xcloud.api.alarm_feed import AlarmFeed
from v2xcloud.api.auth import Authenticator
from v2xcloud.api.gate import AccessControl, AccessGate
from v2xcloud.api.live import LiveSource
from v2xcloud.api.oidc import OidcVerifier
from v2xcloud.api.operator_events import OperatorEvents
from v2xcloud.api.ratelimit import RateLimiter
from v2xcloud.api.routes_alarms import router as alarms_router
from v2xcloud.api.routes_dead_letters import router as dead_letters_router
from v2xcloud.api.routes_devices import DeviceDirectory
from v2xcloud.api.routes_devices import router as devices_router
from v2xcloud.api.routes_ev import EvFleetView
from v2xcloud.api.routes_ev import router as ev_router
from v2xcloud.api.routes_evaluations import router as evaluations_router
from v2xcloud.api.routes_history import router as history_router
from v2xcloud.api.routes_live import router as live_router
from v2xcloud.api.routes_misbehaviour import router as misbehaviour_router
from v2xcloud.api.routes_overview import router as overview_router
from v2xcloud.api.routes_security import router as security_router
from v2xcloud.api.routes_tokens import router as tokens_router
from v2xcloud.api.settings import ApiSettings
from v2xcloud.api.stream import StreamHub
from v2xcloud.api.tokens import TokenBook
from v2xcloud.errors import StoreError
from v2xcloud.runtime.alarms import AlarmBook
from v2xcloud.store import HistoryStore, HistoryWriter
from v2xcloud.store._sql_store import SqlHistoryStore
from v2xcloud.store.alarms import AlarmTable
from v2xcloud.store.audit import AuditTrail

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    *,
    live: LiveSource,
    store: HistoryStore,
    settings: ApiSettings,
    writer: HistoryWriter | None = None,
    devices: DeviceDirectory | None = None,
    tokens: TokenBook | None = None,
    audit: AuditTrail | None = None,
    alarms: AlarmBook | None = None,
    ev: EvFleetView | None = None,
) -> FastAPI:
    """Build the operator API over a live platform and a history store.

    REST under ``/api`` (OpenAPI at ``/docs``, its Swagger UI served from the built dashboard,
    never a CDN), the tick stream at ``/api/stream`` (WebSocket)
    and, when ``settings.web_dir`` holds a built dashboard, the dashboard at ``/``.
    The app subscribes to ``live`` while it runs and unsubscribes at shutdown. ``writer``
    (the ``HistoryWriter`` recording ``live``, if any) adds its counters to ``/api/stats``;
    ``devices`` (the platform service's registry and health) serves ``/api/devices``;
    ``ev`` (the live EV monitor of the in-process GB/T 32960 server) serves ``/api/ev``.
    ``tokens`` holds the local API tokens (default: a book over ``store``'s ``api_tokens``).
    Every request passes the access gate (``api.gate``, rules in ``api.access``) first;
    ``audit`` (the store's ``AuditTrail``) records every successful write and every refused
    credential.
    ``alarms`` is the platform's alarm book (default: one over ``store``'s ``alarms`` table);
    while the app runs an ``AlarmFeed`` keeps it in step with ``live`` and ``devices``
    (road events, device faults, misbehaviour) every ``settings.alarm_poll_s``.
    """
    book = (
        tokens if tokens is not None else TokenBook.over(store, refresh_s=settings.token_refresh_s)
    )
    oidc = OidcVerifier(settings.oidc) if settings.oidc is not None else None
    control = AccessControl(
        Authenticator(settings, book, oidc),
        RateLimiter(rate_per_s=settings.rate_per_s, burst=settings.rate_burst),
        audit,
        RateLimiter(rate_per_s=settings.tenant_rate_per_s, burst=settings.tenant_rate_burst),
    )
    table = AlarmTable(store) if isinstance(store, SqlHistoryStore) else None
    alarm_book = alarms if alarms is not None else AlarmBook(repository=table)
    feed = AlarmFeed(alarm_book, live, devices, period_s=settings.alarm_poll_s)
    hub = StreamHub(
        queue_frames=settings.stream_queue_frames,
        max_clients=settings.stream_max_clients,
        send_timeout_s=settings.stream_send_timeout_s,
        client_msgs_per_s=settings.stream_client_msgs_per_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        unsubscribe = live.subscribe(hub.publish)
        feed.start()
        try:
            yield
        finally:
            feed.stop()
            unsubscribe()
            if audit is not None:  # refused credentials still queued must reach the chain
                try:
                    audit.flush(timeout_s=10.0)
                except StoreError as exc:
                    logger.error("audit rows lost at API shutdown: %s", exc)

    app = FastAPI(
        title="v2xcloud operator API",
        version="1",
        description="Live scene, signals, advisories, history and platform health.",
        lifespan=lifespan,
        docs_url=None,  # /docs is ours (below): Swagger UI from the package, not from a CDN
        redoc_url=None,  # ReDoc only exists as a CDN script
    )
    app.state.live = live
    app.state.operator_events = OperatorEvents()
    app.state.store = store
    app.state.settings = settings
    app.state.hub = hub
    app.state.writer = writer
    app.state.devices = devices
    app.state.ev = ev
    app.state.tokens = book
    app.state.access = control
    app.state.alarms = alarm_book
    app.state.alarm_table = table
    app.state.alarm_feed = feed
    # nothing reaches a route unchecked; CORS (added after, so outside it) labels its answers
    app.add_middleware(AccessGate, control=control)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization"],
        )
    app.include_router(live_router, prefix="/api")
    app.include_router(history_router, prefix="/api")
    app.include_router(dead_letters_router, prefix="/api")
    app.include_router(misbehaviour_router, prefix="/api")
    app.include_router(devices_router, prefix="/api")
    app.include_router(ev_router, prefix="/api")
    app.include_router(tokens_router, prefix="/api")
    app.include_router(alarms_router, prefix="/api")
    app.include_router(overview_router, prefix="/api")
    app.include_router(evaluations_router, prefix="/api")
    app.include_router(security_router, prefix="/api")
    install_components(app)
    _add_docs(app, settings)
    _mount_dashboard(app, settings)
    return app


#: Swagger UI's files as ``make web`` copies them from the pinned ``swagger-ui-dist`` package
SWAGGER_DIR = "swagger-ui"


def _add_docs(app: FastAPI, settings: ApiSettings) -> None:
    """``/docs``: the OpenAPI page with Swagger UI's script and style served by this app (from
    the built dashboard's ``swagger-ui/``), so it works with no internet."""
    web_dir = settings.web_dir
    built = web_dir is not None and (web_dir / SWAGGER_DIR / "swagger-ui-bundle.js").is_file()
    redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if not built:
            return HTMLResponse(
                "<!doctype html><title>API docs</title><p>The API docs page is not built: run "
                "<code>make web</code>. The schema itself is at "
                '<a href="/openapi.json">/openapi.json</a>.</p>'
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API docs",
            oauth2_redirect_url=redirect,
            swagger_js_url=f"/{SWAGGER_DIR}/swagger-ui-bundle.js",
            swagger_css_url=f"/{SWAGGER_DIR}/swagger-ui.css",
            swagger_favicon_url="data:,",
        )

    @app.get(redirect, include_in_schema=False)
    def docs_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def _mount_dashboard(app: FastAPI, settings: ApiSettings) -> None:
    web_dir = settings.web_dir
    if web_dir is not None and (web_dir / "index.html").is_file():
        app.mount("/", StaticFiles(directory=web_dir, html=True), name="dashboard")
        return

    @app.get("/", include_in_schema=False)
    def no_dashboard() -> PlainTextResponse:
        return PlainTextResponse(
            "dashboard not built: run `make web` (the API is at /api, its schema at /docs)",
            status_code=404,
        )
