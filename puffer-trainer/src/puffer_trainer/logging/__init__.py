"""What a run shows and records: the rich dashboard, plain log lines, metrics JSONL + curve PNG, and wandb.

Every sink receives the same :class:`Snapshot` of the run; :func:`make_console_logger` picks the dashboard
on a terminal and plain lines elsewhere (CI, files). Only rank 0 creates any of them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Protocol

__all__ = ["Snapshot", "Sink", "make_console_logger", "SCORE_KEYS", "pick_score"]

#: Episode statistics that measure how well a run does, best first: the env's own ``score`` metric when it
#: logs one, else the episode return. The run's final score, its target and the curve's target line use it.
SCORE_KEYS = ("score", "episode_return")


def pick_score(episode: Mapping[str, float]) -> tuple[str, float] | None:
    """``(key, value)`` of the first of :data:`SCORE_KEYS` in ``episode`` (episode stats), else None."""
    for key in SCORE_KEYS:
        if key in episode:
            return key, float(episode[key])
    return None


@dataclass
class Snapshot:
    """The state of a run at one log point. ``timings`` are cumulative seconds since this process started."""

    env_id: str
    run_name: str
    global_step: int
    total_timesteps: int
    epoch: int
    elapsed_s: float
    sps: float
    timings: dict[str, float] = field(default_factory=dict)
    episode: dict[str, float] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    #: Whether ``episode`` comes from episodes that ended in this log interval. When none ended, consoles keep
    #: showing the last values, but stored records (:meth:`flat`) leave them out: a repeated value would read
    #: as a new measurement in curves and in means over the last records.
    episode_fresh: bool = True
    #: How many episodes the ``episode`` means average: those that ended in this log interval in this
    #: process (under torchrun, rank 0's). Lets a reader average over the last N episodes, not the last
    #: N records, when episodes end unevenly (all of a batch of long games end together, say).
    episodes: int = 0

    @property
    def learning_rate(self) -> float | None:
        return self.losses.get("learning_rate")

    @property
    def remaining_s(self) -> float | None:
        """Seconds left at the current SPS (None before the SPS is known)."""
        if self.sps <= 0:
            return None
        return max(0.0, self.total_timesteps - self.global_step) / self.sps

    @property
    def progress(self) -> float:
        return min(1.0, self.global_step / self.total_timesteps) if self.total_timesteps > 0 else 0.0

    def time_split(self) -> dict[str, float]:
        """Share of wall time per phase (env/inference/learn/copy, and "other" for the rest)."""
        total = max(self.elapsed_s, sum(self.timings.values()), 1e-9)
        split = {k: v / total for k, v in self.timings.items()}
        split["other"] = max(0.0, 1.0 - sum(split.values()))
        return split

    def flat(self) -> dict[str, float | int | str]:
        """One metrics record: ``step``, ``epoch``, ``sps``, ``episodes``, ``episode/*``, ``loss/*`` and
        ``time/*`` keys (``episodes`` and ``episode/*`` only where an episode ended in the interval)."""
        record: dict[str, float | int | str] = {
            "step": int(self.global_step),
            "epoch": int(self.epoch),
            "elapsed_s": round(float(self.elapsed_s), 3),
            "sps": round(float(self.sps), 1),
        }
        if self.episode_fresh:
            if self.episodes:
                record["episodes"] = int(self.episodes)
            record.update({f"episode/{k}": float(v) for k, v in self.episode.items()})
        record.update({f"loss/{k}": float(v) for k, v in self.losses.items()})
        record.update({f"time/{k}": round(float(v), 4) for k, v in self.timings.items()})
        return record


class Sink(Protocol):
    """Something that shows or stores snapshots."""

    def log(self, snapshot: Snapshot) -> None: ...

    def message(self, text: str) -> None: ...

    def close(self) -> None: ...


def make_console_logger(mode: str = "auto", stream: IO[str] | None = None) -> Sink:
    """The terminal sink for ``mode``: ``"dashboard"`` (rich), ``"plain"`` (one line per log), or
    ``"auto"`` (the dashboard when ``stream`` is a terminal, plain lines otherwise)."""
    stream = stream if stream is not None else sys.stdout
    if mode not in ("auto", "dashboard", "plain"):
        raise ValueError(f"run.log must be 'auto', 'dashboard' or 'plain', got {mode!r}")
    if mode == "auto":
        is_tty = getattr(stream, "isatty", lambda: False)()
        mode = "dashboard" if is_tty else "plain"
    if mode == "dashboard":
        from .dashboard import Dashboard

        return Dashboard(stream)
    from .plain import PlainLogger

    return PlainLogger(stream)
