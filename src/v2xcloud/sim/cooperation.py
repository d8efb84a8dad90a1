"""What a cooperative (T/CSAE 157-2020 Day-2) application achieved in one scenario run.

Day-1 apps warn and are scored against hazard episodes (``sim.scorer``). Day-2 apps coordinate,
share or serve, and are scored by their effect: each run measures named figures with the
application and, where it makes sense, the same traffic without it (``baseline``), plus the
safety of every cooperative plan (collisions, the smallest time to collision during
manoeuvres). ``ScenarioResult.cooperation`` holds one ``CooperationScore`` per Day-2 app run.
"""

from __future__ import annotations

import msgspec

__all__ = ["CooperationScore", "Figure", "with_baseline"]


class Figure(msgspec.Struct, frozen=True, kw_only=True):
    """One measured figure. ``unit`` as printed ("s", "m", "%", "B", "g", "veh/h", ...);
    ``baseline`` is the same figure for the same traffic without the application (``None``
    where there is no such run); ``is_lower_better`` says which way is an improvement."""

    name: str
    unit: str
    value: float | None
    baseline: float | None = None
    is_lower_better: bool = True


class CooperationScore(msgspec.Struct, frozen=True, kw_only=True):
    """A Day-2 application's outcome in one scenario.

    ``app`` is the application code (e.g. "SDS", "CLC", "CIP"); ``outcome`` one sentence on
    what changed and why (or "no action" in a background run); ``collisions`` counts those
    involving a vehicle that followed a cooperative plan; ``min_ttc_s`` is the smallest time to
    collision seen during the plans' manoeuvres (``None``: no manoeuvre); ``messages_sent``
    counts the standard messages the app sent, by type; ``messages_checked`` how many of them
    were decoded again with the published reference schema during the run.
    """

    app: str
    scenario: str
    outcome: str
    figures: tuple[Figure, ...] = ()
    collisions: int = 0
    min_ttc_s: float | None = None
    messages_sent: dict[str, int] = msgspec.field(default_factory=dict)
    messages_checked: int = 0


def with_baseline(
    scores: list[CooperationScore], baseline: list[CooperationScore]
) -> list[CooperationScore]:
    """``scores`` with each figure's ``baseline`` taken from the same app's same-named figure
    in ``baseline`` (the same traffic run without the app); figures without one keep theirs."""
    by_app = {b.app: {f.name: f.value for f in b.figures} for b in baseline}
    out = []
    for s in scores:
        base = by_app.get(s.app, {})
        figures = tuple(
            msgspec.structs.replace(f, baseline=base[f.name]) if f.name in base else f
            for f in s.figures
        )
        out.append(msgspec.structs.replace(s, figures=figures))
    return out
