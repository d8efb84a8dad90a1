"""Evaluate misbehaviour detection: every attack class on every attack scenario, each run
twice on the same seed — detection off, then on — and scored per class.

One run per (scenario, class): ``share`` of the connected vehicles carry that class. The
detection-off run gives the attackers' false warnings without detection; the detection-on run
gives detection figures and the false warnings left (``sim.attack_score``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from v2xcloud.sim.attack_score import add_figures, class_rows
from v2xcloud.sim.attacks import ATTACK_KINDS, AttackSpec
from v2xcloud.sim.evaluate import ScreenFactory, evaluate
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import Scenario

__all__ = ["attack_runs", "evaluate_attacks", "format_attack_table", "parse_kinds"]

DEFAULT_SHARE = 0.1  # VeReMi-extension runs use 10–30 % attackers; a tenth is the lighter end


def parse_kinds(text: str) -> list[str]:
    """``"all"`` or comma-separated attack classes; raises ``ValueError`` naming the bad one."""
    if text == "all":
        return list(ATTACK_KINDS)
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    for k in kinds:
        if k not in ATTACK_KINDS:
            raise ValueError(
                f"unknown attack class {k!r}; choose from: all, {', '.join(ATTACK_KINDS)}"
            )
    return kinds


def attack_runs(scenarios: list[Scenario], kinds: list[str], *, share: float) -> list[Scenario]:
    """One scenario per (scenario, class), named ``"<scenario>+<class>"``."""
    return [
        msgspec.structs.replace(
            sc,
            name=f"{sc.name}+{kind}",
            attacks=(AttackSpec(kind=kind, share=share),),  # type: ignore[arg-type]
        )
        for sc in scenarios
        for kind in kinds
    ]


def evaluate_attacks(
    scenarios: list[Scenario],
    *,
    kinds: list[str],
    config: RunConfig,
    screen_factory: ScreenFactory,
    share: float = DEFAULT_SHARE,
    jobs: int = 1,
    on_done: Callable[[ScenarioResult, int, int], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Per base scenario, the per-class table rows (``attack_score.class_rows``)."""
    runs = attack_runs(scenarios, kinds, share=share)
    off = {r.name: r for r in evaluate(runs, config=config, jobs=jobs, on_done=on_done)}
    on = evaluate(runs, config=config, jobs=jobs, on_done=on_done, screen_factory=screen_factory)
    tables: dict[str, list[dict[str, Any]]] = {}
    for sc in scenarios:
        per_class: dict[str, dict[str, Any]] = {}
        for r in on:
            base, _, kind = r.name.partition("+")
            if base != sc.name:
                continue
            fig = add_figures({}, r.misbehaviour)
            fig["false_warnings_off"] = off[r.name].misbehaviour.get("attacker_false_warnings", 0)
            per_class[kind] = fig
        tables[sc.name] = class_rows(per_class)
    return tables


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def format_attack_table(rows: list[dict[str, Any]]) -> str:
    """The per-class table with macro-F1, benign false positives and false warnings off/on."""
    head = (f"{'class':24} {'att':>4} {'det':>4} {'P':>5} {'R':>5} {'F1':>5} {'msgP':>5} "
            f"{'msgR':>5} {'msgF1':>5} {'ttd50s':>6} {'ttdmax':>6} {'bFP':>4} {'fw off':>6} {'fw on':>6}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['class']:24} {r['attackers']:>4} {r['detected']:>4} {_fmt(r['precision']):>5} "
            f"{_fmt(r['recall']):>5} {_fmt(r['f1']):>5} {_fmt(r['msg_precision']):>5} "
            f"{_fmt(r['msg_recall']):>5} {_fmt(r['msg_f1']):>5} {_fmt(r['ttd_median_s']):>6} "
            f"{_fmt(r['ttd_max_s']):>6} {r['benign_flagged']:>4} {_fmt(r['false_warnings_off']):>6} "
            f"{_fmt(r['false_warnings_on']):>6}"
        )
    f1s = [r["f1"] or 0.0 for r in rows if r["attackers"]]
    benign = sum(r["benign_senders"] for r in rows)
    flagged = sum(r["benign_flagged"] for r in rows)
    off = sum(r["false_warnings_off"] or 0 for r in rows)
    on = sum(r["false_warnings_on"] or 0 for r in rows)
    lines.append(
        f"macro-F1 {sum(f1s) / len(f1s) if f1s else 0.0:.3f} over {len(f1s)} classes "
        f"(lowest {min(f1s) if f1s else 0.0:.2f}); benign false positives {flagged}/{benign} "
        f"senders ({flagged / benign if benign else 0.0:.2%}); attackers' false warnings "
        f"{off} off -> {on} on ({1 - on / off if off else 0.0:.0%} cut)"
    )
    return "\n".join(lines)
