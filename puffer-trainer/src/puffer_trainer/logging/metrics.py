"""Metrics on disk: one JSON object per log point in ``metrics.jsonl`` and a learning-curve PNG.

The PNG is drawn with ``matplotlib.figure.Figure`` and ``FigureCanvasAgg`` directly, so the process-wide
matplotlib backend is never touched (no ``matplotlib.use``, no pyplot state).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..checkpoint import atomic_write
from . import SCORE_KEYS, Snapshot

__all__ = ["MetricsWriter", "read_metrics", "plot_curve", "curve_figure", "first_reached", "target_key"]

#: Curves drawn when present, one panel each.
CURVE_KEYS = ("episode/episode_return", "episode/score", "episode/episode_length")


class MetricsWriter:
    """Appends snapshots to a JSONL file (continuing an existing file on resume) and draws the curve."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        curve_path: str | os.PathLike[str] | None = None,
        resume_step: int | None = None,
        *,
        title: str | None = None,
        target: float | None = None,
    ) -> None:
        """``resume_step``: the step a resumed run continues from; later records (written after that
        checkpoint by the run that is being resumed) are dropped, so steps never go backwards in the file.
        ``title`` and ``target`` (a score target, drawn as a line) are passed to :func:`plot_curve`."""
        self.path = Path(path)
        self.curve_path = Path(curve_path) if curve_path is not None else None
        self.title = title
        self.target = target
        #: Records kept from the run being resumed (empty for a new run).
        self.resumed_records: list[dict[str, Any]] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
            tmp = self.path.with_name(f".{self.path.name}.rewrite.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
            os.replace(tmp, self.path)
            self.resumed_records = kept
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    @property
    def resumed_elapsed_s(self) -> float:
        """Wall-clock seconds the resumed run had trained (its last kept record), so time keeps counting."""
        times = [r["elapsed_s"] for r in self.resumed_records if isinstance(r.get("elapsed_s"), (int, float))]
        return float(max(times)) if times else 0.0

    def log(self, snapshot: Snapshot) -> None:
        record = {
            k: (v if not isinstance(v, float) or math.isfinite(v) else None)
            for k, v in snapshot.flat().items()
        }
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def message(self, text: str) -> None:
        """Messages are for people; they are not written to the metrics file."""

    def draw(self) -> Path | None:
        """Redraw the learning curve from the whole metrics file; returns its path (or None)."""
        if self.curve_path is None:
            return None
        self._handle.flush()
        plot_curve(read_metrics(self.path), self.curve_path, title=self.title, target=self.target)
        return self.curve_path

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a metrics JSONL file; a torn last line (crash mid-write) is skipped."""
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        return []
    return records


def target_key(records: list[dict[str, Any]]) -> str:
    """The metrics key a score target applies to: ``episode/score`` when logged, else the episode return."""
    for key in SCORE_KEYS:
        if any(r.get(f"episode/{key}") is not None for r in records):
            return f"episode/{key}"
    return f"episode/{SCORE_KEYS[-1]}"


def first_reached(records: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    """The first record whose score (see :func:`target_key`) is at least ``target``, else None."""
    key = target_key(records)
    for record in records:
        value = record.get(key)
        if isinstance(value, (int, float)) and value >= target:
            return record
    return None


def plot_curve(
    records: list[dict[str, Any]],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    target: float | None = None,
) -> None:
    """Draw episode statistics against global step into a PNG at ``path`` (written atomically).

    See :func:`curve_figure` for what is drawn.
    """
    figure = curve_figure(records, title=title, target=target)
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png")


def curve_figure(
    records: list[dict[str, Any]], *, title: str | None = None, target: float | None = None
) -> Any:
    """The learning-curve figure (a ``matplotlib.figure.Figure``, no pyplot) of metrics ``records``.

    One panel per statistic of :data:`CURVE_KEYS` that was logged (``sps`` when none was); ``title`` above
    them; ``target`` as a dashed line on the score's panel (see :func:`target_key`), with the point where it
    was first reached. The top axis of the first panel shows wall-clock seconds (``elapsed_s``) at the steps.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [k for k in CURVE_KEYS if any(r.get(k) is not None for r in records)] or ["sps"]
    score_key = target_key(records) if target is not None else None
    reached = first_reached(records, target) if target is not None else None
    figure = Figure(figsize=(6.4, 2.6 * len(keys) + 0.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    if title:
        figure.suptitle(title, fontsize=11)
    for index, key in enumerate(keys):
        axes = figure.add_subplot(len(keys), 1, index + 1)
        points = [(r["step"], r[key]) for r in records if r.get(key) is not None and "step" in r]
        if points:
            steps, values = zip(*points)
            axes.plot(steps, values, color="tab:blue", linewidth=1.5)
        else:
            axes.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axes.transAxes)
        if key == score_key:
            axes.axhline(target, color="tab:red", linestyle="--", linewidth=1, label=f"target {target:g}")
            if reached is not None:
                axes.plot([reached["step"]], [reached[key]], "o", color="tab:red", markersize=4,
                          label=f"reached at step {reached['step']:,}")  # fmt: skip
            axes.legend(loc="lower right", fontsize=8)
        axes.set_ylabel(key.split("/")[-1].replace("_", " "))
        axes.grid(alpha=0.3)
        if index == 0:
            _time_axis(axes, records, np)
    axes.set_xlabel("global step")
    return figure


def _time_axis(axes: Any, records: list[dict[str, Any]], np: Any) -> None:
    """A top x-axis in wall-clock seconds, mapped from steps through the records (step and time both grow)."""
    pairs = sorted(
        (float(r["step"]), float(r["elapsed_s"]))
        for r in records
        if isinstance(r.get("step"), (int, float)) and isinstance(r.get("elapsed_s"), (int, float))
    )
    steps, times = [], []
    for step, seconds in pairs:  # interpolation needs strictly increasing points on both axes
        if not steps or (step > steps[-1] and seconds > times[-1]):
            steps.append(step)
            times.append(seconds)
    if len(steps) < 2:
        return
    xs, ts = np.asarray(steps), np.asarray(times)

    def interp(x: Any, xp: Any, fp: Any) -> Any:
        # Linear beyond both ends, not clamped: axis margins lie outside the data and must stay invertible.
        x = np.asarray(x, dtype=float)
        out = np.interp(x, xp, fp)
        low, high = (fp[1] - fp[0]) / (xp[1] - xp[0]), (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
        out = np.where(x < xp[0], fp[0] + (x - xp[0]) * low, out)
        return np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * high, out)

    top = axes.secondary_xaxis("top", functions=(lambda x: interp(x, xs, ts), lambda t: interp(t, ts, xs)))
    top.set_xlabel("wall-clock seconds", fontsize=8)
