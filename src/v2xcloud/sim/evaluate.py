"""Evaluate scenarios: each in its own process (libsumo allows one simulation per process),
then aggregate the per-application scores over the library.
"""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from v2xcloud.errors import ConfigError, SimulationError
from v2xcloud.model.day2_exchange import Request
from v2xcloud.model.signal_plan import SignalPlan
from v2xcloud.runtime import MisbehaviourScreen, Rsu, Runtime
from v2xcloud.sim.cooperation import with_baseline
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import Scenario
from v2xcloud.sim.scorer import AppScore

if TYPE_CHECKING:
    from v2xcloud.sim.devices import DeviceSigning

__all__ = [
    "RUNS_PER_PROCESS",
    "ScreenFactory",
    "Secure",
    "aggregate",
    "evaluate",
    "run_cost",
    "run_in_process",
    "scenario_rsus",
]

#: builds a misbehaviour screen from the deployment's RSUs (wired in from ``cli``: the bench may
#: not import ``security``)
ScreenFactory = Callable[[Sequence[Rsu]], MisbehaviourScreen]
#: ``secure(runtime, config)``: a context manager that makes ``runtime`` verify (and sign what
#: it sends) and yields the devices' ``DeviceSigning``; picklable (it crosses to the worker)
Secure = Callable[[Any, RunConfig], AbstractContextManager["DeviceSigning | None"]]

logger = logging.getLogger(__name__)

_RESULT = msgspec.msgpack.Decoder(ScenarioResult)
#: scenarios one worker process runs before it is replaced (``evaluate``): a fresh process
#: spends seconds compiling the ASN.1 schemas and importing SUMO before its first step
RUNS_PER_PROCESS = 12


def run_in_process(
    scenario: Scenario,
    config: RunConfig,
    screen_factory: ScreenFactory | None = None,
    *,
    secure: Secure | None = None,
    workers: int = 0,
    servers: int = 1,
    shard_zoom: int | None = None,
) -> ScenarioResult:
    """Run one scenario through the real platform in this process (no isolation).

    ``workers`` > 0: through a local NATS JetStream cluster of ``servers`` and that many
    stream-clocked tile workers instead of the in-process runtime (``sim.cluster``; no
    misbehaviour screen, no signing, in-process frames only); ``shard_zoom``: its frames
    sharded by place (``runtime.backbone.shard_of``).

    ``config.via == "mqtt"``: the frames go through an MQTT broker (``config.mqtt_url``, or a
    Mosquitto started for this run) and the platform's MQTT gateway (``sim.via_mqtt``).
    ``screen_factory``: builds the platform's misbehaviour screen from the scenario's RSUs
    (their perception coverage); ``None``: no misbehaviour detection. ``secure`` (wired from
    ``cli`` too) signs every device's frames and makes the platform verify them; the result's
    ``security`` holds the verification counters.

    A scenario naming Day-2 apps the bench scores (``sim.day2.PROBES``) runs twice: with
    them, and the same traffic without them; each figure's ``baseline`` comes from the
    second run (``cooperation.with_baseline``); apps whose probe measures its own baseline
    in the same run (``sim.day2.INTRINSIC_BASELINE``) need no second run. A scenario whose
    vehicles follow GLOSA (``Scenario.follows_glosa``) runs again with nobody following, and
    GLOSA's figures for the same vehicles there are its baseline (``sim.glosa_effect``).
    """
    if workers > 0:
        if screen_factory is not None or secure is not None or config.via != "inproc":
            raise ConfigError("--workers runs unsigned, in-process frames without --attacks")
        from v2xcloud.sim.cluster import run_through_workers

        result: ScenarioResult = run_through_workers(
            scenario, config, workers=workers, servers=servers, shard_zoom=shard_zoom
        )
        return result
    result = _run_once(scenario, config, screen_factory, secure)
    from v2xcloud.sim.day2 import INTRINSIC_BASELINE, PROBES

    probed = frozenset(set(scenario.apps) & set(PROBES)) - INTRINSIC_BASELINE
    if probed and result.cooperation:  # the same traffic without the scenario's Day-2 apps
        base = _run_once(scenario, config, screen_factory, secure, without_day2=probed)
        day2 = [c for c in base.cooperation if c.app != "GLOSA"]
        result.cooperation = with_baseline(result.cooperation, day2)
    if scenario.follows_glosa:  # the same traffic, nobody following the advice
        base = _run_once(
            scenario, config, screen_factory, secure,
            glosa_baseline=frozenset(result.glosa_advised),
        )  # fmt: skip
        glosa = [c for c in base.cooperation if c.app == "GLOSA"]
        result.cooperation = with_baseline(result.cooperation, glosa)
    return result


def _run_once(
    scenario: Scenario,
    config: RunConfig,
    screen_factory: ScreenFactory | None,
    secure: Secure | None,
    *,
    without_day2: frozenset[str] = frozenset(),
    glosa_baseline: frozenset[str] | None = None,
) -> ScenarioResult:
    """One run through the in-process runtime; ``without_day2``: Day-2 app codes left out;
    ``glosa_baseline``: the GLOSA-advised vehicles of the run this one is the baseline of."""
    from v2xcloud.sim.platform import runtime_platform
    from v2xcloud.sim.runner import model_encoder, run_scenario

    screen = None
    if screen_factory is not None:
        screen = screen_factory(scenario_rsus(scenario))
    platform, runtime = runtime_platform(
        message_set=config.message_set,
        origin_lat_deg=scenario.origin_lat_deg,
        origin_lon_deg=scenario.origin_lon_deg,
        screen=screen,
        without_day2=without_day2,
    )
    _report_signal_plans(runtime, scenario, config)
    _report_payment_points(runtime, scenario, config)
    _report_reference_stations(runtime, scenario, config)
    encode = model_encoder(config.message_set)
    with secure(runtime, config) if secure is not None else nullcontext(None) as signing:
        if config.via == "mqtt":
            from v2xcloud.sim.via_mqtt import run_through_broker

            result = run_through_broker(
                scenario,
                config=config,
                platform=platform,
                runtime=runtime,
                encode=encode,
                signing=signing,
                glosa_baseline=glosa_baseline,
            )
        elif config.via == "inproc":
            result = run_scenario(
                scenario,
                config=config,
                platform=platform,
                encode=encode,
                signing=signing,
                glosa_baseline=glosa_baseline,
            )
        else:
            raise ConfigError(f"via must be 'inproc' or 'mqtt', got {config.via!r}")
    stats = runtime.stats()
    result.dead_letters = {str(k): int(v) for k, v in stats["dead_letters"].items()}
    guard = stats.get("guard", {})
    result.security = {k: int(v) for k, v in guard.items() if isinstance(v, int)}
    return result


def _report_signal_plans(runtime: Runtime, scenario: Scenario, config: RunConfig) -> None:
    """The scenario's signal controllers report their timing plans to the platform (a
    request to the Day-2 apps that take them, e.g. PVP), before the first tick."""
    probe = scenario_signal_plans(scenario)
    if not probe or not runtime.day2.takes(probe[0]):
        return
    for plan in probe:
        runtime.day2.offer(
            Request(message=plan, source="signal-controller", received_at_ms=config.epoch_ms)
        )


def _report_payment_points(runtime: Runtime, scenario: Scenario, config: RunConfig) -> None:
    """The scenario's payment points register with the platform (VNFP runs them)."""
    from v2xcloud.geo import LocalFrame
    from v2xcloud.sim.day2.vnfp import payment_points

    frame = LocalFrame(
        origin_lat_deg=scenario.origin_lat_deg, origin_lon_deg=scenario.origin_lon_deg
    )
    for point, _, _ in payment_points(scenario, frame):
        if runtime.day2.takes(point):
            runtime.day2.offer(
                Request(message=point, source=point.rsu_id, received_at_ms=config.epoch_ms)
            )


def _report_reference_stations(runtime: Runtime, scenario: Scenario, config: RunConfig) -> None:
    """The scenario's GNSS reference stations register with the platform (DGNSS relays)."""
    from v2xcloud.geo import LocalFrame
    from v2xcloud.sim.day2.dgnss import reference_stations

    frame = LocalFrame(
        origin_lat_deg=scenario.origin_lat_deg, origin_lon_deg=scenario.origin_lon_deg
    )
    for station, *_ in reference_stations(scenario, frame):
        if runtime.day2.takes(station):
            runtime.day2.offer(
                Request(message=station, source=station.station_id, received_at_ms=config.epoch_ms)
            )


def scenario_signal_plans(scenario: Scenario) -> list[SignalPlan]:
    """The timing plans of the scenario's traffic lights, from its generated network (the
    same plans and MAP node ids as the run's SUMO programmes)."""
    if not scenario.network.is_signalised:
        return []
    from v2xcloud.geo import LocalFrame
    from v2xcloud.sim.network import build_network
    from v2xcloud.sim.signals import SignalEncoder

    with tempfile.TemporaryDirectory(prefix="v2xsim-plans-") as tmp:
        net = build_network(scenario.network, Path(tmp))
        frame = LocalFrame(
            origin_lat_deg=scenario.origin_lat_deg, origin_lon_deg=scenario.origin_lon_deg
        )
        encoder = SignalEncoder(net_path=str(net), frame=frame, epoch_ms=0)
        return list(encoder.signal_plans().values())


def scenario_rsus(scenario: Scenario) -> list[Rsu]:
    """The scenario's roadside sensors as the platform knows them (WGS-84, range)."""
    from v2xcloud.geo import LocalFrame
    from v2xcloud.sim.runner import roadside_sensors

    frame = LocalFrame(
        origin_lat_deg=scenario.origin_lat_deg, origin_lon_deg=scenario.origin_lon_deg
    )
    out = []
    for s in roadside_sensors(scenario):
        lat, lon = frame.to_wgs84(s.x_m, s.y_m)
        out.append(
            Rsu(
                rsu_id=s.rsu_id,
                lat_deg=float(lat),
                lon_deg=float(lon),
                range_m=s.range_m,
                perceives_all=s.perceives_all,
            )
        )
    return out


def _worker(
    scenario: Scenario,
    config: RunConfig,
    screen_factory: ScreenFactory | None = None,
    secure: Secure | None = None,
    workers: int = 0,
    servers: int = 1,
    shard_zoom: int | None = None,
) -> bytes:
    try:
        return msgspec.msgpack.encode(
            run_in_process(
                scenario,
                config,
                screen_factory,
                secure=secure,
                workers=workers,
                servers=servers,
                shard_zoom=shard_zoom,
            )
        )
    except Exception as exc:  # crosses a process boundary: keep the message, not the object
        logger.error("scenario %s failed in its worker", scenario.name, exc_info=exc)
        raise SimulationError(f"scenario {scenario.name}: {type(exc).__name__}: {exc}") from None


def evaluate(
    scenarios: list[Scenario],
    *,
    config: RunConfig,
    jobs: int = 1,
    on_done: Callable[[ScenarioResult, int, int], None] | None = None,
    screen_factory: ScreenFactory | None = None,
    secure: Secure | None = None,
    workers: int = 0,
    servers: int = 1,
    runs_per_process: int = RUNS_PER_PROCESS,
    shard_zoom: int | None = None,
) -> list[ScenarioResult]:
    """Run every scenario in a subprocess (``jobs`` at a time); results in the given order.

    A worker process runs about ``runs_per_process`` scenarios one after another (1: a fresh
    process for each) and is then replaced: a run shares nothing with the one before it but
    the process's compiled ASN.1 schemas and imported modules, which are what a fresh process
    spends its first seconds on. The costliest scenarios are started first (``run_cost``) so
    that ``jobs`` workers finish together; neither changes any result.

    ``on_done(result, finished, total)`` reports progress. A failing scenario raises its
    ``SimulationError`` here, naming the scenario. Via MQTT without a broker URL each scenario
    starts its own Mosquitto; several jobs on one given broker would hear each other's devices
    (``ConfigError``). ``screen_factory`` (a module-level function: it crosses into the
    worker processes by name) builds each run's misbehaviour screen; ``secure`` (picklable)
    signs and verifies each run; ``workers`` > 0 runs each through a local cluster of
    ``servers`` and that many tile workers (``run_in_process``), the frames sharded at
    ``shard_zoom`` when given.
    """
    if config.via == "mqtt" and config.mqtt_url is not None and jobs > 1:
        raise ConfigError("evaluate via MQTT on one given broker runs one scenario at a time")
    if runs_per_process < 1:
        raise ConfigError(f"runs_per_process must be at least 1, got {runs_per_process}")
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, ScenarioResult] = {}
    order = sorted(scenarios, key=run_cost, reverse=True)
    # a pool of ``jobs`` workers for each batch of jobs x runs_per_process scenarios: a worker
    # runs about runs_per_process of them. Not ``max_tasks_per_child`` > 1: Python 3.11's pool
    # stops replacing workers that reach it while tasks wait (CPython gh-115634), and hangs.
    batch = jobs * runs_per_process if runs_per_process > 1 else max(len(order), 1)
    for k in range(0, len(order), batch):
        with ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=ctx,
            max_tasks_per_child=1 if runs_per_process == 1 else None,
        ) as pool:
            futures = {
                pool.submit(
                    _worker, sc, config, screen_factory, secure, workers, servers, shard_zoom
                ): sc.name
                for sc in order[k : k + batch]
            }
            for future in as_completed(futures):
                result = _RESULT.decode(future.result())
                results[result.name] = result
                if on_done is not None:
                    on_done(result, len(results), len(scenarios))
    return [results[sc.name] for sc in scenarios]


def run_cost(scenario: Scenario) -> float:
    """A rough relative cost of running ``scenario`` (simulated seconds times the road users
    it keeps busy), only to start the long runs first."""
    bg = scenario.background
    users = (
        1.0
        + len(scenario.vehicles)
        + len(scenario.pedestrians)
        + bg.initial_vehicles
        + sum((f.end_s - f.begin_s) / f.period_s for f in scenario.flows)
        + (bg.vehicles_per_hour + bg.pedestrians_per_hour) * scenario.duration_s / 3600.0
    )
    return scenario.duration_s * users


def aggregate(results: list[ScenarioResult]) -> dict[str, AppScore]:
    """Sum the per-app scores of many runs (counts add, distributions concatenate).

    Vehicle-hours are those of every run, whether or not the app had episodes there.
    """
    total_hours = sum(r.vehicle_hours for r in results)
    out: dict[str, AppScore] = {}
    for r in results:
        for app, s in r.scores.items():
            acc = out.setdefault(app, AppScore(app=app, vehicle_hours=total_hours))
            acc.episodes += s.episodes
            acc.detected += s.detected
            acc.warnings += s.warnings
            acc.matched_warnings += s.matched_warnings
            acc.flicker += s.flicker
            acc.unobservable += s.unobservable
            acc.lead_times_s += s.lead_times_s
            acc.ttc_at_onset_s += s.ttc_at_onset_s
            acc.latencies_ms += s.latencies_ms
    return dict(sorted(out.items()))
