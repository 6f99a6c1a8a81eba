"""Draw the benchmarks page's plots from the raw result files committed under ``*/benchmarks/results/``.

The plots are made at build time (into ``docs/_generated/``, git-ignored), so a figure can only show what a
committed result file holds. Each function names the files it reads; a missing or malformed file fails the
build with an error that names it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parents[1] / "_generated"
H200 = ROOT / "puffer-trainer/benchmarks/results/h200_breakout_vs_reference"
FIDELITY = ROOT / "puffer-envs-ocean/benchmarks/results/fidelity_2026-11-30.json"

#: ``  10.1s step    4,554,752 sps    451,005 score 5.134``: a progress line of benchmarks/train_sps.py
PROGRESS = re.compile(r"^\s*([\d.]+)s step\s+([\d,]+) sps\s+([\d,]+) score ([-\d.]+)\s*$")
#: ``train SPS 558,739 over 200.1s (111,828,992 steps, 910 epochs); final score 479.150``: its last line
FINAL = re.compile(r"^train SPS [\d,]+ over ([\d.]+)s .*; final score ([-\d.]+)\s*$")


def read_train_sps(path: Path) -> tuple[list[float], list[float]]:
    """(seconds, score) of each progress line of a ``train_sps.py`` log, and of its final line."""
    seconds, scores = [], []
    for line in path.read_text().splitlines():
        match = PROGRESS.match(line) or FINAL.match(line)
        if match:
            seconds.append(float(match[1]))
            scores.append(float(match[match.lastindex]))
    if not seconds:
        raise ExtensionError(f"{path}: no progress lines ('<s>s step <n> sps <n> score <x>') found")
    return seconds, scores


def read_reference(path: Path) -> tuple[list[float], list[float]]:
    """(seconds, score) of the records of ``reference_train.py``'s JSON lines that carry a score."""
    seconds, scores = [], []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("score") is not None:
            seconds.append(float(record["seconds"]))
            scores.append(float(record["score"]))
    if not seconds:
        raise ExtensionError(f"{path}: no records with a score")
    return seconds, scores


def plot_breakout_h200(out: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    for label, (x, y) in {
        "ours, registered config, 8192 agents": read_train_sps(H200 / "ours_default.txt"),
        "ours, --train.minibatch-size 16384": read_train_sps(H200 / "ours_mb16k.txt"),
        "reference (PufferLib 3.0), its defaults": read_reference(H200 / "ref_breakout.jsonl"),
    }.items():
        ax.plot(x, y, label=label)
    ax.axhline(0.95 * 864, color="grey", linestyle="--", linewidth=1, label="perf 0.95 (score 820.8)")
    ax.set_xlabel("wall-clock seconds")
    ax.set_ylabel("score (of 864)")
    ax.set_title("ocean/breakout on one H200 (16 cores), 2026-11-30")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def plot_ocean_sps(out: Path) -> None:
    import matplotlib.pyplot as plt

    try:
        data: dict[str, Any] = json.loads(FIDELITY.read_text())
        games = sorted(data)
        ours = [data[g]["sps_median"]["ours"] for g in games]
        reference = [data[g]["sps_median"]["reference"] for g in games]
    except (OSError, KeyError, ValueError) as error:
        raise ExtensionError(f"{FIDELITY}: cannot read the fidelity results ({error!r})") from error
    fig, ax = plt.subplots(figsize=(7.5, 3.8), dpi=110)
    xs = range(len(games))
    ax.bar([x - 0.2 for x in xs], ours, width=0.4, label="ours")
    ax.bar([x + 0.2 for x in xs], reference, width=0.4, label="reference (PufferLib 3.0)")
    ax.set_xticks(list(xs), games)
    ax.set_yscale("log")
    ax.set_ylabel("agent-steps per second (log)")
    ax.set_title("one env object of 1024 copies, random actions, one core; 2-core VM, 2026-11-30", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


PLOTS = {"breakout_h200.png": plot_breakout_h200, "ocean_sps.png": plot_ocean_sps}


def draw(app: Sphinx) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; also keeps the build from touching a GUI toolkit
    OUT.mkdir(exist_ok=True)
    for name, plot in PLOTS.items():
        plot(OUT / name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", draw)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
