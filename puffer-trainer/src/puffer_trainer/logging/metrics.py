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
from . import Snapshot

__all__ = ["MetricsWriter", "read_metrics", "plot_curve"]

#: Curves drawn when present, one panel each.
CURVE_KEYS = ("episode/episode_return", "episode/score", "episode/episode_length")


class MetricsWriter:
    """Appends snapshots to a JSONL file (continuing an existing file on resume) and draws the curve."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        curve_path: str | os.PathLike[str] | None = None,
        resume_step: int | None = None,
    ) -> None:
        """``resume_step``: the step a resumed run continues from; later records (written after that
        checkpoint by the run that is being resumed) are dropped, so steps never go backwards in the file."""
        self.path = Path(path)
        self.curve_path = Path(curve_path) if curve_path is not None else None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
            tmp = self.path.with_name(f".{self.path.name}.rewrite.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
            os.replace(tmp, self.path)
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

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
        plot_curve(read_metrics(self.path), self.curve_path)
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


def plot_curve(records: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Draw episode statistics against global step into a PNG at ``path`` (written atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [k for k in CURVE_KEYS if any(r.get(k) is not None for r in records)] or ["sps"]
    figure = Figure(figsize=(6.4, 2.6 * len(keys)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    for index, key in enumerate(keys):
        axes = figure.add_subplot(len(keys), 1, index + 1)
        points = [(r["step"], r[key]) for r in records if r.get(key) is not None and "step" in r]
        if points:
            steps, values = zip(*points)
            axes.plot(steps, values, color="tab:blue", linewidth=1.5)
        else:
            axes.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_ylabel(key.split("/")[-1].replace("_", " "))
        axes.grid(alpha=0.3)
    axes.set_xlabel("global step")
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png")
