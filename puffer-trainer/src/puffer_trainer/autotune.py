"""``puffer autotune ENV``: a short, bounded search for the vector-env layout that trains fastest here.

The number of agents is the config's and stays fixed: it shapes the batch and the learning, so a layout
that trained faster with more agents would be a different experiment, not a faster one. What changes is how
those agents are laid out: the backend (serial or multiprocessing), the number of workers, the batch of env
objects per ``recv`` (a half batch lets inference overlap with stepping) and, for envs whose objects hold
many copies (ocean envs: the ``num_envs`` env kwarg), how the copies are split into env objects so that
several workers can step them.

Each layout is measured by **training** on it: a short real run of the Trainer (collection with inference,
then PPO updates) for ``trial_s`` seconds after one warm-up epoch, so learning time counts as it does in a
real run (on a CPU it is most of it). The current layout is measured first, as the baseline; the search stops
when the next trial would not fit in ``budget_s`` seconds. A layout is recommended only if it beat the
baseline by :data:`MIN_GAIN`; the recommendation is printed as the overrides that change.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "Layout",
    "Trial",
    "AutotuneResult",
    "autotune",
    "candidate_layouts",
    "current_layout",
    "time_training",
    "MIN_GAIN",
]

#: A layout must train this much faster than the current one to be recommended (smaller gains are noise on
#: a shared machine).
MIN_GAIN = 1.05


@dataclass(frozen=True)
class Layout:
    """A vector-env layout: ``backend``, ``num_env_objects``, ``num_workers``, ``batch_size`` (env objects
    per ``recv``) and ``env_copies`` (the env kwarg ``num_envs``, copies per env object; None when the env has
    no such kwarg)."""

    backend: str
    num_env_objects: int
    num_workers: int | None = None
    batch_size: int | None = None
    env_copies: int | None = None

    def overrides(self, current: Layout | None = None) -> list[str]:
        """As ``puffer train`` overrides; with ``current``, only the values that differ from it."""
        values = [
            ("--vec.backend", self.backend),
            ("--vec.num-env-objects", self.num_env_objects),
            ("--vec.num-workers", self.num_workers),
            ("--vec.batch-size", self.batch_size),
        ]
        if self.env_copies is not None:
            values.append(("--env.num-envs", self.env_copies))
        if current is None:  # the whole layout; unset optional values are the defaults anyway
            return [item for key, value in values if value is not None for item in (key, str(value))]
        before = dict(
            zip(
                [key for key, _ in values],
                [current.backend, current.num_env_objects, current.num_workers, current.batch_size,
                 current.env_copies],
            )
        )  # fmt: skip
        out = []
        for key, value in values:
            if value != before[key]:
                out += [key, "none" if value is None else str(value)]
        return out

    def apply(self, config: Any) -> Any:
        """A copy of ``config`` (a :class:`~puffer_trainer.config.Config`) laid out like this."""
        from .config import Config

        out = Config.from_dict(config.to_dict())
        out.vec = replace(
            out.vec,
            backend=self.backend,
            num_env_objects=self.num_env_objects,
            num_workers=self.num_workers,
            batch_size=self.batch_size,
        )
        if self.env_copies is not None:
            out.env["num_envs"] = self.env_copies
        return out

    def __str__(self) -> str:
        objects = f"{self.num_env_objects} env object{'s' if self.num_env_objects != 1 else ''}"
        if self.env_copies is not None:
            objects += f" x {self.env_copies} copies"
        text = f"{self.backend}: {objects}"
        if self.backend != "serial":
            workers = "auto" if self.num_workers is None else self.num_workers
            batch = self.batch_size or self.num_env_objects
            text += f", {workers} worker{'' if workers == 1 else 's'}, batch {batch}"
        return text


@dataclass
class Trial:
    """One layout's measurement: training steps per second, the agent count, or the error it raised."""

    layout: Layout
    sps: float = 0.0
    agents: int = 0
    error: str | None = None
    #: True for the config's own layout (the baseline).
    current: bool = False
    #: Wall-clock seconds the trial took, building the trainer and its env included.
    wall_s: float = 0.0


@dataclass
class AutotuneResult:
    """All trials in the order run (the current layout first)."""

    trials: list[Trial] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def baseline(self) -> Trial | None:
        """The trial of the config's current layout."""
        return next((t for t in self.trials if t.current), None)

    @property
    def fastest(self) -> Trial | None:
        """The trial with the highest SPS (None if every trial failed)."""
        ok = [t for t in self.trials if t.error is None and t.sps > 0]
        return max(ok, key=lambda t: t.sps) if ok else None

    @property
    def best(self) -> Trial | None:
        """The recommended layout: the fastest, unless it beat a working baseline by less than
        :data:`MIN_GAIN`, in which case the baseline (nothing to change)."""
        fastest, baseline = self.fastest, self.baseline
        if fastest is None or baseline is None or baseline.error is not None or baseline.sps <= 0:
            return fastest
        return fastest if fastest.sps >= MIN_GAIN * baseline.sps else baseline


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def current_layout(config: Any) -> Layout:
    """The layout of ``config``; ``env_copies`` is the ``num_envs`` env kwarg (the config's, else the env's
    registered default) when it is a whole number."""
    copies = config.env.get("num_envs")
    if copies is None:
        import puffer_core

        try:
            copies = puffer_core.spec(config.env_id).default_kwargs.get("num_envs")
        except Exception:  # an id the registry only resolves when making the env (gym/...): no default
            copies = None
    copies = copies if isinstance(copies, int) and not isinstance(copies, bool) and copies > 0 else None
    vec = config.vec
    return Layout(vec.backend, int(vec.num_env_objects), vec.num_workers, vec.batch_size, copies)


def candidate_layouts(
    current: Layout, cores: int | None = None, max_env_objects: int = 64
) -> Iterator[Layout]:
    """Layouts with ``current``'s agent count, in the order tried (``current`` itself is not among them).

    Multiprocessing with one worker per core, then two per core, each with a full and (for an even number of
    workers) a half batch, then one worker (stepping off the trainer's process); serial last when the current
    layout is not serial. With ``env_copies`` known, the copies may be split into more env objects (each with
    fewer copies; the total stays the same) so that every worker gets some.
    """
    cores = cores or cpu_count()
    total = current.num_env_objects * (current.env_copies or 1)

    def objects_for(workers: int) -> int | None:
        """The fewest env objects (at most max_env_objects) that ``workers`` workers can share evenly."""
        if current.env_copies is None:
            return current.num_env_objects if current.num_env_objects % workers == 0 else None
        for objects in range(workers, min(total, max_env_objects) + 1, workers):
            if total % objects == 0:
                return objects
        return None

    seen = {current}
    layouts = []
    for workers in dict.fromkeys((cores, 2 * cores, 1)):  # unique, in this order
        objects = objects_for(workers)
        if objects is None:
            continue
        copies = total // objects if current.env_copies is not None else None
        batches = [objects]
        if workers % 2 == 0:  # a half batch must hold whole workers' objects
            batches.append(objects // 2)
        layouts += [Layout("multiprocessing", objects, workers, batch, copies) for batch in batches]
    if current.backend != "serial":
        layouts.append(Layout("serial", current.num_env_objects, None, None, current.env_copies))
    for layout in layouts:
        if layout not in seen:
            seen.add(layout)
            yield layout


def time_training(config: Any, layout: Layout, trial_s: float, current: bool = False) -> Trial:
    """Training steps per second of ``config`` laid out as ``layout``, over about ``trial_s`` seconds.

    Builds a real :class:`~puffer_trainer.Trainer` (no run folder, nothing printed), trains one warm-up epoch
    (worker start-up, first allocations), then whole epochs until ``trial_s`` seconds have passed. An error
    is recorded in the trial, except a :class:`~puffer_trainer.config.ConfigError`, which is raised: the
    config cannot train whatever the layout.
    """
    from .config import ConfigError
    from .trainer import Trainer

    trial = Trial(layout, current=current)
    start = time.perf_counter()
    trial_config = layout.apply(config)
    # Far from the end, so the learning-rate schedule and `done` play no part in a trial.
    trial_config.train.total_timesteps = 10**15
    trainer = None
    try:
        trainer = Trainer(trial_config)
        trial.agents = int(trainer.num_agents)
        trainer.evaluate()
        trainer.train()
        first_step, t0 = int(trainer.global_step), time.perf_counter()
        while True:
            trainer.evaluate()
            trainer.train()
            elapsed = time.perf_counter() - t0
            if elapsed >= trial_s:
                break
        trial.sps = (int(trainer.global_step) - first_step) / elapsed
    except ConfigError:
        raise  # the config itself cannot train (e.g. its batch sizes), whatever the layout: agents are fixed
    except Exception as error:  # a layout this env cannot use is a result, not a crash
        trial.error = f"{type(error).__name__}: {error}"
    finally:
        if trainer is not None:
            trainer.close()
        trial.wall_s = time.perf_counter() - start
    return trial


def _warm_up() -> None:
    """One-off start-up costs, paid before the budget's clock starts: they are no layout's cost, and would
    make the first trial look slow (the first optimizer imports torch._dynamo: seconds on a busy machine)."""
    import torch

    from .trainer import Trainer  # noqa: F401 (imported for its import time)

    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])


def autotune(
    config: Any,
    *,
    budget_s: float = 30.0,
    trial_s: float = 1.0,
    max_env_objects: int = 64,
    max_trials: int = 40,
    cores: int | None = None,
    report: Callable[[Trial], None] | None = None,
) -> AutotuneResult:
    """Time ``config``'s layout, then the :func:`candidate_layouts`, by training on each (see the module doc).

    Args:
        config: a resolved :class:`~puffer_trainer.config.Config`, or an env id (its default config).
        budget_s: seconds for the whole search (after one-off imports); no trial starts unless it is
            expected to end within it (judged by the slowest trial so far). The current layout is always
            measured.
        trial_s: seconds of timed training per layout (after a warm-up epoch).
        max_env_objects: most env objects a layout may split the agents into.
        max_trials: most layouts measured, the current one included.
        cores: CPU cores to plan workers for (default: those this process may use).
        report: called with each :class:`Trial` as it finishes.
    """
    if not (budget_s > 0 and trial_s > 0):
        raise ValueError(f"budget_s and trial_s must be positive, got {budget_s} and {trial_s}")
    if max_env_objects < 1 or max_trials < 1:
        raise ValueError(
            f"max_env_objects and max_trials must be >= 1, got {max_env_objects} and {max_trials}"
        )
    if isinstance(config, str):
        from .config import load_config

        config = load_config(config)
    _warm_up()
    result = AutotuneResult()
    start = time.perf_counter()
    current = current_layout(config)

    def measure(layout: Layout, is_current: bool = False) -> Trial:
        trial = time_training(config, layout, trial_s, current=is_current)
        baseline = result.baseline
        expected = baseline.agents if baseline is not None else 0
        if trial.error is None and expected and trial.agents != expected:
            # Never expected (layouts keep the agent count), but a faster run with other agents is no answer.
            trial.error = f"has {trial.agents} agents instead of {expected}"
        result.trials.append(trial)
        if report is not None:
            report(trial)
        return trial

    measure(current, is_current=True)
    for layout in candidate_layouts(current, cores, max_env_objects):
        slowest = max(t.wall_s for t in result.trials)
        if len(result.trials) >= max_trials or time.perf_counter() - start + slowest > budget_s:
            break
        measure(layout)
    result.elapsed_s = time.perf_counter() - start
    return result
