"""Shared by the shell tests (CLI, checkpoints, signals, eval, distributed): tiny real runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENV_ID = "ocean/squared"
AGENTS = 16
HORIZON = 16
BATCH = AGENTS * HORIZON  # one epoch = 256 agent steps

#: CLI overrides for a run that takes well under a second per epoch on a busy 2-core machine.
TINY = [
    "--env.num-envs", str(AGENTS), "--env.size", "5",
    "--train.horizon", str(HORIZON), "--train.batch-size", str(BATCH), "--train.minibatch-size", str(BATCH),
    "--train.update-epochs", "1",
    "--train.torch-threads", "1", "--train.optimizer", "adam",
    "--run.log", "plain", "--run.log-interval-s", "0",
]  # fmt: skip


def tiny_kwargs(run_dir: Path, **extra):
    """The same as :data:`TINY` for ``puffer_trainer.train(...)`` keyword overrides."""
    kwargs = {
        "env": {"num_envs": AGENTS, "size": 5},
        "train__horizon": HORIZON, "train__batch_size": BATCH, "train__minibatch_size": BATCH,
        "train__update_epochs": 1,
        "torch_threads": 1, "optimizer": "adam", "log": "plain", "log_interval_s": 0.0,
        "run_dir": str(run_dir),
    }  # fmt: skip
    kwargs.update(extra)
    return kwargs


def puffer(*args: str, cwd: Path | None = None, timeout: float = 120, **popen) -> subprocess.CompletedProcess:
    """Run ``python -m puffer_trainer ARGS`` and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "puffer_trainer", *args], capture_output=True, text=True, cwd=cwd,
        timeout=timeout, env=child_env(), **popen,
    )  # fmt: skip


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("WORLD_SIZE", None)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def write_plugin(folder: Path, name: str, source: str) -> Path:
    """Make ``folder`` hold an installed distribution ``name`` whose ``puffer.envs`` entry point is a module
    with ``source``: on ``sys.path`` (or ``PYTHONPATH``) it is a plugin like any pip-installed one."""
    dist = folder / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[puffer.envs]\n{name} = {name}_mod\n")
    (folder / f"{name}_mod.py").write_text(source)
    return folder
