"""OIDC by configuration, against a fake issuer the test runs on 127.0.0.1: its JWKS is served
over HTTP, its tokens signed by an RSA key the test makes. Valid tokens map to role and
tenant (Keycloak-style ``realm_access.roles``); expired, wrong audience, wrong issuer, bad
signature, unknown key, symmetric (``HS256``) and role-less tokens are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import Role
from v2xcloud.api.oidc import OidcSettings, OidcVerifier
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.errors import ConfigError
from v2xcloud.store import DuckDbStore

from .conftest import T0

ISSUER = "http://127.0.0.1/realms/v2x"
AUDIENCE = "v2xcloud-api"


class Issuer:
    """A JWKS endpoint on 127.0.0.1 and the key that signs its tokens."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [public | {"kid": "k1", "use": "sig", "alg": "RS256"}]}
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                body = json.dumps(issuer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def token(self, *, key: Any = None, kid: str = "k1", alg: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-7",
            "iat": now,
            "exp": now + 300,
            "realm_access": {"roles": ["offline_access", "v2x-operator"]},
            "tenant": "north",
        } | claims
        return jwt.encode(
            body, key if key is not None else self.key, algorithm=alg, headers={"kid": kid}
        )


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _hs256(rs_token: str, secret: bytes) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    _, payload, _ = rs_token.split(".")
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    mac = hmac.new(secret, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{b64(mac)}"


def _settings(issuer: Issuer) -> OidcSettings:
    return OidcSettings.from_env(
        {
            "V2XCLOUD_OIDC_ISSUER": ISSUER,
            "V2XCLOUD_OIDC_AUDIENCE": AUDIENCE,
            "V2XCLOUD_OIDC_JWKS_URL": issuer.url,
            "V2XCLOUD_OIDC_ROLE_CLAIM": "realm_access.roles",
            "V2XCLOUD_OIDC_ROLE_MAP": "v2x-admin=admin,v2x-operator=operator,v2x-viewer=viewer",
        }
    )  # type: ignore[return-value]


def test_valid_tokens_map_to_role_and_tenant(issuer: Issuer) -> None:
    verifier = OidcVerifier(_settings(issuer))
    found = verifier.verify(issuer.token())
    assert found is not None and found.role is Role.OPERATOR and found.tenant == "north"
    assert found.via == "oidc" and found.subject == "user-7"
    both = issuer.token(realm_access={"roles": ["v2x-viewer", "v2x-admin"]}, tenant="*")
    highest = verifier.verify(both)
    assert highest is not None and highest.role is Role.ADMIN and highest.is_platform
    verifier.verify(issuer.token())
    assert issuer.fetches == 1  # the key set is cached


def test_bad_tokens_are_refused_and_counted(issuer: Issuer) -> None:
    verifier = OidcVerifier(_settings(issuer))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = issuer.key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    now = int(time.time())
    bad = {
        "expired": issuer.token(exp=now - 120, iat=now - 600),
        "audience": issuer.token(aud="someone-else"),
        "issuer": issuer.token(iss="http://127.0.0.1/realms/evil"),
        "signature": issuer.token(key=other_key),
        "unknown_kid": issuer.token(key=other_key, kid="k2"),
        "no_role": issuer.token(realm_access={"roles": ["offline_access"]}),
        "no_tenant": issuer.token(tenant=None),
    }
    for what, token in bad.items():
        assert verifier.verify(token) is None, what
    # algorithm confusion: HS256 "signed" with the issuer's public key as the HMAC secret
    bad["hs256"] = _hs256(issuer.token(), public_pem)
    assert verifier.verify(bad["hs256"]) is None
    assert sum(verifier.failures.values()) == len(bad)
    assert verifier.failures["ExpiredSignatureError"] == 1
    assert verifier.failures["InvalidAudienceError"] == 1
    assert verifier.failures["InvalidIssuerError"] == 1
    assert verifier.failures["no_role"] == 1 and verifier.failures["no_tenant"] == 1


def test_the_api_accepts_provider_tokens_instead_of_local_ones(issuer: Issuer) -> None:
    live = ScriptedLive(start_ms=T0)
    live.step(T0)
    settings = ApiSettings(oidc=_settings(issuer))
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=settings)
    with TestClient(app) as client:
        assert client.get("/api/participants").status_code == 401  # OIDC closes open reads
        ok = {"Authorization": f"Bearer {issuer.token()}"}
        assert client.get("/api/participants", headers=ok).status_code == 200
        event = {"event_id": 3, "event_type": 100, "source": "police"}
        assert client.post("/api/events", json=event, headers=ok).status_code == 201
        assert client.post("/api/admin/retention", headers=ok).status_code == 403
        wrong = {"Authorization": f"Bearer {issuer.token(aud='x')}"}
        assert client.get("/api/participants", headers=wrong).status_code == 401
        stats = client.get("/api/stats", headers=ok).json()
        assert stats["access"] is None  # a tenant's caller does not see platform counters


def test_settings_are_checked() -> None:
    base = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://idp/certs"}
    with pytest.raises(ConfigError, match="https"):
        OidcSettings(**base | {"jwks_url": "http://idp.example/certs"})
    with pytest.raises(ConfigError, match="asymmetric"):
        OidcSettings(**base, algorithms=("HS256",))
    with pytest.raises(ConfigError, match="unknown roles"):
        OidcSettings(**base, role_map={"x": "root"})
    assert OidcSettings.from_env({}) is None
