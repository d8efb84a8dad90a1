"""Who may call what: roles, tenants, principals and the ONE table of access rules.

Roles (after USDOT CV Manager's Admin / Operator / User), each including the ones below it:

``viewer``
    reads: the live road scene and its stream, history, the devices of its tenant with their
    health and dead letters, the EV vehicles, reports, alarms and charging warnings of its tenant's vehicles, platform stats.
``operator``
    a viewer who also runs the road: posts road events, acknowledges and closes alarms,
    changes and disables its tenant's devices (never moves one to another tenant).
``admin``
    an operator who also administers its tenant: registers devices in it and creates, lists
    and revokes its tenant's API tokens (of any role up to ``admin``).

A tenant (an organisation) owns devices and their data. A principal of tenant ``"*"``
(``PLATFORM``) is platform-wide: it sees every tenant; the platform-wide ``admin`` is the
operator of the deployment (retention, tokens of any tenant, letters no device owns).

What tenant scoping means per kind of data (enforced by the routes, see ``docs/access.md``):
devices and their dead letters belong to the device's tenant (a letter whose source is not a
registered device is platform-only); EV reports and alarms to the vehicle's (VIN's) registry
tenant; the live road scene (participants, signals, advisories, road events, the stream) and
the history of the road are the deployment's, shared read-only by every tenant of it (every
vehicle on the road hears them over the air anyway); writing to them is an operator's.

``RULES`` maps ``(method, route path)`` to a ``Rule``; ``"WS"`` is the method of a WebSocket
route and ``"MOUNT"`` the static dashboard. The access gate (``api.gate``) applies it to every
request before anything of the body is read; a route without a rule is refused (and
``tests/api/test_access_matrix.py`` fails), so a new route cannot be open by accident.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = [
    "PLATFORM",
    "RULES",
    "Principal",
    "Role",
    "Rule",
    "rule_for",
]

PLATFORM = "*"
"""The tenant of a platform-wide principal (sees and administers every tenant)."""


class Role(StrEnum):
    """An API role; each includes the rights of the ones below it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 viewer, 1 operator, 2 admin."""
        return _RANK[self]

    def includes(self, other: Role) -> bool:
        """Whether this role has every right of ``other``."""
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: role, tenant (``PLATFORM`` for platform-wide), where the credential
    came from (``bootstrap``, ``token``, ``oidc``, ``open`` for anonymous reads when no
    credential is configured) and its id (token id, OIDC subject) for rate limits and audit."""

    role: Role
    tenant: str
    via: str
    subject: str

    @property
    def is_platform(self) -> bool:
        """Platform-wide (tenant ``"*"``)."""
        return self.tenant == PLATFORM

    def sees(self, tenant: str | None) -> bool:
        """Whether data of ``tenant`` (``None``: owned by no tenant) is visible to this caller."""
        return self.is_platform or (tenant is not None and tenant == self.tenant)


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """Access to one route: the least ``role`` (``None``: public, no credential needed),
    whether only a platform-wide principal may call it, the largest request body in bytes
    (bigger ones get 413 before they are read), whether the per-client rate limit applies, and
    the audit-trail action a successful call is recorded as (every write has one)."""

    role: Role | None
    platform_only: bool = False
    max_body: int = 0
    rate_limited: bool = True
    audit: str | None = None


_PUBLIC = Rule(role=None)
_READ = Rule(role=Role.VIEWER)
_KIB = 1024

RULES: dict[tuple[str, str], Rule] = {
    # liveness probe: no credential, no rate limit (it does no work; probes must get through)
    ("GET", "/api/health"): Rule(role=None, rate_limited=False),
    # the API's own description and the dashboard's static files
    ("GET", "/openapi.json"): _PUBLIC,
    ("GET", "/docs"): _PUBLIC,
    ("GET", "/docs/oauth2-redirect"): _PUBLIC,
    ("GET", "/"): _PUBLIC,  # "dashboard not built" page
    ("MOUNT", "/"): _PUBLIC,  # the built dashboard (the token is given in the URL's #fragment)
    # the live road scene and its history: the deployment's, read by every tenant
    ("GET", "/api/participants"): _READ,
    ("GET", "/api/intersections"): _READ,
    ("GET", "/api/advisories"): _READ,
    ("GET", "/api/events"): _READ,
    ("GET", "/api/stats"): _READ,
    ("GET", "/api/console"): _READ,
    ("GET", "/api/security"): _READ,
    ("WS", "/api/stream"): _READ,
    ("GET", "/api/participants/{participant_id}/trajectory"): _READ,
    ("GET", "/api/overview"): _READ,
    ("GET", "/api/warnings/heatmap"): _READ,
    ("GET", "/api/evaluations"): _READ,  # test-bench runs: the deployment's
    ("GET", "/api/evaluations/{run}"): _READ,
    ("GET", "/api/history/advisories"): _READ,
    ("GET", "/api/history/events"): _READ,
    ("POST", "/api/events"): Rule(role=Role.OPERATOR, max_body=64 * _KIB, audit="event.posted"),
    ("POST", "/api/admin/retention"): Rule(
        role=Role.ADMIN, platform_only=True, audit="retention.applied"
    ),
    # devices, their dead letters, EV data: by tenant
    ("GET", "/api/dead-letters"): _READ,
    ("GET", "/api/dead-letters/counts"): _READ,
    ("GET", "/api/dead-letters/raw"): _READ,
    ("GET", "/api/misbehaviour"): _READ,
    ("GET", "/api/devices"): _READ,
    ("GET", "/api/devices/{device_id}"): _READ,
    ("POST", "/api/devices"): Rule(role=Role.ADMIN, max_body=16 * _KIB, audit="device.added"),
    ("PATCH", "/api/devices/{device_id}"): Rule(
        role=Role.OPERATOR, max_body=16 * _KIB, audit="device.updated"
    ),
    ("POST", "/api/devices/{device_id}/disable"): Rule(role=Role.OPERATOR, audit="device.disabled"),
    ("DELETE", "/api/devices/{device_id}"): Rule(role=Role.ADMIN, audit="device.removed"),
    ("GET", "/api/ev/vehicles"): _READ,
    ("GET", "/api/ev/vehicles/{vin}"): _READ,
    ("GET", "/api/ev/alarms"): _READ,
    # alarms: the road's are every tenant's, a device's or vehicle's its tenant's; operators
    # acknowledge and close (recorded with who and when)
    ("GET", "/api/alarms"): _READ,
    ("GET", "/api/alarms/history"): _READ,
    ("POST", "/api/alarms/{alarm_id}/ack"): Rule(role=Role.OPERATOR, audit="alarm.acknowledged"),
    ("POST", "/api/alarms/{alarm_id}/close"): Rule(role=Role.OPERATOR, audit="alarm.closed"),
    ("GET", "/api/ev/charging"): _READ,
    ("GET", "/api/ev/reports"): _READ,
    # API tokens: a tenant's admin manages its tenant's, the platform admin everyone's
    ("GET", "/api/tokens"): Rule(role=Role.ADMIN),
    # who called lately and the audit trail: a tenant's admin its tenant's, the platform's all
    ("GET", "/api/sessions"): Rule(role=Role.ADMIN),
    ("GET", "/api/audit"): Rule(role=Role.ADMIN),
    ("POST", "/api/tokens"): Rule(role=Role.ADMIN, max_body=4 * _KIB, audit="token.created"),
    ("DELETE", "/api/tokens/{token_id}"): Rule(role=Role.ADMIN, audit="token.revoked"),
}
"""The one access table: ``(method, route path)`` → ``Rule``."""


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route (``HEAD`` follows ``GET``), or ``None`` when it has none."""
    found = RULES.get((method, path))
    if found is None and method == "HEAD":
        found = RULES.get(("GET", path))
    return found
