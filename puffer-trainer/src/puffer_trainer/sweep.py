"""``puffer sweep``: cost-aware hyperparameter search on an optuna study.

Each trial trains one config drawn from the search space (``[sweep.SECTION.KEY]`` tables of the config, see
:class:`~puffer_trainer.config.ParamSpace`), scores its final policy on fresh episodes, and reports two
objectives to a multi-objective optuna study: the score (up) and the wall-clock seconds of training (down).
The result is the Pareto front of score against cost, in the spirit of PufferLib's Protein and CARBS::

    puffer sweep ocean/breakout --config sweep.toml --sweep.max-runs 30 --sweep.max-cost-s 120

What optuna gives: the TPE sampler (multivariate, with a constant liar so parallel workers spread out), the
study in any storage optuna accepts (an SQLite file by default; PostgreSQL for several processes or machines),
heartbeats, and the Pareto front. What this module adds:

- **Constraints before launch.** A drawn config that no run can use (a minibatch larger than the batch, sizes
  that are not multiples of the horizon, ...) is recorded as a failed trial with the reason and never trained.
- **The center first.** The first trial of a new study is the config itself (the env's registered config
  with the file's values and overrides), so the search starts where the defaults are.
- **Learning curves and pruning.** Every run reports its training score at each log interval through
  :func:`puffer_trainer.run.run`'s ``progress`` hook; the curve is stored with the trial, indexed by
  wall-clock seconds. optuna's pruners do not support multi-objective studies, so :func:`prune_decision`
  compares a run with the others at the same number of seconds, which is the cost-aware question ("did
  others already have more by now?"): below ``prune_percentile`` of them, the run stops.
- **Cost cap.** ``max_cost_s`` stops a run after that many seconds of training, and it is scored as it stands,
  so the search cannot drift to slow configs.
- **Resumption.** A sweep continues where it stopped when started again with the same storage and study
  name: a trial whose process died (SIGKILL, a lost machine) is failed and retried with the same values,
  found at once on the same host (its process is gone) and through optuna's heartbeat on others.
- **Outputs** in the sweep folder: ``pareto.png``, ``best.toml`` (a file ``puffer train --config`` takes),
  ``trials.csv``, each trial's run folder and log, and a table of the best runs on the terminal (the front,
  the best pick, the table and the plot are in :mod:`puffer_trainer.sweep_results`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import math
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .config import (
    Config,
    ConfigError,
    ParamSpace,
    SweepConfig,
    batch_sizes,
    check_values,
    logit,
    resolve_space,
    set_value,
    sigmoid,
)
from .sweep_results import (
    TrialRecord,
    fmt_value,
    pareto_front,
    pick_best,
    results_table,
    write_csv,
    write_pareto_png,
)

__all__ = [
    "INSTALL_HINT",
    "StorageError",
    "TrialRecord",
    "SweepResult",
    "run_sweep",
    "open_study",
    "sample_values",
    "center_params",
    "apply_values",
    "prune_decision",
    "score_at",
    "pareto_front",
    "pick_best",
    "write_pareto_png",
    "warm_up",
]

INSTALL_HINT = "pip install 'puffer-trainer[sweep]'"
#: Seconds between writes of a running trial's curve to the storage, and between pruning checks.
CURVE_WRITE_S = 5.0
#: Configs in a row that break a constraint before the sweep gives up (the space is mostly invalid).
MAX_INVALID_IN_A_ROW = 200
#: Trials in a row that fail with an error before the sweep stops and shows it.
MAX_ERRORS_IN_A_ROW = 3


class StorageError(ConfigError):
    """A storage URL that optuna cannot use, or a database that cannot be reached."""


class InvalidConfigError(ConfigError):
    """A drawn config that breaks a constraint; its trial is recorded as failed and never launched."""


class TrialFailedError(RuntimeError):
    """A run that raised (an env error, ...); the sweep goes on unless this happens several times in a row."""


@dataclass
class SweepResult:
    """What ``run_sweep`` leaves: every trial, the Pareto front, the best trial and the files written."""

    study_name: str
    storage: str  #: the storage URL, password hidden
    dir: Path
    trials: list[TrialRecord]
    front: list[TrialRecord]  #: COMPLETE trials no other beats on both score and cost, cheapest first
    best: TrialRecord | None
    best_config: Path | None = None
    pareto_png: Path | None = None
    table: str = ""


# -- optuna and its storage -------------------------------------------------------------------------------
def _optuna() -> Any:
    try:
        import optuna
    except ImportError as error:
        raise ImportError(f"puffer sweep needs optuna, which is not installed: {INSTALL_HINT}") from error
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@contextlib.contextmanager
def _stable_enough() -> Any:
    """Silence optuna's ExperimentalWarning for the few long-standing features used (heartbeats, metric
    names): they would be printed at every start of every worker."""
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        yield


def hide_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def open_storage(url: str, heartbeat_s: int = 20) -> Any:
    """An optuna ``RDBStorage`` for ``url``, or a :class:`StorageError` in one line saying what is wrong.

    SQLite files get a long lock timeout (several workers on one file wait for each other instead of failing)
    and their folder is created; PostgreSQL and MySQL connections time out after 10 seconds, not hang.
    """
    optuna = _optuna()
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError) as error:
        raise StorageError(
            f"bad sweep storage URL {url!r}: {error} (expected e.g. sqlite:///sweep.db or "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
        ) from None
    if parsed.drivername == "postgresql":  # no driver named: the one the sweep extra installs (psycopg 3)
        parsed = parsed.set(drivername="postgresql+psycopg")
        url = parsed.render_as_string(hide_password=False)
    shown = hide_password(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args["timeout"] = 120
    elif backend in ("postgresql", "mysql"):
        connect_args["connect_timeout"] = 10
    lock_path = None
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        lock_path = Path(parsed.database).expanduser().with_name(Path(parsed.database).name + ".init-lock")
    try:
        for attempt in range(5):
            try:
                # Workers started together on a new database race to create its tables and its version row.
                # On one machine (SQLite) a file lock lets them take turns; on a server the loser sees
                # "already exists", a duplicate key or a unique constraint, and finds all made a moment later.
                with _stable_enough(), _file_lock(lock_path):
                    return optuna.storages.RDBStorage(
                        url,
                        engine_kwargs={"connect_args": connect_args},
                        heartbeat_interval=heartbeat_s,
                        grace_period=3 * heartbeat_s,
                        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                            max_retry=3
                        ),
                    )
            except sqlalchemy.exc.SQLAlchemyError as error:
                text = str(error).lower()
                racing = any(s in text for s in ("already exists", "duplicate key", "unique constraint"))
                if not racing or attempt == 4:
                    raise
                time.sleep(0.5 + attempt)
        raise AssertionError("unreachable")
    except ImportError as error:  # the URL's driver (psycopg2, pymysql) is not installed
        raise StorageError(f"sweep storage {shown}: the database driver is missing: {error}") from None
    except sqlalchemy.exc.NoSuchModuleError:
        raise StorageError(f"sweep storage {shown}: unknown database kind {backend!r}") from None
    except sqlalchemy.exc.SQLAlchemyError as error:
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        reason = detail[0] if detail else type(error).__name__
        raise StorageError(f"cannot use the sweep storage {shown}: {reason}") from None


@contextlib.contextmanager
def _file_lock(path: Path | None) -> Any:
    """An exclusive lock on ``path`` (created if needed) while the block runs; nothing when None or where
    ``fcntl`` does not exist (Windows)."""
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if path is None or fcntl is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fingerprint(config: Config, sweep: SweepConfig) -> dict[str, Any]:
    """What must agree between the workers and sessions of one study: env, base config, space, metric."""
    data = config.to_dict()
    data.pop("run")
    for machine_local in ("device", "torch_threads"):  # each worker may train where and how it likes
        data["train"].pop(machine_local)
    space = {}
    for dim in sweep.space:
        fields = dataclasses.asdict(dim)
        space[dim.key] = {k: fields[k] for k in ("distribution", "min", "max", "center")}
        space[dim.key]["values"] = list(dim.values)
    return {"config": data, "space": space, "metric": sweep.metric}


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if a == b else [path or "value"]


def open_study(
    config: Config, sweep: SweepConfig, storage: Any, study_name: str, wait_s: float = 60.0
) -> tuple[Any, bool]:
    """Create the study (score up, cost down) or continue it, checking that it searches the same thing.

    Returns ``(study, created)``. Of several workers started at once, exactly one creates the study (the
    storage's unique study name decides) and records what it searches; the others wait up to ``wait_s`` for
    that record and compare theirs with it.
    """
    optuna = _optuna()
    fingerprint = json.loads(json.dumps(_fingerprint(config, sweep)))
    directions = ["maximize", "minimize"]
    try:
        study = optuna.create_study(storage=storage, study_name=study_name, directions=directions)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=study_name)
        created = False
    if created:
        study.set_user_attr("puffer", fingerprint)
        with _stable_enough():
            study.set_metric_names(["score", "cost_s"])
        return study, True
    deadline = time.monotonic() + wait_s
    saved = study.user_attrs.get("puffer")
    while saved is None and time.monotonic() < deadline:  # its creator is writing the record right now
        time.sleep(0.5)
        saved = optuna.load_study(storage=storage, study_name=study_name).user_attrs.get("puffer")
    if saved is None:  # a study made by someone else (or whose creator died at once): adopt it
        study.set_user_attr("puffer", fingerprint)
        return study, False
    if [d.value for d in study.directions] != [optuna.study.StudyDirection.MAXIMIZE.value,
                                                optuna.study.StudyDirection.MINIMIZE.value]:  # fmt: skip
        raise ConfigError(f"study {study_name!r} is not a puffer sweep (it optimizes {study.directions})")
    different = _differences(saved, fingerprint)
    if different:
        shown = ", ".join(different[:6]) + (", ..." if len(different) > 6 else "")
        raise ConfigError(
            f"study {study_name!r} was started with another config or search space (differs in: "
            f"{shown}); continue it with the same config, or start a new one with --sweep.study-name NAME"
        )
    return study, False


# -- the search space on optuna ---------------------------------------------------------------------------
def _param_name(dim: ParamSpace) -> str:
    """The dimension's name in the study: its key, plus the scale it is sampled on if not its own."""
    return {"pow2": f"{dim.key}:log2", "logit": f"{dim.key}:logit"}.get(dim.distribution, dim.key)


def _distribution(dim: ParamSpace) -> Any:
    distributions = _optuna().distributions
    kind = dim.distribution
    if kind == "bool":
        return distributions.CategoricalDistribution([False, True])
    if kind == "categorical":
        return distributions.CategoricalDistribution(list(dim.values))
    if kind == "pow2":
        return distributions.IntDistribution(int(math.log2(dim.min)), int(math.log2(dim.max)))
    if kind == "logit":
        return distributions.FloatDistribution(logit(dim.min), logit(dim.max))
    if dim.integer:
        return distributions.IntDistribution(int(dim.min), int(dim.max), log=kind == "log")
    return distributions.FloatDistribution(float(dim.min), float(dim.max), log=kind == "log")


def _to_value(dim: ParamSpace, internal: Any) -> Any:
    """A config value from the study's value of ``dim``."""
    if dim.distribution == "pow2":
        return 1 << int(internal)
    if dim.distribution == "logit":
        return sigmoid(float(internal))
    return internal


def center_params(space: Sequence[ParamSpace]) -> dict[str, Any]:
    """The study's values of the space's centers (dimensions without a center are left to the sampler)."""
    params = {}
    for dim in space:
        if dim.center is None:
            continue
        if dim.distribution == "pow2":
            params[_param_name(dim)] = int(math.log2(dim.center))
        elif dim.distribution == "logit":
            params[_param_name(dim)] = logit(float(dim.center))
        else:
            params[_param_name(dim)] = dim.center
    return params


def sample_values(trial: Any, space: Sequence[ParamSpace]) -> dict[str, Any]:
    """Draw every dimension for ``trial``: ``{"train.learning_rate": 0.0123, ...}`` (config values)."""
    distributions = _optuna().distributions
    values = {}
    for dim in space:
        name, dist = _param_name(dim), _distribution(dim)
        if isinstance(dist, distributions.CategoricalDistribution):
            internal = trial.suggest_categorical(name, list(dist.choices))
        elif isinstance(dist, distributions.IntDistribution):
            internal = trial.suggest_int(name, dist.low, dist.high, log=dist.log)
        else:
            internal = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
        values[dim.key] = _to_value(dim, internal)
    return values


def apply_values(base: Config, values: dict[str, Any]) -> Config:
    """A copy of ``base`` with the drawn ``values`` set (type-checked as any override)."""
    config = Config.from_dict(base.to_dict())
    for key, value in values.items():
        section, name = key.split(".", 1)
        set_value(config, section, name, value, source=f"sweep value {key}")
    return config


class _AgentCounter:
    """Agents of a config's env (made once per distinct env kwargs), to check batch sizes before launch."""

    def __init__(self, env_id: str) -> None:
        self.env_id = env_id
        self._cache: dict[str, int] = {}

    def __call__(self, config: Config) -> int:
        key = json.dumps(config.env, sort_keys=True, default=str)
        if key not in self._cache:
            import puffer_core

            env = puffer_core.make(self.env_id, **config.env)
            try:
                self._cache[key] = int(env.num_agents)
            finally:
                env.close()
        return self._cache[key] * max(1, int(config.vec.num_env_objects))


def check_launchable(config: Config, num_agents: int) -> None:
    """Raise :class:`InvalidConfigError` (with the reason) if no run could use ``config``."""
    try:
        check_values(config)
        batch_sizes(config.train, num_agents)
        if not 0 <= config.train.prio_beta0 <= 1:
            raise ConfigError(f"train.prio_beta0 must lie in [0, 1], got {config.train.prio_beta0:g}")
    except ConfigError as error:
        raise InvalidConfigError(str(error)) from None


# -- pruning ------------------------------------------------------------------------------------------------
def score_at(curve: Sequence[Sequence[float]], seconds: float, finished: bool) -> float | None:
    """The training score a curve ``[[seconds, step, score], ...]`` had at ``seconds``.

    The last point at or before ``seconds``; a finished run keeps its last score after it ended. None when
    the curve says nothing yet (it starts later, or a running trial has not got that far).
    """
    if not curve or curve[0][0] > seconds:
        return None
    if curve[-1][0] < seconds and not finished:
        return None
    value = None
    for point in curve:
        if point[0] > seconds:
            break
        value = point[2]
    return value


def prune_decision(
    seconds: float,
    score: float | None,
    others: Sequence[tuple[Sequence[Sequence[float]], bool]],
    percentile: float,
    min_runs: int,
    warmup_s: float,
) -> str | None:
    """Why a run at ``seconds`` with training ``score`` should stop, or None to let it go on.

    ``others`` are the other trials' curves, each with whether that trial has finished. The run stops when,
    past the warm-up, at least ``min_runs`` of them had a score at the same wall-clock time and the run's
    score is below their ``percentile``-th percentile: others got further with the same cost.
    """
    if percentile <= 0 or seconds < warmup_s or score is None:
        return None
    scores = sorted(s for s in (score_at(c, seconds, done) for c, done in others) if s is not None)
    if len(scores) < max(1, min_runs):
        return None
    threshold = _percentile(scores, percentile)
    if score < threshold:
        return (
            f"score {score:.4g} at {seconds:.0f}s is below the {percentile:g}th percentile ({threshold:.4g}) "
            f"of {len(scores)} other runs at the same time"
        )
    return None


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile of sorted ``values`` (numpy's default method)."""
    position = (len(values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


# -- results ----------------------------------------------------------------------------------------------
def _record(trial: Any) -> TrialRecord:
    attrs = trial.user_attrs
    state = trial.state.name
    values = trial.values if state == "COMPLETE" else None
    return TrialRecord(
        number=trial.number,
        state=state,
        score=float(values[0]) if values else None,
        cost_s=float(values[1]) if values else attrs.get("cost_s"),
        values=dict(attrs.get("values", {})),
        steps=attrs.get("steps"),
        note=str(attrs.get("note", "")),
        curve=[list(p) for p in attrs.get("curve", [])],
        target_reached_s=attrs.get("target_reached_s"),
    )


# -- the sweep -----------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-") or "sweep"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _recover_dead_trials(study: Any, say: Callable[[str], None]) -> None:
    """Fail and requeue (same values) the RUNNING trials of this host whose worker process is gone.

    A worker killed outright leaves its trial RUNNING; on this host its pid tells at once that it died, on
    other hosts optuna's heartbeat fails it after ``3 x heartbeat_s``.
    """
    optuna = _optuna()
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        name, _, pid = worker.rpartition(":")
        if name != host or not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
        say(f"trial {trial.number} was running in process {pid}, which is gone: queued again with its values")


class _Printer:
    """The sweep's progress lines (flushed at once: the sweep's output is often a log file)."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def __call__(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def run_sweep(
    config: Config,
    sweep: SweepConfig,
    *,
    stream: IO[str] | None = None,
    train_fn: Callable[..., Any] | None = None,
    report_only: bool = False,
) -> SweepResult:
    """Search ``sweep.space`` around ``config`` until the study holds ``max_runs`` runs (or ``max_time_s``).

    Several processes (on one machine or many, with a shared storage) may run this on the same study at
    once; each takes the next trial. Returns the study's results (all workers' trials so far) and writes
    ``pareto.png``, ``best.toml`` and ``trials.csv`` into the sweep folder. ``report_only`` starts no run:
    it only writes and prints the results of the study so far. ``train_fn`` replaces
    :func:`puffer_trainer.run.run` (same ``config, stream=, progress=`` call), e.g. to wrap it in tests.
    """
    optuna = _optuna()
    from .evaluation import evaluate_checkpoint
    from .logging import pick_score
    from .run import run as run_training
    from .run_folder import to_toml

    say = _Printer(stream)
    train = train_fn or run_training
    study_name = sweep.study_name or config.env_id
    folder = Path(sweep.dir or Path(config.run.run_dir) / "sweeps" / _slug(study_name)).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    url = sweep.storage or f"sqlite:///{folder / 'study.db'}"
    storage = open_storage(url, sweep.heartbeat_s)
    count_agents = _AgentCounter(config.env_id)
    import puffer_core

    env_defaults = dict(puffer_core.spec(config.env_id).default_kwargs or {})
    space = resolve_space(sweep.space, config, count_agents(config), env_defaults)
    resolved = dataclasses.replace(sweep, space=space)
    study, created = open_study(config, resolved, storage, study_name)
    say(f"sweep {study_name!r} on {config.env_id}: storage {hide_password(url)}, folder {folder}")
    say(f"search space ({len(space)} values; the first run is the config's own values):")
    for dim in space:
        bounds = (
            f"{list(dim.values)}" if dim.distribution == "categorical"
            else "false/true" if dim.distribution == "bool"
            else f"[{fmt_value(dim.min)}, {fmt_value(dim.max)}]"
        )  # fmt: skip
        say(f"  {dim.key:<28} {dim.distribution:<11} {bounds:<24} center {fmt_value(dim.center)}")
    cap = f"{sweep.max_cost_s:g}s of training" if sweep.max_cost_s else "no cap"
    say(f"up to {sweep.max_runs} runs, each {cap}; score: {sweep.metric or 'score/episode_return'} over "
        f"{sweep.eval_episodes} evaluation episodes")  # fmt: skip

    states = optuna.trial.TrialState
    if report_only:
        return finish(config, resolved, study, folder, url, say, to_toml)
    _recover_dead_trials(study, say)
    if created:  # one worker, once per study: the first run is the config's own values
        study.enqueue_trial(center_params(space), user_attrs={"center": True})
    host_pid = f"{socket.gethostname()}:{os.getpid()}"
    metric = sweep.metric
    eval_overrides = {}
    if "num_envs" in config.env or "num_envs" in env_defaults:
        # One copy per episode: with thousands of copies the first episodes to finish are the shortest ones.
        eval_overrides["num_envs"] = sweep.eval_episodes
    wandb_group = _slug(study_name)
    counted = (states.COMPLETE, states.PRUNED, states.RUNNING)  # runs that count towards max_runs
    run_root = folder / "runs"
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)

    def objective(trial: Any) -> tuple[float, float]:
        trial.set_user_attr("worker", host_pid)
        for stale in ("curve", "note", "cost_s", "steps", "target_reached_s"):  # a retried trial's old ones
            if stale in trial.user_attrs:
                trial.set_user_attr(stale, None if stale != "curve" else [])
        values = sample_values(trial, space)
        trial.set_user_attr("values", values)
        shown = " ".join(f"{k.split('.', 1)[1]}={fmt_value(v)}" for k, v in values.items())
        try:
            trial_config = apply_values(config, values)
            check_launchable(trial_config, count_agents(trial_config))
        except ConfigError as error:
            trial.set_user_attr("note", f"never launched: {error}")
            say(f"[trial {trial.number}] skipped, never launched: {error}")
            raise InvalidConfigError(str(error)) from None
        name = f"{_slug(study_name)}-trial{trial.number:04d}"
        trial_config.run.run_dir = str(run_root)
        trial_config.run.run_name = name
        trial_config.run.resume = None
        trial_config.run.log = "plain"
        trial_config.run.wandb_group = wandb_group if config.run.wandb else None
        retry = trial.user_attrs.get("retry_of")
        again = f" (again: trial {retry} died)" if retry is not None else ""
        say(f"[trial {trial.number}] start{again}: {shown}")

        curve: list[list[float]] = []
        state = {"written": 0.0, "shown": 0.0, "pruned": None, "capped": False}
        show_every = max(10.0, (sweep.max_cost_s or 300.0) / 6)

        def progress(step: int, loop_seconds: float, score: float | None) -> bool:
            # Seconds since launch, not since the training loop started: building the env and the policy is
            # part of a config's cost, and the cap and the curves count it as RunResult.elapsed_s does.
            seconds = time.perf_counter() - launched
            if score is not None and math.isfinite(score):
                curve.append([round(seconds, 2), int(step), float(score)])
            if seconds - state["shown"] >= show_every:
                state["shown"] = seconds
                said = "no episode yet" if score is None else f"training score {score:.4g}"
                say(f"[trial {trial.number}] {seconds:5.0f}s {step:>13,} steps  {said}")
            capped = sweep.max_cost_s is not None and seconds >= sweep.max_cost_s
            if seconds - state["written"] < CURVE_WRITE_S:
                state["capped"] = capped
                return capped
            state["written"] = seconds
            trial.set_user_attr("curve", curve)
            compared = study.get_trials(deepcopy=False, states=counted)
            others = [
                (t.user_attrs.get("curve") or [], t.state != states.RUNNING)
                for t in compared
                if t.number != trial.number
            ]
            reason = prune_decision(
                seconds, score, others, sweep.prune_percentile, sweep.prune_min_runs, sweep.prune_warmup_s
            )
            if reason is not None:  # checked before the cap: a run both capped and behind was pruned
                state["pruned"] = reason
                return True
            state["capped"] = capped
            return capped

        with open(logs / f"{name}.log", "w", encoding="utf-8") as log:
            try:
                launched = time.perf_counter()
                result = train(trial_config, stream=log, progress=progress)
            except Exception as error:
                from .errors import NonFiniteLossError

                trial.set_user_attr("curve", curve)
                if isinstance(error, NonFiniteLossError):  # the config diverges: a result, a bad one
                    trial.set_user_attr("note", f"diverged: {error}")
                    say(f"[trial {trial.number}] pruned: the loss diverged ({error})")
                    raise optuna.TrialPruned(str(error)) from None
                trial.set_user_attr("note", f"failed: {type(error).__name__}: {error}")
                say(f"[trial {trial.number}] failed: {type(error).__name__}: {error} (log: {log.name})")
                raise TrialFailedError(f"trial {trial.number}: {type(error).__name__}: {error}") from error
        trial.set_user_attr("curve", curve)
        trial.set_user_attr("steps", int(result.global_step))
        trial.set_user_attr("cost_s", float(result.elapsed_s))
        trial.set_user_attr("target_reached_s", result.target_reached_s)
        trial.set_user_attr("run_folder", str(result.run_folder))
        if result.stopped_by in ("SIGINT", "SIGTERM"):
            raise KeyboardInterrupt
        if state["pruned"] is not None:
            trial.set_user_attr("note", f"pruned: {state['pruned']}")
            say(f"[trial {trial.number}] pruned at step {result.global_step:,}: {state['pruned']}")
            raise optuna.TrialPruned(state["pruned"])
        started = time.perf_counter()
        evaluation = evaluate_checkpoint(
            config.env_id,
            result.checkpoint,
            episodes=sweep.eval_episodes,
            max_steps=sweep.eval_max_steps,
            seed=int(trial_config.train.seed),
            env_overrides=eval_overrides,
        )
        stats = evaluation.stats
        if metric is not None:
            if metric not in stats:
                raise ConfigError(f"sweep.metric {metric!r} is not an episode statistic of {config.env_id} "
                                  f"(it has {', '.join(sorted(stats)) or 'none'})")  # fmt: skip
            score = float(stats[metric])
        else:
            picked = pick_score(stats)
            if picked is None:
                note = f"no evaluation episode finished within {sweep.eval_max_steps} steps"
                trial.set_user_attr("note", note)
                say(f"[trial {trial.number}] pruned: {note}")
                raise optuna.TrialPruned(note)
            score = picked[1]
        trial.set_user_attr("eval_s", time.perf_counter() - started)
        trial.set_user_attr("eval_episodes", evaluation.episodes)
        note = "capped at max_cost_s" if state["capped"] else ""
        trial.set_user_attr("note", note)
        reached = result.target_reached_s
        reached = "" if reached is None else f"; training score reached the target at {reached:.0f}s"
        capped = " (capped)" if note else ""
        say(f"[trial {trial.number}] done: score {score:.4g} ({evaluation.episodes} episodes) after "
            f"{result.elapsed_s:.0f}s of training{capped}, {result.global_step:,} steps{reached}")
        return score, float(result.elapsed_s)

    warm_up(config)
    started = time.perf_counter()
    invalid = errors = 0
    while True:
        trials = study.get_trials(deepcopy=False, states=counted)
        waiting = study.get_trials(deepcopy=False, states=(states.WAITING,))
        if len(trials) >= sweep.max_runs and not waiting:
            break
        if sweep.max_time_s is not None and time.perf_counter() - started >= sweep.max_time_s:
            say(f"sweep.max_time_s ({sweep.max_time_s:g}s) is up: no new run")
            break
        # Reseeded per trial: one worker's sweep repeats exactly, and workers started together draw apart.
        study.sampler = optuna.samplers.TPESampler(
            n_startup_trials=sweep.startup_runs,
            multivariate=True,
            constant_liar=True,
            seed=sweep.seed + len(study.get_trials(deepcopy=False)),
        )
        try:
            # InvalidConfigError: the trial is FAIL with its reason, the search goes on.
            with _stable_enough():  # optimize fails stale trials through an experimental function
                study.optimize(objective, n_trials=1, catch=(InvalidConfigError,), gc_after_trial=True)
        except TrialFailedError as error:
            errors += 1
            if errors >= MAX_ERRORS_IN_A_ROW:
                raise TrialFailedError(f"{errors} runs in a row failed; the last: {error}") from error
            continue
        except KeyboardInterrupt:
            _requeue_interrupted(study, host_pid)
            raise
        errors = 0
        mine = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("worker") == host_pid]
        note = str(mine[-1].user_attrs.get("note", "")) if mine else ""
        if mine and mine[-1].state == states.FAIL and note.startswith("never launched"):
            invalid += 1
            if invalid >= MAX_INVALID_IN_A_ROW:
                raise ConfigError(f"{invalid} configs in a row broke a constraint (last: {note}); "
                                  "narrow the search space")  # fmt: skip
        else:
            invalid = 0
    return finish(config, resolved, study, folder, url, say, to_toml)


def warm_up(config: Config) -> None:
    """Pay the process's one-time costs before the first run: importing torch and the trainer, loading the
    advantage kernel, starting the device. Otherwise they would count as the first run's cost (seconds, the
    first run being the config's own values) and none of the others'."""
    import torch

    from . import advantage, logging, trainer  # noqa: F401  (imported for their side effect: loaded)

    if config.train.device.startswith("cuda") and torch.cuda.is_available():
        torch.zeros(1, device=config.train.device).sum().item()
    # torch's optimizers import torch._dynamo on first use (torch._disable_dynamo): seconds, more on a busy
    # machine. Then the advantage kernel and what draws curve.png.
    modules = ("torch._dynamo", "puffer_kernels", "matplotlib.backends.backend_agg", "matplotlib.figure")
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:  # reported by whoever needs it
            pass


def _requeue_interrupted(study: Any, host_pid: str) -> None:
    """After Ctrl-C the interrupted trial is FAIL: queue its values again so that resuming reruns it."""
    optuna = _optuna()
    for trial in reversed(study.get_trials(deepcopy=False)):
        if trial.user_attrs.get("worker") == host_pid and trial.state == optuna.trial.TrialState.FAIL:
            if not str(trial.user_attrs.get("note", "")).startswith("never launched"):
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
            return


def finish(
    config: Config,
    sweep: SweepConfig,
    study: Any,
    folder: Path,
    url: str,
    say: Callable[[str], None],
    to_toml: Callable[[dict], str],
) -> SweepResult:
    """Collect the study's trials, write the table, plot, CSV and best config; print the summary."""
    records = [_record(t) for t in study.get_trials(deepcopy=False)]
    front = pareto_front(records)
    best = pick_best(front, sweep.score_target)
    center = next((r for r in records if r.state == "COMPLETE" and _is_center(study, r.number)), None)
    result = SweepResult(
        study_name=study.study_name,
        storage=hide_password(url),
        dir=folder,
        trials=records,
        front=front,
        best=best,
    )
    result.table = results_table(records, front, best)
    counts = {s: sum(r.state == s for r in records) for s in ("COMPLETE", "PRUNED", "FAIL")}
    say(f"\n{counts['COMPLETE']} runs finished, {counts['PRUNED']} pruned, {counts['FAIL']} failed or never "
        f"launched; Pareto front: {len(front)} runs")  # fmt: skip
    say(result.table)
    write_csv(records, folder / "trials.csv")
    if records and any(r.state == "COMPLETE" for r in records):
        result.pareto_png = write_pareto_png(
            records, front, best, folder / "pareto.png", f"{config.env_id} · sweep {study.study_name}",
            target=sweep.score_target, baseline=center,
        )  # fmt: skip
        say(f"Pareto front: {result.pareto_png}")
    if best is not None:
        best_config = apply_values(config, best.values)
        best_config.run.run_name = None
        best_config.run.resume = None
        best_config.run.wandb_group = None
        data = best_config.to_dict()
        header = (
            f"# puffer sweep {study.study_name!r}, trial {best.number}: score {best.score:.6g} after "
            f"{best.cost_s:.1f}s of training\n# puffer train {config.env_id} --config best.toml\n"
        )
        from .checkpoint import atomic_write

        result.best_config = folder / "best.toml"
        with atomic_write(result.best_config) as handle:
            handle.write((header + to_toml(data)).encode())
        why = (
            f"the cheapest run scoring at least {sweep.score_target:g}"
            if sweep.score_target is not None and best.score >= sweep.score_target
            else "the highest score"
        )
        say(f"best: trial {best.number} ({why}): score {best.score:.4g} in {best.cost_s:.1f}s; "
            f"config {result.best_config}")  # fmt: skip
        say(f"  puffer train {config.env_id} --config {result.best_config}")
    return result


def _is_center(study: Any, number: int) -> bool:
    trial = study.get_trials(deepcopy=False)[number]
    return bool(trial.user_attrs.get("center"))
