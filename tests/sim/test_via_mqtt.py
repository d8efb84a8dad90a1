"""The bench over a real broker scores exactly like the in-process bench.

Each scenario runs in its own subprocess (``evaluate``); the MQTT run starts its own
Mosquitto on 127.0.0.1 there (``sim.via_mqtt.broker``) and stops it when the run ends.
"""

from __future__ import annotations

import msgspec
import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.sim.evaluate import evaluate
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import load_library

pytestmark = pytest.mark.slow

# a lossy, jittery channel: the seeded channel model applies before the broker, as in-process
_CHANNEL = {"latency_ms": 30.0, "jitter_ms": 10.0, "loss": 0.02}


def _scored(r: ScenarioResult) -> dict[str, object]:
    """Everything the scorer decides, without the wall-clock processing time in latencies."""
    scores = {
        app: msgspec.structs.replace(s, latencies_ms=[]) for app, s in sorted(r.scores.items())
    }
    return {
        "scores": msgspec.to_builtins(scores),
        "warnings": r.warnings,
        "episodes": msgspec.to_builtins(r.episodes),
        "frames": r.frames,
        "unscored": r.unscored_advisories,
        "dead_letters": r.dead_letters,
        "channel": r.channel,
    }


def test_vru_scenario_via_mqtt_scores_like_in_process(broker: Mosquitto) -> None:
    scenarios = load_library("vrucw_pedestrian")  # an OBU, an RSU with MAP + RSM, a walker
    inproc, via_given, via_own, via_json = (
        evaluate(scenarios, config=RunConfig(**_CHANNEL, **via))[0]  # type: ignore[arg-type]
        for via in (
            {},
            {"via": "mqtt", "mqtt_url": broker.url},  # a broker given by URL
            {"via": "mqtt"},  # a Mosquitto the run starts and stops itself
            {"via": "mqtt", "mqtt_url": broker.url, "mqtt_payload": "json"},  # CSAE JSON
        )
    )
    assert inproc.scores["VRUCW"].detected == 1 and inproc.broker == {}
    for run in (via_given, via_own, via_json):
        assert _scored(run) == _scored(inproc)
        b = run.broker
        assert b["published"] == b["received"] == sum(inproc.frames.values()) > 400
        assert b["heartbeats"] == 25 and b["unexpected"] == 0  # one per RSU per second
        assert b["transit_p99_ms"] is not None and 0 <= b["transit_p99_ms"] < 1000


def test_several_jobs_on_one_given_broker_is_refused() -> None:
    with pytest.raises(ConfigError, match="one scenario at a time"):
        evaluate([], config=RunConfig(via="mqtt", mqtt_url="mqtt://127.0.0.1:1883"), jobs=2)
