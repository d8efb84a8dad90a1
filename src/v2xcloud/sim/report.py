"""The evaluation report: a table per application on stdout, ``report.json`` and an HTML page
with matplotlib plots (lead-time distributions, one timeline per scenario).
"""

from __future__ import annotations

import html
from pathlib import Path

import msgspec

from v2xcloud.sim import _plots
from v2xcloud.sim.evaluate import aggregate
from v2xcloud.sim.result import ScenarioResult
from v2xcloud.sim.scorer import AppScore, family_of

__all__ = ["format_table", "implemented_families", "split_groups", "write_report"]

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
    }
    (out_dir / "report.json").write_bytes(msgspec.json.format(msgspec.json.encode(doc)))
    lead_png = _plots.lead_times(scores, out_dir / "lead_times.png")
    timelines = [_plots.timeline(r, out_dir / f"timeline_{r.name}.png") for r in results]
    page = _html(title, results, scores, implemented, lead_png, timelines, groups)
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _html(
    title: str,
    results: list[ScenarioResult],
    scores: dict[str, AppScore],
    implemented: set[str],
    lead_png: Path | None,
    timelines: list[Path],
    groups: dict[str, dict[str, AppScore]],
) -> str:
    esc = html.escape
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
    group_tables = "".join(
        f"<h3>{esc(g)}</h3><pre>{esc(format_table(sc, implemented=implemented))}</pre>"
        for g, sc in groups.items()
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
        "pre{background:#f4f4f4;padding:1em}img{max-width:100%}</style></head><body>"
        f"<h1>{esc(title)}</h1><p>Channel: {esc(channel)}</p>"
        f"<h2>Per application</h2><pre>{esc(format_table(scores, implemented=implemented))}</pre>"
        f"{group_tables}"
        f"<h2>Scenarios</h2><table><tr><th>scenario</th><th>apps</th><th>episodes</th>"
        f"<th>warnings</th><th>wall s</th><th>rejected / encode errors</th></tr>{rows}</table>"
        f"<h2>Lead time</h2>{lead}<h2>Timelines</h2>{imgs}</body></html>"
    )
