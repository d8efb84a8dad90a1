"""API settings: tokens, CORS, stream back-pressure. No default token is ever shipped."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from v2xcloud.errors import ConfigError

__all__ = ["ApiSettings", "default_web_dir"]

_MIN_TOKEN_CHARS = 16


def default_web_dir() -> Path:
    """Where ``make web`` builds the dashboard: ``v2xcloud/web/dist`` inside the package."""
    return Path(__file__).resolve().parent.parent / "web" / "dist"


class ApiSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the API is exposed.

    ``admin_token``: bearer token for write/administrative endpoints; ``None`` disables them.
    ``viewer_token``: when set, reads need it (or the admin token); ``None`` leaves reads open.
    ``cors_origins``: origins allowed cross-site; empty (the default) means CORS is closed.
    ``stream_queue_frames``: frames buffered per WebSocket client before frames are dropped.
    ``stream_max_clients``: WebSocket stream clients served at once (more are closed, 1013).
    ``web_dir``: the built dashboard (``None`` serves no dashboard).
    ``max_body_bytes``: the largest request body accepted (larger ones get 413).
    """

    admin_token: str | None = None
    viewer_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    stream_queue_frames: int = 16
    stream_max_clients: int = 256
    trajectory_default_ms: int = 600_000
    web_dir: Path | None = None
    max_body_bytes: int = 65_536

    def __post_init__(self) -> None:
        for name in ("admin_token", "viewer_token"):
            token = getattr(self, name)
            if token is not None and len(token) < _MIN_TOKEN_CHARS:
                raise ConfigError(
                    f"{name} is too short ({len(token)} chars); use at least "
                    f"{_MIN_TOKEN_CHARS} random characters, e.g. `openssl rand -hex 24`"
                )
        if self.stream_queue_frames < 1:
            raise ConfigError("stream_queue_frames must be at least 1")
        if self.stream_max_clients < 1:
            raise ConfigError(
                f"stream_max_clients must be at least 1, got {self.stream_max_clients}"
            )
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be at least 1024, got {self.max_body_bytes}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ApiSettings:
        """Read ``V2XCLOUD_ADMIN_TOKEN``, ``V2XCLOUD_VIEWER_TOKEN``, ``V2XCLOUD_CORS_ORIGINS``
        (comma-separated); keyword ``overrides`` win."""
        env = os.environ if env is None else env
        origins = tuple(
            o.strip() for o in env.get("V2XCLOUD_CORS_ORIGINS", "").split(",") if o.strip()
        )
        values: dict[str, object] = {
            "admin_token": env.get("V2XCLOUD_ADMIN_TOKEN") or None,
            "viewer_token": env.get("V2XCLOUD_VIEWER_TOKEN") or None,
            "cors_origins": origins,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
