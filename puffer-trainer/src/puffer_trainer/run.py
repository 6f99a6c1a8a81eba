"""The run loop around the Trainer: collect, update, log, checkpoint, stop cleanly.

``puffer train`` and the one-call :func:`train` helper both end up in :func:`run`::

    from puffer_trainer import train
    result = train("ocean/squared", total_timesteps=200_000, learning_rate=0.01)
    result.policy            # the trained torch module
    result.checkpoint        # path of the last checkpoint

What the loop adds to the Trainer: a run folder (resolved config, metrics JSONL, learning curve PNG,
checkpoints), the dashboard or plain log lines, optional wandb, resume from a checkpoint, a graceful stop on
SIGINT/SIGTERM (checkpoint, then exit) and, under torchrun, rank-0-only output, all ranks stopping together.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import distributed
from .checkpoint import CheckpointError, check_compatible, find_latest, load_checkpoint, make_checkpoint
from .checkpoint import save_checkpoint as _write_checkpoint
from .logging import Sink, Snapshot, make_console_logger, pick_score
from .run_folder import RunFolder, default_run_name
from .signals import GracefulStop

__all__ = ["RunResult", "Progress", "run", "train", "resolve_config", "restore"]

#: ``progress(global_step, elapsed_s, score)`` is called at every log interval (``run.log_interval_s``) with
#: the run's wall-clock seconds and its score (the env's ``score``, else ``episode_return``, the mean over the
#: interval; None before an episode finished). Returning True stops the run as it would stop at its last
#: step: final checkpoint, summary, ``RunResult.stopped_by == "progress"``. ``puffer sweep`` uses it to
#: record learning curves, cap a run's cost and prune hopeless runs.
Progress = Callable[[int, float, "float | None"], "bool | None"]

#: Seconds between learning-curve redraws at periodic checkpoints (the last checkpoint always redraws).
CURVE_EVERY_S = 60.0
# Trainer state entries that differ between ranks (RNG states); everything else is identical on every rank.
_PER_RANK_STATE = ("rng",)


@dataclass
class RunResult:
    """What a finished (or stopped) run leaves behind."""

    config: Any
    policy: Any
    global_step: int
    epoch: int
    run_folder: Path | None = None
    checkpoint: Path | None = None
    #: "SIGINT"/"SIGTERM" when a signal stopped the run early, "progress" when the ``progress`` callback
    #: did, else None.
    stopped_by: str | None = None
    episode: dict[str, float] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    #: The run's final score (mean over its last log interval) and which episode statistic it is: the env's
    #: ``score`` metric, else ``episode_return`` (None when no episode finished).
    score: float | None = None
    score_key: str | None = None
    #: Where ``run.score_target`` was first reached: global step and wall-clock seconds (None: not reached).
    target_reached_step: int | None = None
    target_reached_s: float | None = None

    @property
    def exit_code(self) -> int:
        """0 for a completed run, 128 + signal number when a signal stopped it (130 for SIGINT)."""
        if self.stopped_by in ("SIGINT", "SIGTERM"):
            import signal

            return 128 + int(getattr(signal, self.stopped_by))
        return 0


def resolve_config(env_id: str, config: Any = None, overrides: Mapping[str, Any] | None = None) -> Any:
    """A :class:`~puffer_trainer.config.Config` from ``config`` (None, a TOML path, a dict or a Config)
    with keyword ``overrides`` applied.

    An override key is ``section__field`` (``train__learning_rate=0.01``), a section name with a dict
    (``train={"learning_rate": 0.01}``), or a bare field name when only one section has it
    (``learning_rate=0.01``; ``batch_size`` exists in both ``train`` and ``vec`` so must be qualified).
    """
    from .config import DEPRECATED_KEYS, SECTIONS, Config, ConfigError, load_config, set_value

    if config is None or isinstance(config, (str, os.PathLike)):
        resolved = load_config(env_id, config)
    elif isinstance(config, Config):
        resolved = Config.from_dict(config.to_dict())  # a copy: the caller's object is left alone
        resolved.warnings = list(config.warnings)
    elif isinstance(config, Mapping):
        resolved = load_config(env_id)
        from .config import merge_sections

        merge_sections(resolved, dict(config), source="config dict")
    else:
        raise TypeError(f"config must be None, a TOML path, a dict or a Config, got {type(config).__name__}")
    if resolved.env_id != env_id:
        raise ConfigError(f"config is for env {resolved.env_id!r}, not {env_id!r}")
    owners: dict[str, list[str]] = {}
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            owners.setdefault(f.name, []).append(section)
    for section, old_name in DEPRECATED_KEYS:  # train(num_envs=4) still means vec.num_env_objects, warned
        owners.setdefault(old_name, []).append(section)
    for key, value in (overrides or {}).items():
        if key in (*SECTIONS, "env") and isinstance(value, Mapping):
            for name, item in value.items():
                set_value(resolved, key, name, item, source=f"train({key}=...)")
        elif "__" in key:
            section, name = key.split("__", 1)
            set_value(resolved, section, name, value, source=f"train({key}=...)")
        elif key in owners and len(owners[key]) == 1:
            set_value(resolved, owners[key][0], key, value, source=f"train({key}=...)")
        elif key in owners:
            choices = ", ".join(f"{s}__{key}" for s in owners[key])
            raise ConfigError(
                f"override {key!r} is ambiguous: it exists in several sections; use one of {choices}"
            )
        else:
            import difflib

            close = difflib.get_close_matches(key, list(owners), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"unknown config key {key!r}{hint}")
    return resolved


def train(
    env_id: str,
    config: Any = None,
    *,
    vecenv: Any = None,
    policy: Any = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> RunResult:
    """Train on ``env_id`` in one call, with the same run folder, logs and checkpoints as ``puffer train``.

    Args:
        env_id: a registered env id, e.g. ``"ocean/squared"`` or ``"gym/CartPole-v1"``.
        config: None (defaults), a TOML file path, a dict of sections, or a ``Config``.
        vecenv: an already built vector env (default: built from the config).
        policy: your own ``torch.nn.Module`` (default: built from ``config.policy``); a dict is taken as
            ``[policy]`` section overrides (``policy={"lstm": True}``).
        progress: called at every log interval; returning True stops the run (see :data:`Progress`).
        **overrides: config values, see :func:`resolve_config` (e.g. ``total_timesteps=100_000``).

    Returns a :class:`RunResult`. Raises ``NonFiniteLossError`` if the loss diverges (the last good
    checkpoint is kept).
    """
    if isinstance(policy, Mapping):  # policy={"lstm": True} is the [policy] section, not a module
        overrides = {**overrides, "policy": policy}
        policy = None
    return run(resolve_config(env_id, config, overrides), vecenv=vecenv, policy=policy, progress=progress)


def run(
    config: Any,
    *,
    vecenv: Any = None,
    policy: Any = None,
    stream: IO[str] | None = None,
    handle_signals: bool = True,
    progress: Progress | None = None,
) -> RunResult:
    """Run training for a resolved ``config`` until ``total_timesteps``, a signal, or an error.

    ``progress`` (see :data:`Progress`) sees the score curve and may stop the run early.
    """
    from .config import check_values
    from .trainer import Trainer

    check_values(config)  # configs built in code skip load_config's check
    start_time = time.perf_counter()
    if config.train.device == "auto":  # a Config built in code; load_config resolves it already
        from .config import resolve_device

        device, config.device_note = resolve_device(config.train.device)
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, device=device))
    dist = distributed.setup(config.train.device)
    if dist.device != config.train.device:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, device=dist.device))
    trainer = None
    sinks: list[Sink] = []
    metrics = None
    try:
        resume_path = _resume_path(config, dist)
        state = load_checkpoint(resume_path) if resume_path is not None else None
        trainer = Trainer(config, vecenv=vecenv, policy=policy)
        if state is not None:
            restore(trainer, state, config.env_id, dist.world_size, dist.rank, source=resume_path)

        folder = _run_folder(config, resume_path)
        if dist.is_main:
            folder.create()
            folder.write_config(config.to_dict())
            sinks.append(make_console_logger(config.run.log, stream))
            from .logging.metrics import MetricsWriter

            resumed_at = int(trainer.global_step) if state is not None else None
            metrics = MetricsWriter(
                folder.metrics,
                folder.curve,
                resume_step=resumed_at,
                title=f"{config.env_id} · {folder.root.name}",
                target=config.run.score_target,
            )
            sinks.append(metrics)
            if config.run.wandb:
                from .logging.wandb import WandbLogger

                sinks.append(
                    WandbLogger(
                        config.run.wandb_project,
                        folder.root.name,
                        config.to_dict(),
                        folder.root,
                        group=config.run.wandb_group,
                    )
                )
        loop = _Loop(config, trainer, dist, folder, sinks, metrics, progress)
        for warning in config.warnings:  # deprecated keys the user's config still uses
            loop.say(f"warning: {warning}")
        if state is not None:
            loop.say(f"resumed from {resume_path} at step {trainer.global_step:,} (epoch {trainer.epoch})")
        if dist.is_main:
            world = f" on {dist.world_size} ranks" if dist.enabled else ""
            verb = "continuing" if state is not None else "training"
            loop.say(f"{verb} {config.env_id}{world} on {config.train.device}: {describe_agents(trainer)}")
            if config.device_note:
                loop.say(f"device {config.train.device}: {config.device_note}")
            loop.say(f"run folder {folder.root}")
        for note in getattr(trainer, "notes", ()):  # sizes the Trainer derived (train.batch_size 0, ...)
            loop.say(note)
        stop = GracefulStop(hard_stop_s=config.run.stop_timeout_s)
        if handle_signals:
            with stop:
                loop.run(stop)
        else:
            loop.run(stop)
        return RunResult(
            config=config,
            policy=getattr(trainer.policy, "module", trainer.policy),
            global_step=int(trainer.global_step),
            epoch=int(trainer.epoch),
            run_folder=folder.root if dist.is_main else None,
            checkpoint=loop.last_checkpoint,
            stopped_by=stop.signal_name if stop.requested else ("progress" if loop.stopped_early else None),
            episode=dict(loop.episode),
            losses=dict(loop.losses),
            elapsed_s=time.perf_counter() - start_time,
            score=loop.score[1] if loop.score else None,
            score_key=loop.score[0] if loop.score else None,
            target_reached_step=loop.reached[0] if loop.reached else None,
            target_reached_s=loop.reached[1] if loop.reached else None,
        )
    finally:
        for sink in reversed(sinks):
            try:
                sink.close()
            except Exception as error:  # a failing sink must not hide the run's own error
                print(f"[puffer] closing {type(sink).__name__} failed: {error}", file=sys.stderr)
        if trainer is not None:
            trainer.close()
        distributed.teardown(dist)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def describe_agents(trainer: Any) -> str:
    """``1 env object x 1024 agents = 1024 agents; batch 16384 steps, minibatch 16384`` for the start line.

    The agent count is what sizes the batch and the learning: ``vec.num_env_objects`` env objects, each with
    its own agents (an ocean env object steps ``env.num_envs`` copies).
    """
    vecenv = trainer.vecenv
    agents = int(trainer.num_agents)
    objects = int(getattr(vecenv, "num_envs", 1) or 1)
    per_object = int(getattr(vecenv, "agents_per_env", 0) or max(1, agents // objects))
    batch = trainer.segments * trainer.horizon
    minibatch = trainer.minibatch_segments * trainer.horizon
    return (
        f"{_plural(objects, 'env object')} x {_plural(per_object, 'agent')} = {_plural(agents, 'agent')}; "
        f"batch {batch:,} steps, minibatch {minibatch:,}"
    )


class _Loop:
    """The epoch loop with its logging and checkpoint state."""

    def __init__(
        self,
        config: Any,
        trainer: Any,
        dist: distributed.DistInfo,
        folder: RunFolder,
        sinks: list[Sink],
        metrics: Any,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        #: True once ``progress`` asked the run to stop.
        self.stopped_early = False
        self.trainer = trainer
        self.dist = dist
        self.folder = folder
        self.sinks = sinks
        self.metrics = metrics
        self.episode: dict[str, float] = {}
        self.losses: dict[str, float] = {}
        self.last_checkpoint: Path | None = None
        self._last_draw = time.perf_counter()  # the first periodic redraw comes CURVE_EVERY_S into the run
        self._episode_sums: dict[str, float] = {}
        self._episode_counts: dict[str, float] = {}
        self._window = (time.perf_counter(), 0)
        #: (key, value) of the latest score (see ``logging.pick_score``), None before any episode finished.
        self.score: tuple[str, float] | None = None
        #: (global step, wall-clock seconds) where ``run.score_target`` was first reached.
        self.reached: tuple[int, float] | None = None
        # A resumed run keeps counting wall-clock time (and knows whether it already reached its target).
        self._time_offset = 0.0
        target = config.run.score_target
        if metrics is not None and metrics.resumed_records:
            from .logging.metrics import first_reached

            self._time_offset = metrics.resumed_elapsed_s
            record = first_reached(metrics.resumed_records, target) if target is not None else None
            if record is not None:
                self.reached = (int(record["step"]), float(record.get("elapsed_s") or 0.0))

    def say(self, text: str) -> None:
        for sink in self.sinks:
            sink.message(text)

    def run(self, stop: GracefulStop) -> None:
        from .errors import NonFiniteLossError, RankFailedError

        trainer, run_config = self.trainer, self.config.run
        start = time.perf_counter()
        start_step = int(trainer.global_step)
        self._window = (start, start_step)  # SPS is measured over the last log interval
        last_log = -float("inf")
        interval = max(0, int(run_config.checkpoint_interval))
        while not trainer.done:
            self._add_episodes(trainer.evaluate(), trainer.last_info_counts)
            try:
                self.losses = {k: float(v) for k, v in trainer.train().items()}
            except (NonFiniteLossError, RankFailedError) as error:
                where = f"; last good checkpoint: {self.last_checkpoint}" if self.last_checkpoint else ""
                self.say(f"stopped: {error}{where}")
                raise
            stopping = distributed.any_rank(stop.requested, self.dist)
            wants_stop = False
            now = time.perf_counter()
            if now - last_log >= run_config.log_interval_s or trainer.done or stopping:
                self._log(now, self._time_offset + now - start)
                last_log = now
                if self.progress is not None:
                    score = self.score[1] if self.score else None
                    elapsed = self._time_offset + now - start
                    wants_stop = bool(self.progress(int(trainer.global_step), elapsed, score))
            # Ranks log at their own times, so the request is shared every epoch (only with a callback):
            # any rank's request stops all of them together.
            early = self.progress is not None and distributed.any_rank(wants_stop, self.dist)
            if early and not trainer.done and not stopping:
                self.stopped_early = True
                self.say(f"stopped early by the progress callback at step {trainer.global_step:,}")
                break
            if interval and trainer.epoch % interval == 0 and not trainer.done and not stopping:
                # (the final checkpoint after the loop covers the last epoch)
                self.save()
            if stopping:
                stop.request()  # ranks that did not get the signal themselves stop too
                break
            if run_config.stop_at_target and run_config.score_target is not None:
                # Rank 0's score decides, so that every rank stops after the same epoch.
                if distributed.broadcast(self.reached is not None, self.dist):
                    break
        self.save(final=True)
        for sink in self.sinks:  # the summary goes below the dashboard's last frame, not above it
            end = getattr(sink, "end", None)
            if end is not None:
                end()
        self.say(self._score_line())
        if stop.requested:
            self.say(
                f"stopped by {stop.signal_name} at step {trainer.global_step:,}; "
                f"checkpoint {self.last_checkpoint} "
                f"(continue with --resume {self.last_checkpoint})"
            )
        else:
            elapsed = time.perf_counter() - start
            sps = (trainer.global_step - start_step) / max(elapsed, 1e-9)
            # The checkpoint first: a long path wraps there, and "done" stays the last line, whole.
            self.say(f"checkpoint {self.last_checkpoint}")
            steps = f"{trainer.global_step:,} steps, {trainer.epoch} epochs"
            self.say(f"done: {steps} in {elapsed:.1f}s ({sps:,.0f} SPS)")

    def _score_line(self) -> str:
        """``final score 370 (...); target 364.8 first reached at step 24.2M after 3m00s`` or not reached."""
        from .logging.plain import duration, human

        target = self.config.run.score_target
        if self.score is None:
            text = "no episode finished, so no score"
        else:
            key, value = self.score
            text = f"final {key} {human(value)} (mean over the last log interval)"
        if target is None:
            return text
        if self.reached is None:
            return f"{text}; target {target:g} not reached"
        step, seconds = self.reached
        return f"{text}; target {target:g} first reached at step {step:,} after {duration(seconds)}"

    def _check_target(self, elapsed: float) -> None:
        score = pick_score(self.episode)
        if score is None:
            return
        self.score = score
        target = self.config.run.score_target
        if target is not None and self.reached is None and score[1] >= target:
            self.reached = (int(self.trainer.global_step), elapsed)
            from .logging.plain import duration, human

            self.say(
                f"{score[0]} {human(score[1])} reached the target {target:g} at step "
                f"{self.trainer.global_step:,} after {duration(elapsed)}"
            )

    def _add_episodes(self, stats: Mapping[str, float], counts: Mapping[str, float]) -> None:
        """Add one epoch's means, each weighted by how many episodes it averaged (``counts``), so that a log
        interval's value is the mean over its episodes, not over its epochs."""
        for key, value in stats.items():
            n = float(counts[key])
            self._episode_sums[key] = self._episode_sums.get(key, 0.0) + float(value) * n
            self._episode_counts[key] = self._episode_counts.get(key, 0.0) + n

    def _log(self, now: float, elapsed: float) -> None:
        fresh = bool(self._episode_counts)
        episodes = 0
        if fresh:  # else the consoles keep showing the last values (the metrics file leaves them out)
            self.episode = {k: self._episode_sums[k] / n for k, n in self._episode_counts.items()}
            # the score's count: other stats may come from only some of the episodes (an env's optional info)
            counted = pick_score(self._episode_counts)
            episodes = round(counted[1] if counted else max(self._episode_counts.values()))
            self._episode_sums.clear()
            self._episode_counts.clear()
            self._check_target(elapsed)
        if not self.dist.is_main:
            return
        trainer = self.trainer
        window, self._window = self._window, (now, int(trainer.global_step))
        snapshot = Snapshot(
            env_id=self.config.env_id,
            run_name=self.folder.root.name,
            global_step=int(trainer.global_step),
            total_timesteps=int(self.config.train.total_timesteps),
            epoch=int(trainer.epoch),
            elapsed_s=elapsed,
            sps=(trainer.global_step - window[1]) / max(now - window[0], 1e-9),
            timings={k: float(v) for k, v in trainer.timings.items()},
            episode=dict(self.episode),
            losses=dict(self.losses),
            episode_fresh=fresh,
            episodes=episodes,
        )
        for sink in self.sinks:
            sink.log(snapshot)

    def save(self, final: bool = False) -> Path | None:
        """Checkpoint now (a collective under torchrun: every rank calls it, rank 0 writes)."""
        trainer = self.trainer
        state = make_checkpoint(trainer, self.config.to_dict(), self.config.env_id, self.dist.world_size)
        if self.dist.enabled:
            own = {k: v for k, v in state.items() if k in _PER_RANK_STATE}
            ranks = distributed.gather(own, self.dist)
            state["ranks"] = ranks
        error: BaseException | None = None
        if self.dist.is_main:
            try:
                self.last_checkpoint = _write_checkpoint(state, self.folder.checkpoints, trainer.epoch)
                due = final or time.perf_counter() - self._last_draw >= CURVE_EVERY_S
                if self.metrics is not None and due:
                    self.metrics.draw()  # the PNG costs ~0.1-1 s, so periodic redraws are rate-limited
                    self._last_draw = time.perf_counter()
            except Exception as exc:
                error = exc
        # Under torchrun the other ranks must learn that rank 0 failed, or they would wait for it forever.
        if distributed.any_rank(error is not None, self.dist):
            if error is not None:
                raise error
            raise RuntimeError("rank 0 failed to write the checkpoint (see its error); this rank stops too")
        return self.last_checkpoint


def restore(
    trainer: Any, state: dict, env_id: str, world_size: int = 1, rank: int = 0, source: Any = "checkpoint"
) -> None:
    """Load a checkpoint ``state`` (from :func:`~puffer_trainer.checkpoint.load_checkpoint`) into ``trainer``.

    Checks env id, rank count and tensor shapes first, so a mismatch is a :class:`CheckpointError` that says
    what differs. The trainer continues at the saved global step with the saved optimizer, scheduler and
    RNG states (each rank its own RNG states).
    """
    check_compatible(state, trainer, env_id, world_size)
    try:
        trainer.load_state_dict(_rank_state(state, rank))
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError, IndexError) as error:
        # Also what a hand-edited file with a wrong field type raises deep inside torch or numpy.
        raise CheckpointError(
            f"checkpoint {str(source)!r} does not fit this run: {type(error).__name__}: {error}"
        ) from error


def _rank_state(state: dict, rank: int) -> dict:
    """The checkpoint as this rank saw it: shared weights plus its own RNG states and counters."""
    ranks = state.get("ranks")
    if not ranks:
        return state
    if rank >= len(ranks):
        raise CheckpointError(f"checkpoint holds {len(ranks)} rank(s) but this is rank {rank}")
    merged = dict(state)
    merged.update(ranks[rank])
    return merged


def _resume_path(config: Any, dist: distributed.DistInfo) -> Path | None:
    resume = config.run.resume
    if resume in (None, "", "none"):
        return None
    path = None
    error = None
    if dist.is_main:
        try:
            if resume == "latest":
                path = str(find_latest(config.run.run_dir, config.env_id, config.run.run_name))
            else:
                path = str(resume)
        except CheckpointError as exc:
            error = str(exc)
    path, error = distributed.broadcast((path, error), dist)
    if error:
        raise CheckpointError(error)
    return Path(path)


def _run_folder(config: Any, resume_path: Path | None) -> RunFolder:
    """Resuming from a checkpoint inside a run folder continues that folder; otherwise a new one."""
    if resume_path is not None:
        root = resume_path.resolve().parent.parent
        if resume_path.resolve().parent.name == "checkpoints" and (root / "config.toml").is_file():
            if not config.run.run_name or config.run.run_name == root.name:
                return RunFolder(root)
    if config.run.run_name:
        return RunFolder(Path(config.run.run_dir) / config.run.run_name)
    name = default_run_name(config.env_id)
    root = Path(config.run.run_dir) / name
    suffix = 2
    while root.exists():  # two runs started in the same second
        root = Path(config.run.run_dir) / f"{name}-{suffix}"
        suffix += 1
    return RunFolder(root)
