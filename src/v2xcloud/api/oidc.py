"""OIDC by configuration: an identity provider's JWT access tokens instead of local tokens.

``OidcSettings`` names the provider: ``issuer`` (the ``iss`` claim, exactly), ``audience``
(must be in ``aud``), ``jwks_url`` (its signing keys; Keycloak:
``{issuer}/protocol/openid-connect/certs``), the claim holding the role (a dotted path, e.g.
Keycloak's ``realm_access.roles``; a string or a list of strings) with a map from the
provider's role names to ours (the highest mapped one wins), and the claim holding the tenant
(``"*"`` is platform-wide). ``OidcVerifier.verify`` checks the signature with the key named
by the token's ``kid`` (PyJWT's ``PyJWKClient``: the key set is cached and re-fetched on an
unknown ``kid``), only the configured asymmetric algorithms, ``exp`` (required), ``nbf``,
``iss`` and ``aud``; any failure refuses the token, counted per reason in ``failures`` and
logged (``DEBUG``: a refused token is the caller's problem, and the log must not be a lever
for an attacker).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

import jwt
import msgspec

from v2xcloud.api.access import Principal, Role
from v2xcloud.errors import ConfigError

__all__ = ["OidcSettings", "OidcVerifier"]

logger = logging.getLogger(__name__)

_DEFAULT_ROLE_MAP = {"admin": "admin", "operator": "operator", "viewer": "viewer"}


class OidcSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Where an OIDC provider's tokens come from and how their claims map to role and tenant."""

    issuer: str
    audience: str
    jwks_url: str
    role_claim: str = "v2xcloud_role"
    tenant_claim: str = "tenant"
    role_map: dict[str, str] = msgspec.field(default_factory=lambda: dict(_DEFAULT_ROLE_MAP))
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")
    leeway_s: float = 30.0
    jwks_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("issuer", "audience", "jwks_url", "role_claim", "tenant_claim"):
            if not getattr(self, name):
                raise ConfigError(f"OIDC {name} is empty")
        if not self.jwks_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ConfigError(
                f"OIDC jwks_url {self.jwks_url!r}: use https:// (plain http only on loopback)"
            )
        bad = [v for v in self.role_map.values() if v not in {r.value for r in Role}]
        if bad:
            raise ConfigError(
                f"OIDC role_map maps to unknown roles {bad}; use admin/operator/viewer"
            )
        if any(a.startswith("HS") or a == "none" for a in self.algorithms):
            raise ConfigError("OIDC algorithms must be asymmetric (RS*, ES*, PS*, EdDSA)")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OidcSettings | None:
        """``V2XCLOUD_OIDC_ISSUER``, ``_AUDIENCE``, ``_JWKS_URL``, ``_ROLE_CLAIM``,
        ``_TENANT_CLAIM``, ``_ROLE_MAP`` (``provider=ours,...``); ``None`` without an issuer."""
        issuer = env.get("V2XCLOUD_OIDC_ISSUER", "").strip()
        if not issuer:
            return None
        values: dict[str, Any] = {
            "issuer": issuer,
            "audience": env.get("V2XCLOUD_OIDC_AUDIENCE", "").strip(),
            "jwks_url": env.get("V2XCLOUD_OIDC_JWKS_URL", "").strip(),
        }
        for key, name in (("ROLE_CLAIM", "role_claim"), ("TENANT_CLAIM", "tenant_claim")):
            if env.get(f"V2XCLOUD_OIDC_{key}", "").strip():
                values[name] = env[f"V2XCLOUD_OIDC_{key}"].strip()
        mapping = env.get("V2XCLOUD_OIDC_ROLE_MAP", "").strip()
        if mapping:
            pairs = [p.partition("=") for p in mapping.split(",") if p.strip()]
            if any(not sep for _, sep, _ in pairs):
                raise ConfigError(
                    f"V2XCLOUD_OIDC_ROLE_MAP {mapping!r}: write provider_role=ours,..."
                )
            values["role_map"] = {k.strip(): v.strip() for k, _, v in pairs}
        return cls(**values)


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


class OidcVerifier:
    """Verifies provider JWTs into principals; see the module docstring."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._keys = jwt.PyJWKClient(
            settings.jwks_url, cache_keys=True, lifespan=300, timeout=settings.jwks_timeout_s
        )
        self.failures: Counter[str] = Counter()
        self.accepted = 0

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid token, ``None`` (counted, logged) otherwise. Blocking: it
        may fetch the provider's key set (call it off the event loop)."""
        s = self.settings
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(s.algorithms),
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return self._refuse(type(exc).__name__, str(exc))
        role = self._role(_claim(claims, s.role_claim))
        if role is None:
            return self._refuse("no_role", f"claim {s.role_claim!r} maps to no role")
        tenant = _claim(claims, s.tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            return self._refuse("no_tenant", f"claim {s.tenant_claim!r} missing or not text")
        self.accepted += 1
        return Principal(role=role, tenant=tenant, via="oidc", subject=str(claims.get("sub", "")))

    def _role(self, value: Any) -> Role | None:
        names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        mapped = [
            Role(self.settings.role_map[n])
            for n in names
            if isinstance(n, str) and n in self.settings.role_map
        ]
        return max(mapped, key=lambda r: r.rank) if mapped else None

    def _refuse(self, reason: str, detail: str) -> Principal | None:
        self.failures[reason] += 1
        logger.debug("OIDC token refused (%s): %s", reason, detail)
        return None
