"""The evaluation report: a table per application on stdout, ``report.json`` and an HTML page
with matplotlib plots (lead-time distributions, one timeline per scenario). ``report.json``
also holds, per app and figure, the mean and 95 % interval over the seed replicates
(``intervals``; one replicate: no half-width), which the console's evaluation view shows.

Day-1 apps are scored against hazard episodes (``format_table``); the Day-2 (cooperative)
apps by their effect, one ``CooperationScore`` per app and scenario (``format_cooperation``:
every figure with and without the app, collisions of cooperative plans, the smallest TTC
during manoeuvres, messages sent and decoded again with the reference schema), plotted as
with/without bars per figure (``_plots.cooperation``).
"""

from __future__ import annotations

import html
from pathlib import Path

import msgspec

from v2xcloud.sim import _plots
from v2xcloud.sim.cooperation import CooperationScore
from v2xcloud.sim.evaluate import aggregate
from v2xcloud.sim.replicates import intervals, split_replicates
from v2xcloud.sim.result import ScenarioResult
from v2xcloud.sim.scorer import AppScore, family_of

__all__ = [
    "format_cooperation",
    "format_table",
    "implemented_families",
    "split_groups",
    "write_report",
]

_COLUMNS = (
    ("app", "app", "{}"),
    ("episodes", "episodes", "{}"),
    ("detected", "detected", "{}"),
    ("warnings", "warnings", "{}"),
    ("recall", "recall", "{:.2f}"),
    ("precision", "precision", "{:.2f}"),
    ("FA/veh-h", "false_alarms_per_vehicle_hour", "{:.1f}"),
    ("lead med s", "lead_time_median_s", "{:.2f}"),
    ("lead p10 s", "lead_time_p10_s", "{:.2f}"),
    ("TTC@warn s", "ttc_at_onset_median_s", "{:.2f}"),
    ("flicker", "flicker", "{}"),
    ("unseen", "unobservable", "{}"),
    ("lat med ms", "latency_median_ms", "{:.0f}"),
)


def implemented_families(results: list[ScenarioResult]) -> set[str]:
    """Families of the applications the platform ran (scored), over all results."""
    return {family_of(a) for r in results for a in r.implemented_apps}


def split_groups(results: list[ScenarioResult]) -> dict[str, list[ScenarioResult]]:
    """Scripted hazard scenarios (they name their apps) apart from busy background traffic."""
    return {
        "scripted hazards": [r for r in results if r.apps and not r.name.startswith("demo")],
        "busy traffic (background and demo district)": [
            r for r in results if not r.apps or r.name.startswith("demo")
        ],
    }


def format_table(scores: dict[str, AppScore], *, implemented: set[str]) -> str:
    """A fixed-width table, one row per family; unimplemented families say so."""
    rows = [[c[0] for c in _COLUMNS]]
    missing = []
    for app, score in scores.items():
        summary = score.summary()
        if app not in implemented:
            missing.append(f"{app} ({score.episodes} episodes)")
            continue
        rows.append([
            "-" if summary[key] is None else fmt.format(summary[key]) for _, key, fmt in _COLUMNS
        ])  # fmt: skip
    widths = [max(len(r[k]) for r in rows) for k in range(len(_COLUMNS))]
    lines = [
        "  ".join(cell.rjust(widths[k]) if k else cell.ljust(widths[k]) for k, cell in enumerate(r))
        for r in rows
    ]
    if missing:
        lines.append("ground truth without an implemented app: " + ", ".join(missing))
    return "\n".join(lines)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _change(value: float | None, baseline: float | None, is_lower_better: bool) -> str:
    """The change against the baseline, with "+" when it is an improvement."""
    if value is None or baseline is None:
        return "-"
    delta = value - baseline
    better = delta < 0 if is_lower_better else delta > 0
    mark = "+" if better else ("=" if delta == 0 else "-")
    return f"{delta:+.3g} ({mark})"


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return [
        "  ".join(c.rjust(widths[k]) if k > 2 else c.ljust(widths[k]) for k, c in enumerate(r))
        for r in rows
    ]


def _app_line(app: str, scores: list[CooperationScore]) -> str:
    ttcs = [c.min_ttc_s for c in scores if c.min_ttc_s is not None]
    sent: dict[str, int] = {}
    for c in scores:
        for kind, n in c.messages_sent.items():
            sent[kind] = sent.get(kind, 0) + n
    sent_text = ", ".join(f"{k} {v}" for k, v in sorted(sent.items())) or "nothing"
    return (
        f"{app}: {len(scores)} scenarios, collisions {sum(c.collisions for c in scores)}, "
        f"min TTC {f'{min(ttcs):.2f} s' if ttcs else '-'}, sent {sent_text} "
        f"({sum(c.messages_checked for c in scores)} checked with the reference schema)"
    )


def _is_idle(score: CooperationScore) -> bool:
    """A run where the app had nothing to do (its probe says "no action")."""
    return score.outcome.startswith("no action")


def format_cooperation(results: list[ScenarioResult]) -> str:
    """The Day-2 table: one row per (app, scenario, figure) with the value with the app, the
    baseline without it and the change ("+" an improvement), for the runs where the app acted;
    then one line per app with its scenarios, collisions of cooperative plans, the smallest
    TTC during manoeuvres and the messages sent (decoded again with the reference schema),
    each acting run's outcome and the runs where it had nothing to do. Empty when no Day-2
    app ran."""
    scores = [c for r in results for c in r.cooperation]
    if not scores:
        return ""
    rows = [["app", "scenario", "figure", "with app", "without", "change", "unit"]]
    for c in sorted(scores, key=lambda c: (c.app, c.scenario)):
        if _is_idle(c):
            continue
        for f in c.figures:
            rows.append([
                c.app, c.scenario, f.name, _number(f.value), _number(f.baseline),
                _change(f.value, f.baseline, f.is_lower_better), f.unit,
            ])  # fmt: skip
        if not c.figures:
            rows.append([c.app, c.scenario, "(no figures)", "-", "-", "-", ""])
    lines = _aligned(rows) if len(rows) > 1 else ["(no Day-2 application acted in these runs)"]
    for app in sorted({c.app for c in scores}):
        mine = [c for c in scores if c.app == app]
        lines.append(_app_line(app, mine))
        lines.extend(f"  {c.scenario}: {c.outcome}" for c in mine if not _is_idle(c))
        idle = [c.scenario for c in mine if _is_idle(c)]
        if idle:
            lines.append(f"  no action in {len(idle)}: {', '.join(idle)}")
    return "\n".join(lines)


def write_report(
    results: list[ScenarioResult], scores: dict[str, AppScore], out_dir: Path, *, title: str
) -> Path:
    """Write ``report.json``, PNG plots and ``index.html`` into ``out_dir``; returns the HTML."""
    out_dir.mkdir(parents=True, exist_ok=True)
    implemented = implemented_families(results)
    groups = {name: aggregate(rs) for name, rs in split_groups(results).items() if rs}
    doc = {
        "title": title,
        "implemented_apps": sorted(implemented),
        "apps": {app: s.summary() for app, s in scores.items()},
        "groups": {g: {app: s.summary() for app, s in sc.items()} for g, sc in groups.items()},
        "scenarios": [msgspec.to_builtins(r) for r in results],
        "cooperation": [msgspec.to_builtins(c) for r in results for c in r.cooperation],
        "replicates": len(split_replicates(results)),
        "intervals": _intervals(results),
    }
    (out_dir / "report.json").write_bytes(msgspec.json.format(msgspec.json.encode(doc)))
    lead_png = _plots.lead_times(scores, out_dir / "lead_times.png")
    timelines = [_plots.timeline(r, out_dir / f"timeline_{r.name}.png") for r in results]
    coop_pngs = _plots.cooperation(results, out_dir)
    page = _html(title, results, scores, implemented, lead_png, timelines, groups, coop_pngs)
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _intervals(results: list[ScenarioResult]) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per app and figure: mean, 95 % half-width (``None`` with one replicate) and replicates
    with the figure, over the seed replicates (``sim.replicates``)."""
    spans = intervals([aggregate(rs) for rs in split_replicates(results)])
    return {
        app: {
            key: {"mean": iv.mean, "half_width": iv.half_width, "n": iv.n}
            for key, iv in figures.items()
            if iv is not None
        }
        for app, figures in spans.items()
    }


def _html(
    title: str,
    results: list[ScenarioResult],
    scores: dict[str, AppScore],
    implemented: set[str],
    lead_png: Path | None,
    timelines: list[Path],
    groups: dict[str, dict[str, AppScore]],
    coop_pngs: list[Path],
) -> str:
    esc = html.escape
    coop_table = format_cooperation(results)
    coop = (
        f"<h2>Cooperative (Day-2) applications</h2><pre>{esc(coop_table)}</pre>"
        + "".join(f'<img src="{p.name}" alt="{esc(p.stem)}">' for p in coop_pngs)
        if coop_table
        else ""
    )
    rows = "".join(
        f"<tr><td>{esc(r.name)}</td><td>{', '.join(r.apps) or 'background'}</td>"
        f"<td>{len(r.episodes)}</td><td>{len(r.warnings)}</td><td>{r.wall_s:.1f}</td>"
        f"<td>{esc(str(r.dead_letters or r.encode_errors or ''))}</td></tr>"
        for r in results
    )
    cfg = results[0].config if results else None
    channel = (
        f"latency {cfg.latency_ms} ms, jitter {cfg.jitter_ms} ms, loss {cfg.loss:.0%}"
        if cfg
        else ""
    )
    lead = f'<img src="{lead_png.name}" alt="lead times">' if lead_png else "<p>No lead times.</p>"
    imgs = "".join(
        f'<h3>{esc(p.stem[9:])}</h3><img src="{p.name}" alt="{esc(p.stem)}">' for p in timelines
    )
    # per group only when there are two: one group's table IS the per-application table
    group_tables = (
        "".join(
            f"<h3>{esc(g)}</h3><pre>{esc(format_table(sc, implemented=implemented))}</pre>"
            for g, sc in groups.items()
        )
        if len(groups) > 1
        else ""
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
        "pre{background:#f4f4f4;padding:1em}img{max-width:100%}</style></head><body>"
        f"<h1>{esc(title)}</h1><p>Channel: {esc(channel)}</p>"
        f"<h2>Per application</h2><pre>{esc(format_table(scores, implemented=implemented))}</pre>"
        f"{group_tables}{coop}"
        f"<h2>Scenarios</h2><table><tr><th>scenario</th><th>apps</th><th>episodes</th>"
        f"<th>warnings</th><th>wall s</th><th>rejected / encode errors</th></tr>{rows}</table>"
        f"<h2>Lead time</h2>{lead}<h2>Timelines</h2>{imgs}</body></html>"
    )
