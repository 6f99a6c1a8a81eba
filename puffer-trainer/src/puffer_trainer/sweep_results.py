"""The results of a sweep: trial records, the Pareto front, the best pick, and the table, CSV and PNG.

Plain data and pure functions (no optuna): :mod:`puffer_trainer.sweep` turns the study's trials into
:class:`TrialRecord` and calls these.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "TrialRecord",
    "pareto_front",
    "pick_best",
    "results_table",
    "write_pareto_png",
    "write_csv",
    "fmt_value",
]


@dataclass
class TrialRecord:
    """One finished trial as the sweep reports it."""

    number: int
    state: str  #: "COMPLETE", "PRUNED", "FAIL", "RUNNING" or "WAITING"
    score: float | None  #: the end-of-run evaluation (COMPLETE only)
    cost_s: float | None  #: wall-clock seconds of training
    values: dict[str, Any] = field(default_factory=dict)  #: the config values drawn (``section.key``)
    steps: int | None = None
    note: str = ""  #: why a trial was pruned, skipped or failed
    curve: list[list[float]] = field(default_factory=list)  #: ``[seconds, step, training score]``
    target_reached_s: float | None = None  #: when the training score first reached ``run.score_target``


def pareto_front(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Completed trials that no other beats on both objectives (score up, cost down), cheapest first."""
    done = [t for t in trials if t.state == "COMPLETE" and t.score is not None and t.cost_s is not None]
    front = []
    for t in done:
        dominated = any(
            o.score >= t.score and o.cost_s <= t.cost_s and (o.score > t.score or o.cost_s < t.cost_s)
            for o in done
        )
        if not dominated:
            front.append(t)
    return sorted(front, key=lambda t: (t.cost_s, -t.score, t.number))


def pick_best(front: Sequence[TrialRecord], target: float | None) -> TrialRecord | None:
    """The cheapest trial of the front that scores at least ``target``; else (or with no target) the
    highest-scoring one."""
    if not front:
        return None
    if target is not None:
        reaching = [t for t in front if t.score >= target]
        if reaching:
            return min(reaching, key=lambda t: (t.cost_s, t.number))
    return max(front, key=lambda t: (t.score, -t.cost_s))


def write_pareto_png(
    trials: Sequence[TrialRecord],
    front: Sequence[TrialRecord],
    best: TrialRecord | None,
    path: str | os.PathLike[str],
    title: str,
    target: float | None = None,
    baseline: TrialRecord | None = None,
) -> Path:
    """Score against cost of every completed trial, the Pareto front as a staircase, the best circled."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from .checkpoint import atomic_write

    figure = Figure(figsize=(7.5, 5), dpi=110)
    axes = figure.add_subplot(1, 1, 1)
    done = [t for t in trials if t.state == "COMPLETE" and t.score is not None]
    axes.scatter([t.cost_s for t in done], [t.score for t in done], s=22, c="#8aa0b8", label="run", zorder=2)
    pruned = [t for t in trials if t.state == "PRUNED" and t.curve]
    if pruned:
        axes.scatter(
            [t.curve[-1][0] for t in pruned], [t.curve[-1][2] for t in pruned], s=22, marker="x",
            c="#c9a0a0", label="pruned (training score when stopped)", zorder=2,
        )  # fmt: skip
    if front:
        xs, ys = [], []
        for t in front:  # a staircase: each front point holds until the next, better one
            if xs:
                xs.append(t.cost_s)
                ys.append(ys[-1])
            xs.append(t.cost_s)
            ys.append(t.score)
        axes.plot(xs, ys, "-o", c="#d0552b", ms=5, lw=1.5, label="Pareto front", zorder=3)
        for t in front:
            axes.annotate(f"#{t.number}", (t.cost_s, t.score), textcoords="offset points", xytext=(4, -10),
                          fontsize=7, color="#d0552b")  # fmt: skip
    if baseline is not None and baseline.score is not None:
        axes.scatter([baseline.cost_s], [baseline.score], s=90, facecolors="none", edgecolors="black",
                     label=f"first run (the config's own values), #{baseline.number}", zorder=4)  # fmt: skip
    if best is not None:
        axes.scatter([best.cost_s], [best.score], s=160, marker="*", c="#2b8a3e", zorder=5,
                     label=f"best (#{best.number}): {best.score:.4g} in {best.cost_s:.0f}s")  # fmt: skip
    if target is not None:
        axes.axhline(target, ls="--", c="gray", lw=1, label=f"target {target:g}")
    axes.set_xlabel("cost: wall-clock seconds of training")
    axes.set_ylabel("score: end-of-run evaluation")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    path = Path(path)
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png")
    return path


def fmt_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def results_table(records: Sequence[TrialRecord], front: Sequence[TrialRecord], best: TrialRecord | None,
                  limit: int = 10) -> str:  # fmt: skip
    """Plain text table of the best completed runs (highest score first); ``*`` marks the Pareto front."""
    done = sorted(
        (t for t in records if t.state == "COMPLETE" and t.score is not None),
        key=lambda t: (-t.score, t.cost_s, t.number),
    )[:limit]
    if not done:
        return "no run finished yet"
    on_front = {t.number for t in front}
    keys = sorted({k for t in done for k in t.values})
    short = [k.split(".", 1)[1] for k in keys]
    header = ["", "trial", "score", "cost_s", "steps", "target_s", *short]
    rows = [header]
    for t in done:
        mark = "B" if best is not None and t.number == best.number else ""
        mark += "*" if t.number in on_front else ""
        target = "-" if t.target_reached_s is None else f"{t.target_reached_s:.0f}"
        steps = "-" if t.steps is None else f"{t.steps / 1e6:.1f}M" if t.steps >= 1e6 else str(t.steps)
        rows.append([mark, f"#{t.number}", fmt_value(t.score), f"{t.cost_s:.1f}", steps, target,
                     *(fmt_value(t.values.get(k)) for k in keys)])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows]
    legend = "* on the Pareto front (no run both scored higher and cost less), B the best config"
    return "\n".join([*lines, legend])


def write_csv(records: Sequence[TrialRecord], path: Path) -> None:
    keys = sorted({k for t in records for k in t.values})
    from .checkpoint import atomic_write

    with atomic_write(path) as handle:
        handle.write(_csv_text(records, keys).encode())


def _csv_text(records: Sequence[TrialRecord], keys: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["trial", "state", "score", "cost_s", "steps", "target_reached_s", "note", *keys])
    for t in records:
        writer.writerow([t.number, t.state, t.score, t.cost_s, t.steps, t.target_reached_s, t.note,
                         *(t.values.get(k) for k in keys)])  # fmt: skip
    return out.getvalue()
