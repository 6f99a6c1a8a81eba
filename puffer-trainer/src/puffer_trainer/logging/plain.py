"""Plain log lines for CI and files: one self-contained line per log interval, flushed immediately."""

from __future__ import annotations

import textwrap
from typing import IO

from . import SCORE_KEYS, Snapshot, pick_score

__all__ = ["PlainLogger", "format_line", "human", "duration", "LINE_WIDTH"]

#: No plain output line is wider than this (log viewers, CI pages and 120-column terminals show it whole).
LINE_WIDTH = 120
PREFIX = "[puffer] "
SEPARATOR = " | "
#: Shorter names on the log line for the statistics every env logs (metrics.jsonl keeps the full names).
_SHORT = {"episode_return": "return", "episode_length": "length"}

# Shown first, in this order, when present; other losses follow alphabetically.
_LOSS_ORDER = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "explained_variance")
_TIMING_ORDER = ("env", "inference", "copy", "learn")


def human(value: float) -> str:
    """Compact number: 1234567 -> '1.23M', 100000 -> '100k', 3.14159 -> '3.14', 0.000123 -> '1.23e-04'."""
    value = float(value)
    magnitude = abs(value)
    if magnitude != magnitude or magnitude == float("inf"):
        return str(value)
    if magnitude >= 1e15:
        return f"{value:.2e}"
    if magnitude >= 1e4:
        for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if magnitude >= scale * 0.9995:
                return f"{value / scale:.3g}{unit}"
    if magnitude >= 999.5:
        return f"{value:.0f}"
    if magnitude == 0 or magnitude >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2e}"


def ordered_losses(losses: dict[str, float]) -> list[tuple[str, float]]:
    first = [(k, losses[k]) for k in _LOSS_ORDER if k in losses]
    rest = sorted((k, v) for k, v in losses.items() if k not in _LOSS_ORDER and k != "learning_rate")
    return first + rest


def ordered_split(snapshot: Snapshot) -> list[tuple[str, float]]:
    split = snapshot.time_split()
    first = [(k, split[k]) for k in _TIMING_ORDER if k in split]
    rest = sorted((k, v) for k, v in split.items() if k not in _TIMING_ORDER and k != "other")
    return first + rest + [("other", split["other"])]


def duration(seconds: float) -> str:
    """``42s``, ``3m07s``, ``2h05m``, ``3d04h``: short enough for a log line (``>99d`` beyond)."""
    if not seconds < 100 * 86400:  # also nan and inf
        return ">99d"
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 48:
        return f"{hours // 24}d{hours % 24:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_line(snapshot: Snapshot, width: int = LINE_WIDTH - len(PREFIX)) -> str:
    """``step 12.3k/100k (12%) | sps 4.1k | 10s, ETA 21s | epoch 3 | score 0.42 | ... | env 40% ...``

    At most ``width`` characters (so a prefixed line fits :data:`LINE_WIDTH` columns): progress, SPS,
    elapsed time and ETA always show; then, while they fit, the score (``score``, else the return), the
    episode length, the main losses, the rest of the episode statistics, the learning rate, other losses and
    the time split. ``metrics.jsonl`` holds every value.
    """
    remaining = snapshot.remaining_s
    progress = f"{snapshot.progress:.0%}"
    eta = duration(remaining) if remaining is not None else "?"
    # (priority, text); shown in list order, kept by priority (lower first) while the line fits.
    parts: list[tuple[int, str]] = [
        (0, f"step {human(snapshot.global_step)}/{human(snapshot.total_timesteps)} ({progress})"),
        (0, f"sps {human(snapshot.sps)}"),
        (0, f"{duration(snapshot.elapsed_s)}, ETA {eta}"),
        (5, f"epoch {snapshot.epoch}"),
    ]
    score = pick_score(snapshot.episode)
    first = [k for k in (*SCORE_KEYS, "episode_length") if k in snapshot.episode]
    for key in first:
        priority = 1 if score and key == score[0] else 2 if key == "episode_length" else 4
        parts.append((priority, f"{_SHORT.get(key, key)} {human(snapshot.episode[key])}"))
    parts += [(6, f"{k} {human(snapshot.episode[k])}") for k in sorted(set(snapshot.episode) - set(first))]
    for key, value in ordered_losses(snapshot.losses):
        parts.append((3 if key in _LOSS_ORDER[:3] else 7, f"{key} {human(value)}"))
    if snapshot.learning_rate is not None:
        parts.append((6, f"lr {human(snapshot.learning_rate)}"))
    parts.append((8, " ".join(f"{k} {v:.0%}" for k, v in ordered_split(snapshot))))
    keep = [False] * len(parts)
    used = -len(SEPARATOR)
    for index in sorted(range(len(parts)), key=lambda i: parts[i][0]):  # stable: list order within a priority
        cost = len(SEPARATOR) + len(parts[index][1])
        if used + cost > width and parts[index][0] > 0:
            break  # nothing after the first item that does not fit, so the lines of a run keep their columns
        keep[index] = True
        used += cost
    return SEPARATOR.join(text for (_, text), kept in zip(parts, keep) if kept)


class PlainLogger:
    """Writes :func:`format_line` lines to a stream (stdout by default)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream: IO[str] | None = stream

    def log(self, snapshot: Snapshot) -> None:
        self.message(format_line(snapshot))

    def message(self, text: str) -> None:
        """Print ``text`` prefixed, wrapped at :data:`LINE_WIDTH` columns (continuation lines indented)."""
        if self.stream is None:
            return
        lines = textwrap.wrap(
            text,
            LINE_WIDTH,
            initial_indent=PREFIX,
            subsequent_indent=PREFIX + "  ",
            break_long_words=False,  # a path stays whole, even on a line of its own
            break_on_hyphens=False,
        ) or [PREFIX.rstrip()]
        try:
            print("\n".join(lines), file=self.stream, flush=True)
        except (BrokenPipeError, ValueError):  # `puffer train ... | head` closed the pipe: keep training
            self.stream = None

    def close(self) -> None:
        if self.stream is None:
            return
        try:
            self.stream.flush()
        except (ValueError, OSError):  # already closed by the caller
            pass
