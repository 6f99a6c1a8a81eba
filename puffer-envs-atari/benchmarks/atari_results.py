"""Tabulate and plot Atari training runs against the PPO paper's scores at 40M frames (10M agent steps).

Run: ``python benchmarks/atari_results.py OUTDIR [--games breakout pong ...]`` where ``OUTDIR/runs/<game>/``
are run folders of ``puffer train atari/<game>`` (``device_train.sh`` makes them). Writes
``OUTDIR/results.md`` (the table), ``OUTDIR/curves.csv`` (game, step, elapsed_s, score per log record) and,
where matplotlib is installed, ``OUTDIR/curve_<game>.png`` and ``OUTDIR/curves.png``. Run it again
anywhere on a copied OUTDIR (``--from-csv``) to draw the PNGs from ``curves.csv`` alone.

The final score is the mean score of the last ``--episodes`` games (default 100, as the paper's last 100
episodes): each log record (about 1 s) holds the mean score of the games that ended in it and, from trainers
of 2026-12-01 on, how many they were (``episodes``), so the last records are averaged, weighted by their
games, until they hold 100. Older metrics lack the count: their final score is the plain mean of the last
``--tail`` records (50-100 games for most games, but a few hundred thousand steps of records for a game like
Enduro, whose 128 games end almost together).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import NamedTuple

#: PPO (Schulman et al. 2017, table 6): mean score of the last 100 training episodes at 40M frames, no
#: sticky actions (v4-style deterministic ALE with up to 30 no-ops).
PAPER = {
    "breakout": 274.8,
    "pong": 20.7,
    "beam_rider": 1590.0,
    "qbert": 14293.3,
    "space_invaders": 942.5,
    "enduro": 758.3,
    "seaquest": 1204.5,
}
DEFAULT_GAMES = list(PAPER)


def read_records(path: Path) -> list[dict]:
    records = []
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line of a killed run
            continue
    return records


class CurveRow(NamedTuple):
    """One point of a learning curve: a log record where some game ended."""

    game: str
    step: int
    elapsed_s: float
    score: float
    episodes: int | None  # how many games ``score`` averages; None where the trainer did not record it


def curve_rows(game: str, records: list[dict]) -> list[CurveRow]:
    """The curve's points: each record where some episode ended.

    Metrics files of trainers before 2026-11-30 repeated the last episode values in intervals where no game
    ended (all 128 games restart together after a resume, so no game ends for thousands of steps): a record
    whose episode values equal the last kept one's exactly is such a repeat and is left out.
    """
    key = "episode/score" if any("episode/score" in r for r in records) else "episode/episode_return"
    rows, last = [], None
    for r in records:
        episode = {k: v for k, v in r.items() if k.startswith("episode/")}
        if key not in r or episode == last:
            continue
        last = episode
        episodes = int(r["episodes"]) if "episodes" in r else None
        elapsed = float(r.get("elapsed_s", math.nan))
        rows.append(CurveRow(game, int(r["step"]), elapsed, float(r[key]), episodes))
    return rows


def final_score(rows: list[CurveRow], episodes: int, tail: int) -> float:
    """Mean score of the last ``episodes`` games where the rows count them, else of the last ``tail`` rows."""
    total, weighted = 0, 0.0
    for row in reversed(rows):
        if row.episodes is None:
            break
        total, weighted = total + row.episodes, weighted + row.score * row.episodes
        if total >= episodes:
            return weighted / total
    else:
        if total:  # fewer games than asked for in the whole run: all of them
            return weighted / total
    scores = [r.score for r in rows[-tail:]]
    return sum(scores) / len(scores) if scores else math.nan


def summarize(game: str, rows: list[CurveRow], records: list[dict], episodes: int, tail: int) -> dict:
    last = records[-1] if records else {}
    final = final_score(rows, episodes, tail)
    steps = int(last.get("step", 0))
    elapsed = float(last.get("elapsed_s", math.nan))
    paper = PAPER.get(game, math.nan)
    return {
        "game": game,
        "steps": steps,
        "elapsed_s": elapsed,
        "sps": steps / elapsed if elapsed and elapsed == elapsed else math.nan,
        "score": final,
        "paper": paper,
        "at_or_above": bool(final >= paper) if not math.isnan(paper) and not math.isnan(final) else False,
    }


def plot(rows_by_game: dict[str, list], outdir: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: curves.csv only (run this script with --from-csv where it is)")
        return []
    written = []
    games = [g for g, rows in rows_by_game.items() if rows]
    if not games:
        return written
    cols = min(4, len(games))
    rows = math.ceil(len(games) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax in axes.flat[len(games):]:
        ax.axis("off")
    for ax, game in zip(axes.flat, games):
        steps = [r.step / 1e6 for r in rows_by_game[game]]
        scores = [r.score for r in rows_by_game[game]]
        ax.plot(steps, scores, lw=1)
        if game in PAPER:
            ax.axhline(PAPER[game], color="gray", ls="--", lw=1)
        ax.set_title(f"{game} (dashed: PPO paper)")
        ax.set_xlabel("agent steps (M)")
        ax.set_ylabel("mean game score")
        single, one = plt.subplots(figsize=(5, 3.5))
        one.plot(steps, scores, lw=1)
        if game in PAPER:
            one.axhline(PAPER[game], color="gray", ls="--", lw=1, label="PPO paper at 10M steps")
            one.legend(loc="lower right")
        one.set_title(f"atari/{game}")
        one.set_xlabel("agent steps (M)")
        one.set_ylabel("mean game score")
        single.tight_layout()
        path = outdir / f"curve_{game}.png"
        single.savefig(path, dpi=100)
        plt.close(single)
        written.append(path)
    fig.tight_layout()
    fig.savefig(outdir / "curves.png", dpi=100)
    plt.close(fig)
    written.append(outdir / "curves.png")
    return written


def table(summaries: list[dict]) -> str:
    lines = [
        "| game | agent steps | wall clock (s) | steps/s | final score | PPO paper (10M steps) | >= paper |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['game']} | {s['steps']:,} | {s['elapsed_s']:.0f} | {s['sps']:,.0f} | {s['score']:.1f} | "
            f"{s['paper']:g} | {'yes' if s['at_or_above'] else 'no'} |"
        )
    hits = sum(s["at_or_above"] for s in summaries)
    lines.append(f"\n{hits} of {len(summaries)} games at or above the paper.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--games", nargs="+", default=DEFAULT_GAMES)
    parser.add_argument("--episodes", type=int, default=100, help="games averaged for the final score")
    parser.add_argument(
        "--tail", type=int, default=10, help="log records averaged instead, for metrics without game counts"
    )
    parser.add_argument("--from-csv", action="store_true", help="plot OUTDIR/curves.csv only")
    args = parser.parse_args()
    rows_by_game: dict[str, list] = {g: [] for g in args.games}
    if args.from_csv:
        with open(args.outdir / "curves.csv") as f:
            for row in csv.DictReader(f):
                if row["game"] in rows_by_game:
                    count = row.get("episodes") or None  # blank, or no such column in older files
                    rows_by_game[row["game"]].append(
                        CurveRow(row["game"], int(row["step"]), float(row["elapsed_s"]), float(row["score"]),
                                 int(count) if count else None)
                    )  # fmt: skip
        for path in plot(rows_by_game, args.outdir):
            print(f"wrote {path}")
        return
    summaries = []
    for game in args.games:
        records = read_records(args.outdir / "runs" / game / "metrics.jsonl")
        rows_by_game[game] = curve_rows(game, records)
        summaries.append(summarize(game, rows_by_game[game], records, args.episodes, args.tail))
    with open(args.outdir / "curves.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CurveRow._fields)
        for rows in rows_by_game.values():
            writer.writerows(r._replace(episodes="" if r.episodes is None else r.episodes) for r in rows)
    text = table(summaries)
    (args.outdir / "results.md").write_text(text + "\n")
    print(text)
    for path in plot(rows_by_game, args.outdir):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
