"""The ``puffer`` command: ``train``, ``eval``, ``export``, ``list``, ``autotune``, ``sweep`` and ``new-env``.

Config overrides are written ``--section.key value`` (or ``--section.key=value``; dashes and underscores
are the same; a bare boolean flag means true), after or between the other arguments::

    puffer train ocean/breakout --train.learning-rate 0.01 --train.anneal-lr false --env.num-envs=4096
    puffer train ocean/breakout --config my.toml --wandb --resume latest
    puffer eval ocean/breakout --checkpoint runs/NAME/checkpoints/latest.pt --render breakout.gif
    puffer export ocean/squared --checkpoint runs/NAME/checkpoints/latest.pt --out squared-c
    puffer list
    puffer autotune ocean/breakout --budget 30                # same agents, fastest layout here
    puffer new-env maze --c                                   # a plugin package with a C env
    puffer sweep ocean/breakout --config sweep.toml --sweep.max-runs 30 --sweep.max-cost-s 120
    torchrun --nproc-per-node 2 -m puffer_trainer train ocean/breakout --train.device cuda

Exit status: 0 on success, 1 when the run fails (non-finite loss, env error), 2 for bad usage or config,
and 128 + signal number (130 for Ctrl-C) when SIGINT/SIGTERM stopped a run after saving its checkpoint.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

__all__ = ["main", "build_parser", "split_overrides"]

EXIT_FAILED = 1
EXIT_USAGE = 2


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate ``--section.key [value]`` overrides from the other arguments.

    Returns ``(rest, overrides)`` where every override is normalized to ``--section.key=value``. A value is
    the next token unless that token is itself an option (starts with ``--``); a flag with no value is true.
    Negative numbers (``--train.ent-coef -0.01``) are values.
    """
    rest: list[str] = []
    overrides: list[str] = []
    i = 0
    argv = list(argv)
    while i < len(argv):
        token = argv[i]
        if token == "--":  # everything after a bare -- is positional
            rest.extend(argv[i:])
            break
        key = token[2:].split("=", 1)[0] if token.startswith("--") else ""
        if "." not in key:
            rest.append(token)
            i += 1
            continue
        # Keys keep their spelling here; config.normalize_key (through set_value) makes dashes underscores for
        # every section, env kwargs included, on the CLI and library paths alike.
        name = "--" + key
        if "=" in token:
            overrides.append(f"{name}={token.split('=', 1)[1]}")
            i += 1
        elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            overrides.append(f"{name}={argv[i + 1]}")
            i += 2
        else:
            overrides.append(f"{name}=true")
            i += 1
    return rest, overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="puffer",
        description="Puffer: fast reinforcement learning. Config overrides: --section.key value "
        "(e.g. --train.learning-rate 0.01 --env.num-envs 4096 --train.anneal-lr false).",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a policy on an env",
        allow_abbrev=False,
        description="Train on ENV. Defaults: the env's registered training config over the trainer defaults, "
        "then --config FILE, then --section.key overrides.",
    )
    train.epilog = _config_keys_help()
    train.formatter_class = argparse.RawDescriptionHelpFormatter
    train.add_argument("env", metavar="ENV", help="env id, e.g. ocean/breakout or gym/CartPole-v1")
    train.add_argument(
        "--config", metavar="FILE", help="TOML file with [train], [vec], [policy], [run], [env]"
    )
    train.add_argument(
        "--wandb", action="store_true", help="log to wandb (offline without an API key); = --run.wandb"
    )
    train.add_argument("--resume", metavar="PATH|latest", help="continue from a checkpoint; = --run.resume")
    train.add_argument("--log", choices=("auto", "dashboard", "plain"), help="terminal output; = --run.log")
    train.add_argument(
        "--print-config", action="store_true", help="print the resolved config as TOML and exit"
    )

    ev = commands.add_parser(
        "eval", help="evaluate a checkpoint, optionally rendering a GIF", allow_abbrev=False
    )
    ev.add_argument("env", metavar="ENV")
    ev.add_argument("--checkpoint", required=True, metavar="PATH", help="a .pt file written by puffer train")
    ev.add_argument("--render", metavar="OUT.gif", help="save the env's frames as a GIF")
    ev.add_argument("--episodes", type=int, default=10, help="episodes to play (default 10)")
    ev.add_argument(
        "--max-steps", type=int, default=10_000, help="stop after this many env steps (default 10000)"
    )
    ev.add_argument("--fps", type=float, default=30.0, help="GIF frame rate (default 30)")
    ev.add_argument(
        "--deterministic", action="store_true", help="take the most likely action instead of sampling"
    )
    ev.add_argument("--seed", type=int, default=0)

    ex = commands.add_parser(
        "export",
        help="write a checkpoint's policy for the C inference library (and a C runner for ocean envs)",
        allow_abbrev=False,
        description="Write DIR/policy.bin (the flat file puffer-kernels' C library loads) and "
        "DIR/policy.json "
        "(its architecture). For ocean envs also compile DIR/ocean_play, which plays the policy on the env "
        "in pure C (needs a C compiler; see docs/export.md).",
    )
    ex.add_argument("env", metavar="ENV")
    ex.add_argument("--checkpoint", required=True, metavar="PATH", help="a .pt file written by puffer train")
    ex.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    ex.add_argument("--no-runner", action="store_true", help="write the policy files only, compile nothing")
    ex.add_argument("--cc", metavar="COMPILER", help="C compiler for the runner (default: $CC, else cc)")

    commands.add_parser(
        "list", help="list registered envs, plugins that failed to load, misnamed hooks and id conflicts"
    )

    tune = commands.add_parser(
        "autotune",
        help="find the vector-env layout that trains fastest here, for the config's number of agents",
        allow_abbrev=False,
        description="Time short training runs (env, inference and learning) of ENV's config laid out in "
        "several ways: backend, workers, batch, and how an ocean env's copies split into env objects. The "
        "number of agents stays the config's (set it with --env.num-envs or --vec.num-env-objects); the "
        "overrides that make the fastest layout are printed, with each layout's SPS against the current one.",
    )
    tune.add_argument("env", metavar="ENV")
    tune.add_argument("--config", metavar="FILE")
    tune.add_argument("--budget", type=float, default=30.0, help="total seconds for the search (default 30)")
    tune.add_argument("--trial", type=float, default=1.0, help="seconds of training per layout (default 1)")
    tune.add_argument(
        "--max-env-objects",
        "--max-envs",  # the 0.1.0 name
        dest="max_env_objects",
        type=int,
        default=64,
        help="most env objects a layout may split the agents into (default 64)",
    )

    new = commands.add_parser(
        "new-env",
        help="create a third-party env plugin package (pyproject with the entry point, env, tests, README)",
        allow_abbrev=False,
        description="Write a plugin package for env NAME from Puffer's template: a Python env (numpy, built "
        "with hatchling) or, with --c, a C env (built with scikit-build-core, loaded with cffi). Install it "
        "(pip install ./FOLDER) and the env shows in `puffer list` and trains with `puffer train`.",
    )
    new.add_argument(
        "name", metavar="NAME", help="env name, or family/name: lower-case identifiers (id FAMILY/NAME)"
    )
    new.add_argument("--c", action="store_true", help="write the env in C instead of Python")
    new.add_argument(
        "--output", "-o", metavar="DIR", help="folder to create (default ./puffer-envs-FAMILY; must be empty)"
    )

    sweep = commands.add_parser(
        "sweep",
        help="search hyperparameters: the Pareto front of score against training time (sweep extra)",
        allow_abbrev=False,
        description="Train configs drawn from the search space ([sweep.SECTION.KEY] tables of the config, "
        "or a default space of PPO hyperparameters around the env's registered config), score each final "
        "policy on fresh episodes, and search for the best score per wall-clock second with optuna. The "
        "study lives in --sweep.storage (default: an SQLite file in the sweep folder): run the command "
        "again to continue a stopped sweep, or run it in several processes at once (with a PostgreSQL URL, "
        "on several machines) to share the work. Writes pareto.png, best.toml (for puffer train --config) "
        "and trials.csv.",
    )
    sweep.epilog = _sweep_keys_help()
    sweep.formatter_class = argparse.RawDescriptionHelpFormatter
    sweep.add_argument("env", metavar="ENV")
    sweep.add_argument(
        "--config", metavar="FILE", help="TOML file with the values and their [sweep.SECTION.KEY] ranges"
    )
    sweep.add_argument("--wandb", action="store_true", help="log every run to wandb, one group per sweep")
    sweep.add_argument(
        "--report", action="store_true", help="start no run: print and write the results of the study so far"
    )
    return parser


def _sweep_keys_help() -> str:
    """Every ``--sweep.KEY`` with its default, and the distributions a search-space table may use."""
    import dataclasses
    import textwrap

    from .config import DISTRIBUTIONS, SweepConfig

    items = [
        f"{f.name.replace('_', '-')}={'none' if f.default is None else f.default}"
        for f in dataclasses.fields(SweepConfig)
        if f.name != "space"
    ]
    lines = ["sweep settings (--sweep.KEY value, or KEY = value in the file's [sweep] table):"]
    lines.append(textwrap.fill(" ".join(items), width=100, initial_indent="    ", subsequent_indent="    "))
    lines.append('search space: [sweep.train.learning_rate] distribution = "log" (min = ..., max = ...):')
    for name, text in DISTRIBUTIONS.items():
        lines.append(textwrap.fill(f"{name}: {text}", width=100, initial_indent="    ",
                                   subsequent_indent="        "))  # fmt: skip
    lines.append("    without min/max a range is spanned around the config's value (scale = factor).")
    return "\n".join(lines)


def _config_keys_help() -> str:
    """Every ``--section.key`` with its trainer default, for ``puffer train --help``."""
    import dataclasses
    import textwrap

    from .config import SECTIONS

    lines = [
        "config keys (trainer defaults; the env's registered config may change them, see --print-config;",
        "--env.KEY sets the env's own keyword arguments):",
        "  agents = vec.num-env-objects (env objects in the vector env) x agents per object; an ocean env",
        "  object steps --env.num-envs copies (1024 by default): there --env.num-envs sets the agent count.",
        "  (--vec.num-envs is the deprecated old name of --vec.num-env-objects.)",
    ]
    for section, cls in SECTIONS.items():
        items = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            text = str(default).lower() if isinstance(default, bool) or default is None else default
            items.append(f"{f.name.replace('_', '-')}={text}")
        body = textwrap.fill(" ".join(items), width=100, initial_indent="    ", subsequent_indent="    ")
        lines += [f"  --{section}.KEY:", body]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``puffer`` command and ``python -m puffer_trainer``; returns the exit status."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        try:
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):  # the reader went away (`| head`): no noise at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


def _main(argv: list[str]) -> int:
    rest, overrides = split_overrides(argv)
    parser = build_parser()
    args = parser.parse_args(rest)
    if args.command not in ("train", "eval", "autotune", "sweep") and overrides:
        parser.error(f"{args.command} takes no config overrides, got {' '.join(overrides)}")
    # Checked before any work: an eval that renders its GIF last must not fail after the whole run.
    for flag in ("fps", "budget", "trial"):
        value = getattr(args, flag, None)
        if value is not None and not (math.isfinite(value) and value > 0):
            unit = "frames per second" if flag == "fps" else "seconds"
            parser.error(f"--{flag} must be a positive number ({unit}), got {value}")
    try:
        if args.command == "train":
            return _train(args, overrides)
        if args.command == "eval":
            return _eval(args, overrides)
        if args.command == "list":
            return _list(sys.stdout)
        if args.command == "new-env":
            return _new_env(args)
        if args.command == "sweep":
            return _sweep(args, overrides)
        if args.command == "export":
            return _export(args)
        return _autotune(args, overrides)
    except KeyboardInterrupt:
        _error("interrupted")
        return 128 + 2
    except Exception as error:
        return _report(error)


def _report(error: Exception) -> int:
    """Known error kinds become one clear line and an exit status; anything else keeps its traceback.

    ``PUFFER_TRACEBACK=1`` shows the traceback of every error.
    """
    from puffer_core import EnvWorkerError, PufferError

    from .checkpoint import CheckpointError
    from .config import ConfigError

    if os.environ.get("PUFFER_TRACEBACK", "") not in ("", "0"):
        raise error
    if type(error).__name__ in ("NonFiniteLossError", "RankFailedError", "TrialFailedError"):
        _error(f"training stopped: {error}")
        return EXIT_FAILED
    if isinstance(error, EnvWorkerError):  # the env crashed mid-run: its traceback is in the message
        _error(f"the env failed: {error}")
        return EXIT_FAILED
    from .export import ExportError

    if isinstance(error, (ConfigError, CheckpointError, ExportError, PufferError, ImportError)):
        _error(str(error))
        return EXIT_USAGE
    if isinstance(error, MemoryError):
        detail = str(error) or "an allocation failed"
        _error(f"out of memory: {detail} (use fewer envs, agents or a smaller batch)")
        return EXIT_USAGE
    where = _env_frame(error)  # the env's own code raised while puffer made, reset or stepped it
    if isinstance(error, (ValueError, TypeError)):  # bad kwargs or values: a usage error
        at = f"at {where}; " if where else ""
        _error(f"{type(error).__name__}: {error} ({at}PUFFER_TRACEBACK=1 shows where)")
        return EXIT_USAGE
    if where is not None:
        _error(f"the env raised {type(error).__name__}: {error} (at {where}; PUFFER_TRACEBACK=1 shows more)")
        return EXIT_FAILED
    raise error


#: puffer-core functions that call into env code: an error raised below one of them is the env's.
_ENV_CALLERS = {"probe_env", "step_envs", "reset_envs", "_make_registered", "make"}


def _env_frame(error: BaseException) -> str | None:
    """``file:line`` of the innermost frame of ``error`` below a puffer-core call into an env, else None."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    for k, frame in enumerate(frames):
        in_core = f"{os.sep}puffer_core{os.sep}" in frame.filename
        if in_core and frame.name in _ENV_CALLERS and k + 1 < len(frames):
            below = [f for f in frames[k + 1 :] if f"{os.sep}puffer_core{os.sep}" not in f.filename]
            if below:
                return f"{below[-1].filename}:{below[-1].lineno}"
    return None


def _error(text: str) -> None:
    rank = os.environ.get("RANK")
    prefix = f"puffer (rank {rank})" if rank not in (None, "0") else "puffer"
    print(f"{prefix}: error: {text}", file=sys.stderr, flush=True)


def _train(args: argparse.Namespace, overrides: list[str]) -> int:
    from .config import load_config
    from .run import run

    extra = []
    if args.wandb:
        extra.append("--run.wandb=true")
    if args.resume:
        extra.append(f"--run.resume={args.resume}")
    if args.log:
        extra.append(f"--run.log={args.log}")
    config = load_config(args.env, args.config, [*overrides, *extra])
    if config.run.resume not in (None, "", "none"):
        config = _resumed(args, config, [*overrides, *extra])
    if args.print_config:
        from .run_folder import to_toml

        for warning in config.warnings:
            print(f"puffer: warning: {warning}", file=sys.stderr)
        sys.stdout.write(to_toml(config.to_dict()))
        return 0
    result = run(config)
    return result.exit_code


def _resumed(args: argparse.Namespace, config: Any, overrides: list[str]) -> Any:
    """A resumed run takes its checkpoint's config; the few overrides allowed are printed."""
    from .checkpoint import find_latest, load_checkpoint
    from .config import ConfigError, resume_config

    if args.config:
        raise ConfigError("--config cannot be combined with --resume: a resumed run keeps its saved config")
    path = config.run.resume
    if path == "latest":
        path = find_latest(config.run.run_dir, config.env_id, config.run.run_name)
    saved = load_checkpoint(path)["config"]
    config, changes = resume_config(saved, args.env, [*overrides, f"--run.resume={path}"])
    print(f"puffer: resuming {path} with the config it was trained with", file=sys.stderr)
    for change in changes:
        print(f"puffer:   override {change}", file=sys.stderr)
    return config


def _eval(args: argparse.Namespace, overrides: list[str]) -> int:
    from .config import normalize_key, parse_literal
    from .evaluation import evaluate_checkpoint
    from .logging.plain import human

    env_overrides = {}
    for item in overrides:
        key, value = item[2:].split("=", 1)
        section, name = normalize_key(*key.split(".", 1))
        if section != "env":
            raise ValueError(f"eval takes only --env.KEY overrides (env kwargs), got {item.split('=')[0]!r}")
        env_overrides[name] = parse_literal(value)
    result = evaluate_checkpoint(
        args.env,
        args.checkpoint,
        episodes=args.episodes,
        max_steps=args.max_steps,
        render=args.render,
        fps=args.fps,
        deterministic=args.deterministic,
        seed=args.seed,
        env_overrides=env_overrides,
    )
    stats = ", ".join(f"{k} {human(v)}" for k, v in sorted(result.stats.items())) or "no episode finished"
    print(f"{args.env}: {result.episodes} episode(s) in {result.steps} steps: {stats}")
    if result.episodes < args.episodes:
        limit = f"--max-steps {args.max_steps}"
        print(f"only {result.episodes} of {args.episodes} episode(s) finished within {limit}")
    if result.render_path is not None:
        print(f"wrote {result.frames} frames to {result.render_path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_checkpoint

    result = export_checkpoint(
        args.env, args.checkpoint, args.out, runner=not args.no_runner, compiler=args.cc
    )
    print(f"wrote {result.policy} ({result.policy.stat().st_size:,} bytes) and {result.description}")
    if result.runner is not None:
        print(f"built {result.runner}; play it in pure C: {' '.join(result.command)}")
    elif result.runner_note:
        print(result.runner_note)
    return 0


def _list(stream: IO[str]) -> int:
    import puffer_core

    specs = puffer_core.list_envs()
    broken = puffer_core.broken_plugins()
    width = max([len(s.id) for s in specs] + [8])
    print(f"{len(specs)} registered env(s) (any gymnasium id also works as gym/<id>):", file=stream)
    for spec in specs:
        plugin = f"  [{spec.plugin}]" if spec.plugin else ""
        print(f"  {spec.id:<{width}}  {spec.description}{plugin}", file=stream)
    if broken:
        print(f"\n{len(broken)} plugin problem(s): failed to load, a misnamed or undecorated hook, "
              "or an env id claimed twice", file=stream)
        for plugin in broken:
            lines = plugin.error.strip().splitlines()
            print(f"  {plugin.name}: {lines[-1] if lines else 'unknown error'}", file=stream)
            for line in lines[:-1]:
                print(f"      {line}", file=stream)
    return 0


def _new_env(args: argparse.Namespace) -> int:
    from .new_env import new_env

    try:
        made = new_env(args.name, c=args.c, output=args.output)
    except (ValueError, FileExistsError) as error:
        _error(str(error))
        return EXIT_USAGE
    kind = "a C env (scikit-build-core + cffi)" if made.language == "c" else "a Python env"
    print(f"wrote {made.distribution} ({kind}, {len(made.files)} files) to {made.path}")
    print(f"  env id {made.env_id}, package {made.package}, entry point puffer.envs -> {made.package}.plugin")
    print("next:")
    print(f"  pip install -e '{made.path}[test]'" if made.language == "python" else
          f"  pip install '{made.path}[test]'")
    print(f"  puffer list && pytest {made.path / 'tests'}")
    print(f"  puffer train {made.env_id}")
    return 0


def _sweep(args: argparse.Namespace, overrides: list[str]) -> int:
    from .config import load_sweep_config
    from .sweep import run_sweep

    extra = ["--run.wandb=true"] if args.wandb else []
    config, sweep = load_sweep_config(args.env, args.config, [*overrides, *extra])
    for warning in config.warnings:
        print(f"puffer: warning: {warning}", file=sys.stderr)
    run_sweep(config, sweep, report_only=args.report)
    return 0


def _autotune(args: argparse.Namespace, overrides: list[str]) -> int:
    from .autotune import MIN_GAIN, autotune
    from .config import load_config, normalize_key
    from .logging.plain import human

    config = load_config(args.env, args.config, overrides)
    for warning in config.warnings:
        print(f"puffer: warning: {warning}", file=sys.stderr)

    def ratio(trial) -> str:
        baseline = result_so_far[0] if result_so_far else None
        if trial.current or baseline is None or baseline.error is not None or baseline.sps <= 0:
            return ""
        return f"  {trial.sps / baseline.sps:.2f}x"

    result_so_far: list[Any] = []

    def report(trial) -> None:
        if trial.error is None:
            outcome = f"{human(trial.sps):>6} SPS{ratio(trial)}"
        else:
            outcome = f"failed: {trial.error}"
        mark = "current" if trial.current else ""
        print(f"  {mark:<8} {str(trial.layout):<62} {outcome}", flush=True)
        result_so_far.append(trial)

    print(
        f"autotune {args.env}: the config's agents stay fixed; layouts timed by training "
        f"{args.trial:g}s each, up to {args.budget:g}s in all",
        flush=True,
    )
    result = autotune(
        config,
        budget_s=args.budget,
        trial_s=args.trial,
        max_env_objects=args.max_env_objects,
        report=report,
    )
    best, baseline = result.best, result.baseline
    if best is None:
        _error("every layout failed; see the errors above")
        return EXIT_FAILED
    count = len(result.trials)
    layouts = f"{count} layout{'s' if count != 1 else ''}"
    print(f"{layouts} of {best.agents:,} agents timed in {result.elapsed_s:.1f}s")
    if best is baseline:
        gain = f"{MIN_GAIN - 1:.0%}"
        print(f"best: the current layout, {human(best.sps)} training SPS; no other was {gain} faster")
        print("overrides: none (keep the current layout)")
        return 0
    if baseline is not None and baseline.error is None and baseline.sps > 0:
        versus = f"{best.sps / baseline.sps:.2f}x the current layout's {human(baseline.sps)}"
    else:
        versus = "the current layout failed"
    print(f"best: {best.layout}, {human(best.sps)} training SPS, {versus}")
    changes = best.layout.overrides(baseline.layout if baseline is not None else None)
    print("overrides: " + " ".join(changes))
    def key_of(token: str) -> tuple[str, str]:  # "--env.num-envs=64" -> ("env", "num_envs")
        return normalize_key(*token[2:].split("=", 1)[0].split(".", 1))

    changed = {key_of(key) for key in changes[::2]}
    kept = [item for item in overrides if key_of(item) not in changed]  # the layout's values replace them
    given = (["--config", args.config] if args.config else []) + kept
    print(f"run: puffer train {args.env} " + " ".join([*given, *changes]))
    return 0
