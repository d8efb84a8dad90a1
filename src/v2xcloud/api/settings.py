"""API settings: bootstrap tokens, OIDC, CORS, limits, stream back-pressure. No default token is
ever shipped."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from pathlib import Path

import msgspec

from v2xcloud.api.limits import ServerLimits
from v2xcloud.api.oidc import OidcSettings
from v2xcloud.errors import ConfigError

__all__ = ["ApiSettings", "default_web_dir"]

_MIN_TOKEN_CHARS = 16


def default_web_dir() -> Path:
    """Where ``make web`` builds the dashboard: ``v2xcloud/web/dist`` inside the package."""
    return Path(__file__).resolve().parent.parent / "web" / "dist"


class ApiSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the API is exposed.

    ``admin_token``: bootstrap token of the platform-wide admin (tenant ``*``); ``None``: none.
    ``viewer_token``: bootstrap token of a platform-wide viewer (what the dashboard is given).
    Reads are open to anonymous callers only while no viewer token, no OIDC provider and no
    live local token exists (``api.auth``).
    ``oidc``: an OIDC provider whose JWTs are accepted (``api.oidc``); ``None``: none.
    ``rate_per_s``/``rate_burst``: requests per second sustained / at once, per client
    (token or OIDC subject, else IP); ``/api/health`` is exempt. ``tenant_rate_per_s`` /
    ``tenant_rate_burst``: the same for all of a tenant's clients together.
    ``token_refresh_s``: how often the stored tokens are re-read (revocations by another
    process take effect within it).
    ``cors_origins``: origins allowed cross-site; empty (the default) means CORS is closed.
    ``stream_queue_frames``: frames buffered per WebSocket client before frames are dropped.
    ``stream_max_clients``: WebSocket stream clients served at once (more are closed, 1013).
    ``stream_send_timeout_s``: a stream client that has not taken a frame for this long (it
    does not read) is cut off; ``stream_client_msgs_per_s``: a client sending more messages
    than this (sustained; bursts of 5x) is cut off.
    ``web_dir``: the built dashboard (``None`` serves no dashboard).
    ``evaluations_dir``: where runs of ``v2xcloud evaluate --report`` are read from
    (``api.routes_evaluations``; ``None``: none).
    ``alarm_poll_s``: how often the alarm feed brings the alarm book in step with the
    platform (road events, device faults, misbehaviour).
    ``server``: the HTTP server's connection, time and size limits (``api.limits``).
    ``time_zone``: the district's IANA time zone (``Asia/Shanghai``), in which the console
    shows times; ``None``: the browser's.
    Request-size limits are per route, in ``access.RULES``.
    """

    admin_token: str | None = None
    viewer_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    stream_queue_frames: int = 16
    stream_max_clients: int = 256
    trajectory_default_ms: int = 600_000
    web_dir: Path | None = None
    oidc: OidcSettings | None = None
    rate_per_s: float = 50.0
    rate_burst: int = 200
    tenant_rate_per_s: float = 200.0
    tenant_rate_burst: int = 1000
    token_refresh_s: float = 2.0
    server: ServerLimits = msgspec.field(default_factory=ServerLimits)
    stream_send_timeout_s: float = 5.0
    stream_client_msgs_per_s: float = 20.0
    alarm_poll_s: float = 1.0
    evaluations_dir: Path | None = None
    time_zone: str | None = None

    def __post_init__(self) -> None:
        for name in ("admin_token", "viewer_token"):
            token = getattr(self, name)
            if token is not None and len(token) < _MIN_TOKEN_CHARS:
                raise ConfigError(
                    f"{name} is too short ({len(token)} chars); use at least "
                    f"{_MIN_TOKEN_CHARS} random characters, e.g. `openssl rand -hex 24`"
                )
        if not self.alarm_poll_s > 0:
            raise ConfigError(f"alarm_poll_s must be positive, got {self.alarm_poll_s}")
        if self.time_zone is not None:
            try:
                zoneinfo.ZoneInfo(self.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ConfigError(
                    f"time_zone {self.time_zone!r} is not an IANA time zone (e.g. Asia/Shanghai)"
                ) from exc
        if self.stream_queue_frames < 1:
            raise ConfigError("stream_queue_frames must be at least 1")
        if self.stream_max_clients < 1:
            raise ConfigError(
                f"stream_max_clients must be at least 1, got {self.stream_max_clients}"
            )
        if (
            min(self.rate_per_s, self.tenant_rate_per_s) <= 0
            or min(self.rate_burst, self.tenant_rate_burst) < 1
        ):
            raise ConfigError(
                "rate_per_s and tenant_rate_per_s must be > 0, rate_burst and "
                f"tenant_rate_burst >= 1 (got {self.rate_per_s}, {self.tenant_rate_per_s}, "
                f"{self.rate_burst}, {self.tenant_rate_burst})"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ApiSettings:
        """Read ``V2XCLOUD_ADMIN_TOKEN``, ``V2XCLOUD_VIEWER_TOKEN``, ``V2XCLOUD_CORS_ORIGINS``
        (comma-separated), ``V2XCLOUD_TIME_ZONE`` and ``V2XCLOUD_OIDC_*``
        (``OidcSettings.from_env``); keyword ``overrides`` win."""
        env = os.environ if env is None else env
        origins = tuple(
            o.strip() for o in env.get("V2XCLOUD_CORS_ORIGINS", "").split(",") if o.strip()
        )
        values: dict[str, object] = {
            "admin_token": env.get("V2XCLOUD_ADMIN_TOKEN") or None,
            "viewer_token": env.get("V2XCLOUD_VIEWER_TOKEN") or None,
            "cors_origins": origins,
            "time_zone": env.get("V2XCLOUD_TIME_ZONE") or None,
            "oidc": OidcSettings.from_env(env),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
