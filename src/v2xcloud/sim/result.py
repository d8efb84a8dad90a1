"""What a scenario run produces: its settings, ground truth, warnings, scores and counters."""

from __future__ import annotations

from typing import Any

import msgspec

from v2xcloud.sim.cooperation import CooperationScore
from v2xcloud.sim.episodes import Episode
from v2xcloud.sim.scorer import AppScore

__all__ = ["DEFAULT_EPOCH_MS", "RunConfig", "ScenarioResult"]

DEFAULT_EPOCH_MS = 1_767_254_400_000  # 2026-01-01T08:00:00Z: simulation time 0 on the wire


class RunConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Channel and wire settings of a run. Latency and jitter in ms, loss a probability."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    message_set: str = "csae2020"
    epoch_ms: int = DEFAULT_EPOCH_MS
    # True: simulation time 0 is the wall clock when the first step runs (``epoch_ms`` is
    # replaced then), so frames carry live times for a platform elsewhere (``devices``)
    is_live_epoch: bool = False
    has_ground_truth: bool = True  # False: no SSM device, no harness (chain benchmarks)
    # "inproc": frames handed to the platform; "mqtt": through a broker and the MQTT gateway
    via: str = "inproc"
    mqtt_url: str | None = None  # the broker for via="mqtt"; None: a Mosquitto per run
    mqtt_payload: str = "uper"  # via="mqtt": what devices publish: "uper", "hex" or "json"
    # the published ASN.1 reference (a directory of *.asn, e.g. ../shared/reference/asn1/
    # csae53-2020-day2) every Day-2 message the platform sends is decoded again with; None: not
    reference_asn1_dir: str | None = None


class ScenarioResult(msgspec.Struct, kw_only=True):
    """One scenario's outcome. ``warnings`` rows: (app, ego, other, onset_s, end_s)."""

    name: str
    apps: list[str]
    config: RunConfig
    wall_s: float = 0.0
    vehicle_hours: float = 0.0
    advisories: int = 0  # scored (WARNING and IMMINENT)
    # INFO advisories and apps without ground truth here (GLOSA, IVS, HLW, TJW), by app
    unscored_advisories: dict[str, int] = msgspec.field(default_factory=dict)
    frames: dict[str, int] = msgspec.field(default_factory=dict)
    encode_errors: dict[str, int] = msgspec.field(default_factory=dict)
    channel: dict[str, int] = msgspec.field(default_factory=dict)
    episodes: list[Episode] = msgspec.field(default_factory=list)
    warnings: list[tuple[str, str, str | None, float, float]] = msgspec.field(default_factory=list)
    scores: dict[str, AppScore] = msgspec.field(default_factory=dict)
    implemented_apps: list[str] = msgspec.field(default_factory=list)
    dead_letters: dict[str, int] = msgspec.field(default_factory=dict)
    is_interrupted: bool = False
    unapplied_actions: list[str] = msgspec.field(default_factory=list)
    stage_s: dict[str, float] = msgspec.field(default_factory=dict)  # wall time per stage
    vehicle_steps: int = 0
    broker: dict[str, float | int | None] = msgspec.field(default_factory=dict)  # via="mqtt"
    # devices signing (``sim.devices.DeviceSigning``): frames signed per type, certificates sent
    signing: dict[str, int | float] = msgspec.field(default_factory=dict)
    # ... and the platform verifying: frames verified, refused per reason (``rejected.<r>``)
    security: dict[str, int] = msgspec.field(default_factory=dict)
    # with attacks (``sim.attacks``): detection figures per class (``sim.attack_score``)
    misbehaviour: dict[str, Any] = msgspec.field(default_factory=dict)
    # cooperative (Day-2) applications run in this scenario: their figures (``sim.cooperation``)
    cooperation: list[CooperationScore] = msgspec.field(default_factory=list)
    # with ``Scenario.follows_glosa``: the vehicles that followed GLOSA advice (SUMO ids; the
    # baseline run compares the same vehicles)
    glosa_advised: list[str] = msgspec.field(default_factory=list)
