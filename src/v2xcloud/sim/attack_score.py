"""Score misbehaviour detection in the bench: per attack class by vehicle and by message,
time to detect, benign false positives, and the attackers' false warnings.

By vehicle: an attacker (a vehicle that sent at least one lie) is detected when any identity
it sent under (its own BSM id or a ghost) was flagged; a benign sender flagged under its own
id is a false positive. By message: a BSM counts as classified malicious when its sender id
was flagged at or before its arrival (the platform refuses it); the ground truth is whether
an attacker sent it. Time to detect: first flag of any of the attacker's identities minus its
first lie. Per-run figures are counts, so runs add up (:func:`add_figures`) and the ratios are
taken at the end (:func:`class_rows`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["add_figures", "class_rows", "detection_figures"]


def detection_figures(
    *,
    attackers: dict[str, tuple[str, int]],
    owner: Callable[[str], str | None],
    flags: dict[str, int],
    messages: Iterable[tuple[str, int, bool]],
    senders: set[str],
    epoch_ms: int,
    attacker_warnings: int,
    attacker_false_warnings: int,
) -> dict[str, Any]:
    """One run's counts. ``attackers``: SUMO id → (attack class, first lie, UTC ms);
    ``owner``: participant id → SUMO id; ``flags``: participant id → flagged at (UTC ms);
    ``messages``: (sender id, arrival ms, malicious?) of every BSM delivered; ``senders``:
    SUMO ids that sent BSMs."""
    first_flag: dict[str, int] = {}
    for pid, t in flags.items():
        sid = owner(pid)
        if sid is not None:
            first_flag[sid] = min(t, first_flag.get(sid, t))
    classes: dict[str, dict[str, Any]] = {}
    for sid, (kind, first_lie) in attackers.items():
        row = classes.setdefault(kind, _empty_class())
        row["attackers"] += 1
        if sid in first_flag:
            row["detected"] += 1
            row["ttd_ms"].append(max(first_flag[sid] - first_lie, 0))
    benign = senders - set(attackers)
    out: dict[str, Any] = {
        "classes": classes,
        "benign_senders": len(benign),
        "benign_flagged": len(benign & set(first_flag)),
        "msg_fp": 0,
        "msg_tn": 0,
        "attacker_warnings": attacker_warnings,
        "attacker_false_warnings": attacker_false_warnings,
    }
    kind_of = {sid: kind for sid, (kind, _) in attackers.items()}
    for pid, arrive_ms, is_malicious in messages:
        flagged_at = flags.get(pid)
        refused = flagged_at is not None and flagged_at <= arrive_ms
        if is_malicious:
            sid = owner(pid)
            row = classes.setdefault(kind_of.get(sid or "", "unknown"), _empty_class())
            row["msg_tp" if refused else "msg_fn"] += 1
        else:
            out["msg_fp" if refused else "msg_tn"] += 1
    return out


def _empty_class() -> dict[str, Any]:
    return {"attackers": 0, "detected": 0, "ttd_ms": [], "msg_tp": 0, "msg_fn": 0}


def add_figures(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Sum two runs' counts (lists concatenate)."""
    if not into:
        return {**more, "classes": {k: dict(v) for k, v in more["classes"].items()}}
    for key, value in more.items():
        if key == "classes":
            for kind, row in value.items():
                acc = into["classes"].setdefault(kind, _empty_class())
                for k, v in row.items():
                    acc[k] = acc[k] + v
        else:
            into[key] = into.get(key, 0) + value
    return into


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None or p + r == 0:
        return None if p is None or r is None else 0.0
    return 2 * p * r / (p + r)


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def class_rows(per_class: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows, one per attack class, from the summed figures of that class's runs
    (``per_class[kind]``: the figures of the runs where ``kind`` was the attack)."""
    rows = []
    for kind, fig in per_class.items():
        c = fig["classes"].get(kind, _empty_class())
        fp_v = fig["benign_flagged"]
        p_v, r_v = (
            _ratio(c["detected"], c["detected"] + fp_v),
            _ratio(c["detected"], c["attackers"]),
        )
        p_m = _ratio(c["msg_tp"], c["msg_tp"] + fig["msg_fp"])
        r_m = _ratio(c["msg_tp"], c["msg_tp"] + c["msg_fn"])
        ttd = c["ttd_ms"]
        rows.append({
            "class": kind, "attackers": c["attackers"], "detected": c["detected"],
            "benign_flagged": fp_v, "benign_senders": fig["benign_senders"],
            "precision": p_v, "recall": r_v, "f1": _f1(p_v, r_v),
            "msg_precision": p_m, "msg_recall": r_m, "msg_f1": _f1(p_m, r_m),
            "ttd_median_s": statistics.median(ttd) / 1000 if ttd else None,
            "ttd_max_s": max(ttd) / 1000 if ttd else None,
            "false_warnings_off": fig.get("false_warnings_off"),
            "false_warnings_on": fig["attacker_false_warnings"],
        })  # fmt: skip
    return rows
