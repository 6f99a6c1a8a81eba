"""Plain log lines for CI and files: one self-contained line per log interval, flushed immediately."""

from __future__ import annotations

from typing import IO

from . import Snapshot

__all__ = ["PlainLogger", "format_line", "human"]

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


def format_line(snapshot: Snapshot) -> str:
    """``step 12.3k/100k (12%) | epoch 3 | sps 4.1k | episode_return 22.1 | ... | lr 3e-04 | env 40% ...``"""
    parts = [
        f"step {human(snapshot.global_step)}/{human(snapshot.total_timesteps)} ({snapshot.progress:.0%})",
        f"epoch {snapshot.epoch}",
        f"sps {human(snapshot.sps)}",
        f"{snapshot.elapsed_s:.0f}s",
    ]
    parts += [f"{k} {human(v)}" for k, v in sorted(snapshot.episode.items())]
    parts += [f"{k} {human(v)}" for k, v in ordered_losses(snapshot.losses)]
    if snapshot.learning_rate is not None:
        parts.append(f"lr {human(snapshot.learning_rate)}")
    parts.append(" ".join(f"{k} {v:.0%}" for k, v in ordered_split(snapshot)))
    return " | ".join(parts)


class PlainLogger:
    """Writes :func:`format_line` lines to a stream (stdout by default)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream: IO[str] | None = stream

    def log(self, snapshot: Snapshot) -> None:
        self.message(format_line(snapshot))

    def message(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            print(f"[puffer] {text}", file=self.stream, flush=True)
        except (BrokenPipeError, ValueError):  # `puffer train ... | head` closed the pipe: keep training
            self.stream = None

    def close(self) -> None:
        if self.stream is None:
            return
        try:
            self.stream.flush()
        except (ValueError, OSError):  # already closed by the caller
            pass
