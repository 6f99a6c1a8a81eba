"""``puffer autotune ENV``: a short, bounded search for the vector-env layout with the best SPS here.

It times the vector env alone (random valid actions through the async ``recv``/``send`` API), for a few
layouts: the serial backend with growing ``num_envs``, then the multiprocessing backend with one or two
workers per core and a full or half batch (half lets the trainer's inference overlap with stepping).
Every trial runs for ``trial_s`` seconds and the whole search stops after ``budget_s``; the best layout is
printed as command-line overrides for ``puffer train``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Layout", "Trial", "AutotuneResult", "autotune", "candidate_layouts", "random_actions"]


@dataclass(frozen=True)
class Layout:
    """One vector-env layout: ``backend``, ``num_envs``, ``num_workers`` and ``batch_size`` (in envs)."""

    backend: str
    num_envs: int
    num_workers: int | None = None
    batch_size: int | None = None

    def overrides(self) -> list[str]:
        """As ``puffer train`` overrides: ``["--vec.backend", "serial", "--vec.num-envs", "8", ...]``."""
        out = ["--vec.backend", self.backend, "--vec.num-envs", str(self.num_envs)]
        if self.num_workers is not None:
            out += ["--vec.num-workers", str(self.num_workers)]
        if self.batch_size is not None:
            out += ["--vec.batch-size", str(self.batch_size)]
        return out

    def __str__(self) -> str:
        text = f"{self.backend} num_envs={self.num_envs}"
        if self.num_workers is not None:
            text += f" num_workers={self.num_workers} batch_size={self.batch_size}"
        return text


@dataclass
class Trial:
    layout: Layout
    sps: float = 0.0
    agents: int = 0
    error: str | None = None


@dataclass
class AutotuneResult:
    """All trials in the order run, and the best one (None if every trial failed)."""

    trials: list[Trial] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def best(self) -> Trial | None:
        ok = [t for t in self.trials if t.error is None and t.sps > 0]
        return max(ok, key=lambda t: t.sps) if ok else None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def candidate_layouts(
    max_envs: int = 1024, cores: int | None = None, start_envs: int = 1
) -> Iterator[Layout]:
    """The layouts tried, in order: serial with doubling ``num_envs``, then multiprocessing layouts."""
    cores = cores or cpu_count()
    n = max(1, start_envs)
    while n <= max_envs:
        yield Layout("serial", n)
        n *= 2
    if cores < 2:
        return
    for workers in (cores, 2 * cores):
        per_worker = 1
        while workers * per_worker <= max_envs:
            num_envs = workers * per_worker
            yield Layout("multiprocessing", num_envs, workers, num_envs)
            if workers % 2 == 0:
                yield Layout("multiprocessing", num_envs, workers, num_envs // 2)
            per_worker *= 4


def random_actions(space: Any, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random valid actions of a puffer action space (int32 for discrete, float32 for Box)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return (space.start + rng.integers(0, space.n, size=count)).astype(np.int32)
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        start = np.asarray(getattr(space, "start", np.zeros_like(nvec))).reshape(-1)
        out = start + rng.integers(0, nvec, size=(count, nvec.size))
        return out.reshape(count, *np.shape(space.nvec)).astype(np.int32)
    if isinstance(space, spaces.MultiBinary):
        return rng.integers(0, 2, size=(count, *np.atleast_1d(space.n))).astype(np.int32)
    if isinstance(space, spaces.Box):
        low = np.where(np.isfinite(space.low), space.low, -1.0)
        high = np.where(np.isfinite(space.high), space.high, 1.0)
        return rng.uniform(low, high, size=(count, *space.shape)).astype(np.float32)
    raise TypeError(
        f"autotune cannot sample actions of {space!r} (expected Discrete, MultiDiscrete, MultiBinary or Box)"
    )


def time_layout(
    env_id: str, layout: Layout, env_kwargs: dict[str, Any], trial_s: float, seed: int = 0
) -> Trial:
    """Agent steps per second of ``layout`` over about ``trial_s`` seconds (after a short warm-up)."""
    import puffer_core.vector

    trial = Trial(layout)
    try:
        vec = puffer_core.vector.make(
            env_id,
            num_envs=layout.num_envs,
            backend=layout.backend,
            num_workers=layout.num_workers,
            batch_size=layout.batch_size,
            seed=seed,
            env_kwargs=env_kwargs,
        )
    except Exception as error:  # an invalid layout for this env is a result, not a crash
        trial.error = f"{type(error).__name__}: {error}"
        return trial
    try:
        rng = np.random.default_rng(seed)
        pool = [random_actions(vec.single_action_space, vec.agents_per_batch, rng) for _ in range(4)]
        vec.async_reset(seed)
        for i in range(3):  # warm-up: worker start, caches
            vec.recv()
            vec.send(pool[i % len(pool)])
        steps = 0
        start = time.perf_counter()
        i = 0
        while True:
            masks = vec.recv()[6]
            vec.send(pool[i % len(pool)])
            steps += int(np.count_nonzero(masks)) if isinstance(masks, np.ndarray) else vec.agents_per_batch
            i += 1
            elapsed = time.perf_counter() - start
            if elapsed >= trial_s:
                break
        trial.sps = steps / elapsed
        trial.agents = vec.num_agents
    except Exception as error:
        trial.error = f"{type(error).__name__}: {error}"
    finally:
        vec.close()
    return trial


def autotune(
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    *,
    budget_s: float = 30.0,
    trial_s: float = 1.0,
    max_envs: int = 1024,
    max_trials: int = 40,
    cores: int | None = None,
    seed: int = 0,
    report: Callable[[Trial], None] | None = None,
) -> AutotuneResult:
    """Try layouts of ``env_id`` until ``budget_s`` seconds or ``max_trials`` trials; see the module doc.

    The serial sweep stops once doubling ``num_envs`` no longer gains 5%, and the search stops when the
    next trial would not fit in the remaining budget.
    """
    if budget_s <= 0 or trial_s <= 0:
        raise ValueError(f"budget_s and trial_s must be positive, got {budget_s} and {trial_s}")
    if max_envs < 1 or max_trials < 1:
        raise ValueError(f"max_envs and max_trials must be >= 1, got {max_envs} and {max_trials}")
    result = AutotuneResult()
    start = time.perf_counter()
    best_serial = 0.0
    serial_done = False
    last_trial_s = trial_s
    for layout in candidate_layouts(max_envs, cores):
        if layout.backend == "serial" and serial_done:
            continue
        elapsed = time.perf_counter() - start
        if len(result.trials) >= max_trials or elapsed + last_trial_s > budget_s:
            break
        t0 = time.perf_counter()
        trial = time_layout(env_id, layout, dict(env_kwargs or {}), trial_s, seed)
        last_trial_s = time.perf_counter() - t0
        result.trials.append(trial)
        if report is not None:
            report(trial)
        if layout.backend == "serial":
            if trial.error is not None or trial.sps < 1.05 * best_serial:
                serial_done = True
            best_serial = max(best_serial, trial.sps)
    result.elapsed_s = time.perf_counter() - start
    return result
