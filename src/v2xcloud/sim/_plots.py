"""Matplotlib figures of the evaluation report (headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from v2xcloud.sim.result import ScenarioResult
from v2xcloud.sim.scorer import AppScore

__all__ = ["LEAD_REFERENCE_S", "cooperation", "lead_times", "timeline"]

LEAD_REFERENCE_S = 2.0
"""The lead time drawn on the lead-time plots: about the least a driver needs (NHTSA's FCW test
wants the alert by TTC >= 2.1 s for a stopped lead car; SUMO's PET threshold is 2.0 s)."""


def lead_times(scores: dict[str, AppScore], path: Path) -> Path | None:
    """Histogram of lead times per application with any, the ``LEAD_REFERENCE_S`` line
    labelled; ``None`` if there are none."""
    apps = [a for a, s in scores.items() if s.lead_times_s]
    if not apps:
        return None
    fig, axes = plt.subplots(1, len(apps), figsize=(3.2 * len(apps), 2.8), squeeze=False)
    for ax, app in zip(axes[0], apps, strict=True):
        ax.hist(scores[app].lead_times_s, bins=10, color="#3a7bd5")
        ax.axvline(
            LEAD_REFERENCE_S,
            color="#d9534f",
            linestyle="--",
            linewidth=1,
            label=f"{LEAD_REFERENCE_S:.0f} s reference",
        )
        ax.set_title(app)
        ax.set_xlabel("lead time (s)")
    axes[0][0].set_ylabel("episodes")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def timeline(result: ScenarioResult, path: Path) -> Path:
    """Ground-truth episodes (bars) and warnings (dots) over simulation time, one row per
    (app, ego); rows with required ground truth first, at most 30."""
    truth = {(e.app, e.ego) for e in result.episodes if e.is_required and e.is_observable}
    rows = {(e.app, e.ego) for e in result.episodes} | {(w[0], w[1]) for w in result.warnings}
    keys = sorted(rows, key=lambda k: (k not in truth, k))[:30]
    row = {k: i for i, k in enumerate(keys)}
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.28 * max(1, len(keys))))
    for e in result.episodes:
        if (e.app, e.ego) not in row:
            continue
        color = "#f0ad4e" if e.is_required and e.is_observable else "#cccccc"
        y = row[(e.app, e.ego)]
        ax.barh(y, e.end_s - e.start_s, left=e.start_s, height=0.5, color=color)
        if e.critical_s is not None:
            ax.plot(e.critical_s, y, "kx")
    for app, ego, _other, onset, end in result.warnings:
        if (app, ego) in row:
            ax.plot([onset, end], [row[(app, ego)]] * 2, color="#3a7bd5", linewidth=3)
            ax.plot(onset, row[(app, ego)], "o", color="#3a7bd5")
    ax.set_yticks(range(len(keys)), [f"{a} {e}" for a, e in keys], fontsize=7)
    ax.set_xlabel(
        "simulation time (s)   orange: ground truth (grey: grey zone or unobservable), "
        "x: critical, blue: warning",
        fontsize=8,
    )
    ax.set_title(result.name, fontsize=9)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def cooperation(results: list[ScenarioResult], out_dir: Path) -> list[Path]:
    """One figure per Day-2 app: a panel per figure name, a pair of bars per scenario (with
    the app, and the baseline without it where there is one), runs where the app had nothing
    to do ("no action") left out. Returns the PNGs written."""
    by_app: dict[str, dict[str, list[tuple[str, float | None, float | None]]]] = {}
    for r in results:
        for c in r.cooperation:
            if c.outcome.startswith("no action"):
                continue
            for f in c.figures:
                title = f"{f.name} ({f.unit})" if f.unit else f.name
                panel = by_app.setdefault(c.app, {}).setdefault(title, [])
                panel.append((c.scenario, f.value, f.baseline))
    out = []
    for app, panels in sorted(by_app.items()):
        fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.0), squeeze=False)
        for ax, (name, bars) in zip(axes[0], sorted(panels.items()), strict=True):
            ys = range(len(bars))
            ax.barh([y + 0.2 for y in ys], [v or 0.0 for _, v, _ in bars], height=0.4,
                    color="#3a7bd5", label="with app")  # fmt: skip
            ax.barh([y - 0.2 for y in ys], [b or 0.0 for _, _, b in bars], height=0.4,
                    color="#aaaaaa", label="without")  # fmt: skip
            ax.set_yticks(list(ys), [s for s, _, _ in bars], fontsize=7)
            ax.set_title(name, fontsize=8)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(app, fontsize=9)
        fig.tight_layout()
        path = out_dir / f"cooperation_{app}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        out.append(path)
    return out
