"""Why the bench's false alarms are false: each unmatched warning with the ground truth of
its two parties at the warning's onset (speed, acceleration, lane, indicators, gap).

    PYTHONPATH=src python benchmarks/false_alarms.py background_district [--seed N | --replicate K]
        [--rows 8]

Runs the scenario in this process through the whole chain (as ``evaluate`` does), keeps
SUMO's snapshot of each step, and for every warning that matches no episode (nor a related
family's) prints, per app, how many had a stopped or creeping ego, a braking or stopped
other, an ego inside a junction, an indicator on, a red light ahead, and sample rows.
Accepts a library name or a scenario file. ``--glosa`` also lists GLOSA's wrong advisories
(``sim.v2i_truth``: judged by the arrival window its band gives) with why each is wrong: the
window against the realised greens of the vehicle's link, SUMO's distance against the
platform's, the junction named against the one ahead.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from v2xcloud.sim import harness, runner, v2i_truth
from v2xcloud.sim.platform import runtime_platform
from v2xcloud.sim.replicates import derived_seed
from v2xcloud.sim.result import RunConfig
from v2xcloud.sim.scenario import Scenario, load_library, load_scenario
from v2xcloud.sim.scorer import EARLY_S, LATE_S, WARNING_GAP_S, Alert, score

_LAST: dict[str, Any] = {}
_HISTORY: list[Any] = []  # every step's snapshot, kept only with --misses
_CONTEXT: dict[tuple[str, str, str | None, float], dict[str, Any]] = {}
_GLOSA_VALUES: dict[int, dict[str, Any]] = {}  # id(GlosaAdvice) -> the advisory's values


def _glosa_why(truth: Any, a: Any) -> str:
    """Why GLOSA advisory ``a`` is wrong (the first of ``judge_advice``'s tests it fails)."""
    if a.tls is None:
        return "past the stop line"
    if a.named_tls != a.tls:
        return "another junction"
    if a.high_mps > a.limit_mps + v2i_truth.LIMIT_TOLERANCE_MPS:
        return "above the limit"
    if a.low_mps < v2i_truth.GLOSA_FLOOR_MPS - 1e-6:
        return "below the floor"
    first = a.time_s + a.distance_m / a.high_mps
    last = a.time_s + a.distance_m / a.low_mps
    greens = truth._greens(a.tls, a.link)
    if not greens:
        return "link never green"
    g0, _ = min(greens, key=lambda g: max(g[0] - last, first - g[1], 0.0))
    if last < g0:
        return "arrives before green"
    return "arrives after green"


def _print_glosa_misses(truth: Any, rows: int) -> None:
    """The approaches GLOSA had to advise and did not (as ``V2iTruth.glosa_score`` matches):
    the vehicle at the approach's start, and the advisories it had from GLOSA at all."""
    to: dict[str, list[Any]] = defaultdict(list)
    for a in truth.advice:
        to[a.vehicle].append(a)
    missed = []
    for vid, tls, start, end in truth._approaches():
        near = [a.time_s for a in to[vid] if a.named_tls == tls]
        if not any(start - EARLY_S - WARNING_GAP_S <= t <= end + LATE_S for t in near):
            missed.append((vid, tls, start, end))
    print(f"GLOSA: {len(missed)} missed approaches")
    for vid, tls, start, end in missed[:rows]:
        e = _state(_at(start), vid) if _HISTORY else None
        state = f"v={e['v']:.1f} a={e['a']:.1f} {e['lane']} sig={e['sig']}" if e is not None else ""
        had = [(a.named_tls, round(a.time_s, 1)) for a in to[vid]][:4]
        arrive = ""
        for v, t, tl, link, d, limit in truth._samples:
            if v == vid and tl == tls and start <= t <= end:
                greens = truth._greens(tl, link)
                nxt = next(((g0, g1) for g0, g1 in greens if g1 > t), None)
                arrive = (
                    f"{d:.0f} m at t={t:.0f}: arrival {t + d / limit:.1f}-"
                    f"{t + d / v2i_truth.GLOSA_FLOOR_MPS:.1f} s (limit-15 km/h), "
                    f"{t + d / 5.0:.1f} at 18 km/h; next green {nxt}"
                )
                break
        print(f"  {vid} -> {tls} {start:.1f}-{end:.1f} s {state}; {arrive}; advisories {had}")


def _print_glosa(rows: int) -> None:
    """GLOSA's wrong advisories by cause, with sample rows."""
    truth = _LAST.get("v2i")
    if truth is None:
        print("\nGLOSA: no advisory")
        return
    wrong = [a for a in truth.advice if truth._verdict(a) == v2i_truth.ADVICE_WRONG]
    why = Counter(_glosa_why(truth, a) for a in wrong)
    print(
        f"\nGLOSA: {len(wrong)} wrong of {len(truth.advice)} advisories: "
        + ", ".join(f"{k} {v}" for k, v in why.most_common())
    )
    _print_glosa_misses(truth, rows)
    for a in wrong[:rows]:
        v = _GLOSA_VALUES.get(id(a), {})
        greens = truth._greens(a.tls, a.link) if a.tls is not None else []
        near = [g for g in greens if g[1] > a.time_s - 5][:2]
        window = (
            f"arrive {a.time_s + a.distance_m / a.high_mps:.1f}-"
            f"{a.time_s + a.distance_m / a.low_mps:.1f}"
            if a.tls is not None
            else ""
        )
        print(
            f"  t={a.time_s:6.1f} {a.vehicle} {_glosa_why(truth, a)}: band "
            f"{a.low_mps:.1f}-{a.high_mps:.1f} m/s, SUMO {a.distance_m:.1f} m to {a.tls}"
            f"#{a.link} (named {a.named_tls}), platform {v.get('to_stop_m', float('nan')):.1f} m,"
            f" v={v.get('advised_speed_mps', float('nan')):.1f}; SUMO lane {v.get('lane')} "
            f"route {v.get('route')} at {v.get('at')}; {window}; greens "
            + " ".join(f"{g0:.1f}-{g1:.1f}" for g0, g1 in near)
        )


def _state(snap: Any, sid: str | None) -> dict[str, Any] | None:
    if sid is None or sid not in snap.index:
        return None
    i = snap.index[sid]
    return {
        "v": float(snap.speed_mps[i]),
        "a": float(snap.accel_mps2[i]),
        "lane": snap.lane_ids[i],
        "sig": int(snap.signals[i]),
        "x": float(snap.x_m[i]),
        "y": float(snap.y_m[i]),
        "ped": bool(snap.is_pedestrian[i]),
        "h": float(snap.heading_deg[i]),
    }


def _queue_seen(snap: Any, sid: str, rows: int = 4) -> list[str]:
    """The slow vehicles (< 2.5 m/s) TJW's geometry sees ahead of ``sid`` (within 15 degrees
    of its heading, 10-300 m, facing its way), nearest first: lane and distance."""
    if sid not in snap.index:
        return []
    i = snap.index[sid]
    dx, dy = snap.x_m - snap.x_m[i], snap.y_m - snap.y_m[i]
    h = np.radians(snap.heading_deg[i])
    dist = np.hypot(dx, dy)
    along = dx * np.sin(h) + dy * np.cos(h)
    facing = np.abs((snap.heading_deg - snap.heading_deg[i] + 180.0) % 360.0 - 180.0) <= 30.0
    seen = (
        (snap.speed_mps < 2.5)
        & ~snap.is_pedestrian
        & facing
        & (along >= dist * np.cos(np.radians(15.0)))
        & (dist >= 10.0)
        & (dist <= 300.0)
    )
    order = np.flatnonzero(seen)[np.argsort(dist[seen])][:rows]
    return [f"{snap.lane_ids[k]}@{dist[k]:.0f}" for k in order]


def _route_ahead(chain: Any, sid: str, edges: int = 3) -> list[str]:
    """The next ``edges`` edges of the vehicle's SUMO route, its own first."""
    try:
        veh = chain.bridge.traci.vehicle
        route, at = list(veh.getRoute(sid)), int(veh.getRouteIndex(sid))
    except Exception:  # a vehicle SUMO no longer knows
        return []
    return route[max(at, 0) : max(at, 0) + edges]


def _install() -> None:
    observe = harness.HarnessTruth.observe
    glosa_advisory = v2i_truth.V2iTruth.glosa_advisory

    def glosa_advisory_kept(self: Any, vehicle: str, time_s: float, values: Any, *a: Any) -> None:
        _LAST["v2i"] = self
        glosa_advisory(self, vehicle, time_s, values, *a)
        kept = _GLOSA_VALUES[id(self.advice[-1])] = dict(values)
        try:
            kept["lane"] = self.traci.vehicle.getLaneID(vehicle)
            kept["route"] = self.traci.vehicle.getRoute(vehicle)
            kept["at"] = self.traci.vehicle.getRouteIndex(vehicle)
        except self.traci.TraCIException:
            kept["lane"] = "(left the simulation)"

    record = runner._Chain._record

    def observe_and_keep(self: Any, snap: Any) -> None:
        if "snap" in _LAST:
            _LAST["prev"] = _LAST["snap"]
        _LAST["snap"] = snap
        if _LAST.get("history"):
            _HISTORY.append(snap)
        observe(self, snap)

    def record_with_context(self: Any, adv: Any, now_ms: int, time_s: float, **kw: Any) -> None:
        n = len(self.records)
        record(self, adv, now_ms, time_s, **kw)
        if len(self.records) > n and "snap" in _LAST:
            app, ego, other, t = self.records[-1][:4]
            prev = _LAST.get("prev")
            yaw = float("nan")
            if prev is not None and ego in prev.index and ego in _LAST["snap"].index:
                h0 = prev.heading_deg[prev.index[ego]]
                h1 = _LAST["snap"].heading_deg[_LAST["snap"].index[ego]]
                yaw = ((h1 - h0 + 180.0) % 360.0 - 180.0) / (_LAST["snap"].time_s - prev.time_s)
            _CONTEXT[(app, ego, other, t)] = {
                "queue": _queue_seen(_LAST["snap"], ego) if app == "TJW" else None,
                "route": _route_ahead(self, ego) if app == "TJW" else None,
                "yaw": yaw,
                "ego": _state(_LAST["snap"], ego),
                "other": _state(_LAST["snap"], other),
                "ttc": adv.ttc_s,
                "values": dict(adv.values),
                "level": int(adv.level),
            }

    harness.HarnessTruth.observe = observe_and_keep  # type: ignore[method-assign]
    v2i_truth.V2iTruth.glosa_advisory = glosa_advisory_kept  # type: ignore[method-assign]
    runner._Chain._record = record_with_context  # type: ignore[method-assign]


def _tags(ctx: dict[str, Any]) -> list[str]:
    e, o = ctx["ego"], ctx["other"]
    tags = []
    if e is not None:
        tags += ["ego stopped"] if e["v"] < 0.5 else ["ego <3 m/s"] if e["v"] < 3.0 else []
        tags += ["ego braking"] if e["a"] < -1.5 else []
        tags += ["ego in junction"] if e["lane"].startswith(":") else []
        tags += ["ego left ind."] if e["sig"] & 2 else []
        tags += ["ego right ind."] if e["sig"] & 1 else []
    if o is not None:
        tags += ["other stopped"] if o["v"] < 0.5 else ["other <3 m/s"] if o["v"] < 3.0 else []
        tags += ["other braking"] if o["a"] < -1.5 else []
        tags += ["other in junction"] if o["lane"].startswith(":") else []
        tags += ["other pedestrian"] if o["ped"] else []
        if e is not None:
            same = e["lane"].rsplit("_", 1)[0] == o["lane"].rsplit("_", 1)[0]
            tags += ["same edge"] if same else []
    return tags


def _at(t_s: float) -> Any:
    """The kept snapshot nearest ``t_s``."""
    return min(_HISTORY, key=lambda snap: abs(snap.time_s - t_s))


def _print_misses(app: str, result: Any) -> None:
    """``app``'s required, observable episodes no warning matched: the parties at the start
    and at the end, and the ego's warnings from ``app`` around them."""
    missed = []
    for e in result.episodes:
        if e.app != app or not e.is_required or not e.is_observable:
            continue
        alerts = [Alert(*w, None) for w in result.warnings if w[0] == app]
        s = score([e], alerts, vehicle_hours=1.0, apps={app})
        if not s[app].detected:
            missed.append(e)
    print(f"\n{app}: {len(missed)} missed observable episodes")
    for e in missed:
        print(f"  {e.ego}->{e.other} {e.start_s:.1f}-{e.end_s:.1f} s min ttc {e.min_ttc_s}")
        for t in (e.start_s, (e.start_s + e.end_s) / 2, e.end_s):
            snap = _at(t)
            a, b = _state(snap, e.ego), _state(snap, e.other)
            if a is not None and e.other is None:  # a road hazard (TJW, HLW): what TJW sees
                print(
                    f"    t={t:6.1f} ego v={a['v']:.1f} a={a['a']:.1f} h={a['h']:.0f} "
                    f"{a['lane']} sig={a['sig']} | slow ahead "
                    + " ".join(_queue_seen(snap, e.ego, rows=6))
                )
                continue
            if a is None or b is None:
                print(f"    t={t:.1f}: ego {a is not None}, other {b is not None} in the run")
                continue
            h = np.radians(a["h"])
            dx, dy = b["x"] - a["x"], b["y"] - a["y"]
            print(
                f"    t={t:6.1f} ego v={a['v']:.1f} a={a['a']:.1f} h={a['h']:.0f} {a['lane']} "
                f"sig={a['sig']} | other v={b['v']:.1f} h={b['h']:.0f} {b['lane']} | along "
                f"{dx * np.sin(h) + dy * np.cos(h):.1f} right {dx * np.cos(h) - dy * np.sin(h):.1f}"
            )
        near = [w for w in result.warnings if w[0] == app and w[1] == e.ego]
        print(f"    ego's {app} warnings: {[(w[2], round(w[3], 1)) for w in near][:6]}")


def scenario_for(name: str, *, seed: int | None = None, replicate: int | None = None) -> Scenario:
    """The scenario (a library name or a .toml file) with SUMO's ``seed`` as given, or the seed
    ``evaluate`` runs its replicate ``replicate`` with (``NAME~sK`` in its report: for K > 0 a
    hash of the scenario's seed and K, not K: ``--seed 1`` is another run than ``~s1``)."""
    sc = load_scenario(Path(name)) if name.endswith(".toml") else load_library(name)[0]
    if seed is not None:
        sc = msgspec.structs.replace(sc, seed=seed)
    if replicate is not None:
        sc = msgspec.structs.replace(sc, seed=derived_seed(sc.seed, replicate))
    return sc


def main() -> int:
    """Run one scenario and print its false alarms by cause."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("scenario")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, help="SUMO's seed, as given")
    seeds.add_argument(
        "--replicate",
        type=int,
        default=None,
        metavar="K",
        help="the seed of evaluate's replicate K (its report's NAME~sK: derived_seed, a hash "
        "for K > 0, not K itself)",
    )
    p.add_argument("--rows", type=int, default=6, help="sample rows per app")
    p.add_argument(
        "--misses",
        metavar="APP",
        nargs="+",
        help="also list APP's missed observable episodes: both parties at the episode's start "
        "and end, and the warnings the ego had from APP meanwhile",
    )
    p.add_argument("--glosa", action="store_true", help="also list GLOSA's wrong advisories")
    args = p.parse_args()
    sc = scenario_for(args.scenario, seed=args.seed, replicate=args.replicate)
    _install()
    _LAST["history"] = bool(args.misses) or args.glosa
    config = RunConfig()
    platform, _runtime = runtime_platform(
        message_set=config.message_set,
        origin_lat_deg=sc.origin_lat_deg,
        origin_lon_deg=sc.origin_lon_deg,
    )
    result = runner.run_scenario(
        sc, config=config, platform=platform, encode=runner.model_encoder(config.message_set)
    )
    false: dict[str, list[tuple[Alert, dict[str, Any]]]] = defaultdict(list)
    for app, ego, other, onset, end in result.warnings:
        w = Alert(app, ego, other, onset, end, None)
        s = score(result.episodes, [w], vehicle_hours=1.0, apps={app})[app]
        if s.matched_warnings:
            continue
        ctx = next(
            (c for (a, e, o, t), c in _CONTEXT.items() if e == ego and o == other and t == onset),
            None,
        )
        false[app].append((w, ctx or {"ego": None, "other": None, "ttc": None, "values": {}}))
    print(f"{sc.name} seed {sc.seed}: {result.vehicle_hours:.2f} vehicle-hours")
    for app in args.misses or ():
        _print_misses(app, result)
    if args.glosa:
        _print_glosa(args.rows)
    for app, rows in sorted(false.items(), key=lambda kv: -len(kv[1])):
        tags = Counter(t for _, c in rows for t in _tags(c))
        ttc = [c["ttc"] for _, c in rows if c.get("ttc") is not None]
        print(
            f"\n{app}: {len(rows)} false of {sum(1 for w in result.warnings if w[0] == app)}"
            f" warnings; ttc median {np.median(ttc) if ttc else float('nan'):.2f} s"
        )
        print("  " + ", ".join(f"{k} {v}" for k, v in tags.most_common()))
        for w, c in rows[: args.rows]:
            e, o = c["ego"] or {}, c["other"] or {}
            gap = float(np.hypot(e["x"] - o["x"], e["y"] - o["y"])) if e and o else float("nan")
            if e and o:
                h = np.radians(e["h"])
                dx, dy = o["x"] - e["x"], o["y"] - e["y"]
                rel = f"along {dx * np.sin(h) + dy * np.cos(h):.1f} right {dx * np.cos(h) - dy * np.sin(h):.1f}"
            else:
                rel = ""
            vals = rel + " " + " ".join(f"{k}={v:.2f}" for k, v in c.get("values", {}).items())
            if c.get("queue"):
                vals += " queue " + " ".join(c["queue"])
            if c.get("route"):
                vals += " route " + ">".join(c["route"])
            print(
                f"  t={w.onset_s:6.1f} {w.ego}->{w.other} ego v={e.get('v', 0):.1f} "
                f"a={e.get('a', 0):.1f} h={e.get('h', 0):.0f} yaw={c.get('yaw', 0):.0f} "
                f"{e.get('lane', '?')} sig={e.get('sig', 0)} | other v={o.get('v', 0):.1f} "
                f"a={o.get('a', 0):.1f} h={o.get('h', 0):.0f} {o.get('lane', '?')} | gap "
                f"{gap:.1f} m ttc={c.get('ttc') or 0:.2f} {vals}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
