"""``v2xcloud evaluate``: run the scenario library on SUMO and score every application."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from v2xcloud.cli._signed import SecureBench, add_signed_arguments, format_security
from v2xcloud.cli.demo_commands import add_via_arguments, via_config
from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError
from v2xcloud.sim.scenario import (
    attack_library_names,
    library_names,
    load_attack_library,
    load_library,
    load_scenario,
)

if TYPE_CHECKING:
    from v2xcloud.sim.result import ScenarioResult
    from v2xcloud.sim.scenario import Scenario

__all__ = ["register", "resolve_scenarios"]


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``evaluate``."""
    p = add_long_running(
        sub,
        "evaluate",
        help="run SUMO scenarios headless and score the applications",
        description="Run scenarios through SUMO -> UPER -> channel -> platform and score "
        "each application against ground truth. Scenarios: " + ", ".join(library_names()),
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=None,
        metavar="NAME|PATH.toml",
        help="a library scenario's name, 'all' (default), or a scenario file of the library's "
        "format; repeatable",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="run each scenario with this many seeds (its own, then seeds derived from it) and "
        "report each figure's mean and 95%% Student-t interval over them (default 1)",
    )
    p.add_argument("--short", action="store_true", help="only the short (CI) scenarios")
    p.add_argument("--report", type=Path, help="write report.json, index.html and plots here")
    p.add_argument("--latency-ms", type=float, default=0.0, help="channel latency (ms)")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="channel jitter, ± ms")
    p.add_argument("--loss", type=float, default=0.0, help="channel loss probability 0..1")
    p.add_argument("--message-set", default="csae2020", help="csae2017 or csae2020")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="scenario runs (each scenario x seed) in parallel worker processes; each worker "
        "runs several in turn (results identical to --jobs 1; default 1)",
    )
    p.add_argument(
        "--attacks",
        default=None,
        metavar="CLASSES",
        help="score misbehaviour detection instead: 'all' or comma-separated attack classes "
        "(const_position, ..., data_replay_sybil), each run with detection off and on on the "
        "misbehaviour scenarios (--scenario: all or one of "
        + ", ".join(attack_library_names())
        + ")",
    )
    p.add_argument(
        "--attack-share",
        type=float,
        default=0.1,
        help="share of the connected vehicles that carry the attack (default 0.1)",
    )
    add_via_arguments(p)
    p.add_argument(
        "--reference-asn1",
        default=None,
        metavar="DIR",
        help="decode every Day-2 message the platform sends again with the published ASN.1 "
        "reference in DIR (*.asn, e.g. ../shared/reference/asn1/csae53-2020-day2)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run through a local NATS cluster of this many tile workers (default 0: in-process)",
    )
    p.add_argument(
        "--nats-servers", type=int, default=1, help="servers of that cluster (default 1)"
    )
    p.add_argument(
        "--shard-zoom",
        type=int,
        metavar="Z",
        help="with --workers: shard that cluster's frame stream by place, one stream "
        "V2X_FRAMES_{shard} per zoom-Z quadkey (1-16; docs/deploy.md, Sizing)",
    )
    add_signed_arguments(p)
    p.set_defaults(func=_run)


def resolve_scenarios(specs: list[str]) -> list[Scenario]:
    """``--scenario`` values, in order: a library name, ``all``, or a path to a scenario file
    (anything ending in ``.toml`` or naming an existing file). Duplicates are dropped."""
    out: dict[str, Scenario] = {}
    for spec in specs:
        path = Path(spec)
        if spec.endswith(".toml") or path.is_file():
            if not path.is_file():
                raise ConfigError(f"--scenario {spec}: no such scenario file")
            found = [load_scenario(path)]
        else:
            found = load_library(spec)
        for sc in found:
            if sc.name in out and out[sc.name] != sc:
                raise ConfigError(
                    f"--scenario {spec}: another scenario is already named {sc.name!r}"
                )
            out[sc.name] = sc
    return list(out.values())


def _progress(result: ScenarioResult, done: int, total: int) -> None:
    found = sum(s.detected for s in result.scores.values())
    episodes = sum(s.episodes for s in result.scores.values())
    print(
        f"[{done}/{total}] {result.name}: {result.wall_s:.1f} s wall, {episodes} episodes, "
        f"{found} detected, {len(result.warnings)} warnings"
        + (
            f"; via MQTT {result.broker['received']} frames, transit p99 "
            f"{result.broker['transit_p99_ms'] or 0:.1f} ms"
            if result.broker
            else ""
        ),
        file=sys.stderr,
        flush=True,
    )


def _run_attacks(args: argparse.Namespace) -> int:
    """``--attacks``: every class on every misbehaviour scenario, detection off and on."""
    from v2xcloud.cli._platform import misbehaviour_screen
    from v2xcloud.sim.attack_eval import evaluate_attacks, format_attack_table, parse_kinds
    from v2xcloud.sim.result import RunConfig

    try:
        kinds = parse_kinds(args.attacks)
    except ValueError as exc:
        raise ConfigError(f"--attacks: {exc}") from exc
    if not 0.0 < args.attack_share <= 1.0:
        raise ConfigError(f"--attack-share must be within (0, 1], got {args.attack_share}")
    if args.scenario is not None and len(args.scenario) > 1:
        raise ConfigError("--attacks takes one --scenario (a name or 'all')")
    scenarios = load_attack_library(args.scenario[0] if args.scenario else "all")
    config = RunConfig(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        loss=args.loss,
        message_set=args.message_set,
        **via_config(args),
    )
    started = time.perf_counter()
    tables = evaluate_attacks(
        scenarios,
        kinds=kinds,
        config=config,
        screen_factory=misbehaviour_screen,
        share=args.attack_share,
        jobs=args.jobs,
        on_done=_progress,
    )
    for name, rows in tables.items():
        print(f"\n{name}: {args.attack_share:.0%} of connected vehicles attacking, one class a run")
        print(format_attack_table(rows))
    print(
        f"\n{len(scenarios) * len(kinds) * 2} runs in {time.perf_counter() - started:.1f} s; "
        "P/R/F1 by vehicle, msg* by message, ttd = time to detect (s), bFP = benign senders "
        "flagged, fw = attackers' false warnings with detection off / on (same seed)"
    )
    return 0


def _security_line(results: list[ScenarioResult]) -> str:
    """Frames verified and refused over every run, and what the devices signed."""
    guard: dict[str, int] = {}
    devices: dict[str, int | float] = {}
    for r in results:
        for k, v in r.security.items():
            guard[k] = guard.get(k, 0) + v
        for name, figure in r.signing.items():
            devices[name] = devices.get(name, 0) + figure
    return format_security({"guard": guard}, devices)


def _run(args: argparse.Namespace) -> int:
    # deferred: the bench pulls in SUMO, the runtime and matplotlib
    from v2xcloud.sim.evaluate import aggregate, evaluate
    from v2xcloud.sim.replicates import format_interval_table, with_seeds
    from v2xcloud.sim.report import (
        format_cooperation,
        format_table,
        implemented_families,
        split_groups,
        write_report,
    )
    from v2xcloud.sim.result import RunConfig

    if not 0.0 <= args.loss < 1.0:
        raise ConfigError(f"--loss must be within [0, 1), got {args.loss}")
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    if args.workers < 0 or args.nats_servers < 1:
        raise ConfigError("--workers must be >= 0 and --nats-servers >= 1")
    if args.shard_zoom is not None and not (args.workers and 1 <= args.shard_zoom <= 16):
        raise ConfigError("--shard-zoom needs --workers and is 1 to 16")
    if args.workers and (args.attacks is not None or args.signed or args.via != "inproc"):
        raise ConfigError("--workers runs in-process frames, unsigned, without --attacks")
    if args.attacks is not None:
        if args.seeds != 1:
            raise ConfigError("--seeds applies to the scenario library, not --attacks")
        return _run_attacks(args)
    scenarios = resolve_scenarios(args.scenario or ["all"])
    if args.short:
        scenarios = [s for s in scenarios if s.is_short]
    scenarios = with_seeds(scenarios, args.seeds)
    config = RunConfig(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        loss=args.loss,
        message_set=args.message_set,
        reference_asn1_dir=args.reference_asn1,
        **via_config(args),
    )
    started = time.perf_counter()
    secure = None
    if args.signed:
        secure = SecureBench(pki=args.pki, profile=args.profile)
    elif args.pki is not None or args.profile != "cn":
        raise ConfigError("--pki and --profile need --signed")
    results = evaluate(
        scenarios,
        config=config,
        jobs=args.jobs,
        on_done=_progress,
        secure=secure,
        workers=args.workers,
        servers=args.nats_servers,
        shard_zoom=args.shard_zoom,
    )
    scores = aggregate(results)
    implemented = implemented_families(results)
    groups = split_groups(results)
    if all(groups.values()):
        for name, group in groups.items():
            print(f"\n{name} ({len(group)} scenarios)")
            print(format_table(aggregate(group), implemented=implemented))
        print(f"\nall {len(results)} scenarios")
    print(format_table(scores, implemented=implemented))
    if args.seeds > 1:
        for name, group in groups.items() if all(groups.values()) else ():
            print("\n" + format_interval_table(group, implemented=implemented, title=name))
        print("\n" + format_interval_table(results, implemented=implemented, title="all"))
    unscored: dict[str, int] = {}
    for r in results:
        for app, n in r.unscored_advisories.items():
            unscored[app] = unscored.get(app, 0) + n
    print(f"not scored (INFO level, or no ground truth in the bench): {unscored or 'none'}")
    cooperation = format_cooperation(results)
    if cooperation:
        print("\ncooperative (Day-2) applications: with the app vs the same traffic without")
        print(cooperation)
    print(
        f"{len(results)} scenarios in {time.perf_counter() - started:.1f} s; channel "
        f"{args.latency_ms:g} ms ± {args.jitter_ms:g} ms, loss {args.loss:.0%}; via {args.via}"
        + (f"; {args.workers} tile workers on NATS" if args.workers else "")
    )
    if args.signed:
        print(_security_line(results))
    if args.report:
        page = write_report(results, scores, args.report, title="v2xcloud evaluation")
        print(f"report: {page}")
    return 0
