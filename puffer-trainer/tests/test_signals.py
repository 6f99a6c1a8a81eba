"""Stopping a run: SIGINT/SIGTERM save a checkpoint and exit cleanly; a NaN loss keeps the last good one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from shell_helpers import BATCH, ENV_ID, TINY, child_env, tiny_kwargs, write_plugin

from puffer_trainer import NonFiniteLossError, train
from puffer_trainer.checkpoint import load_checkpoint
from puffer_trainer.signals import GracefulStop


def start_run(run_dir, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "puffer_trainer", "train", ENV_ID, *TINY, "--run.run-dir", str(run_dir),
         "--run.run-name", "sig", "--train.total-timesteps", "100000000", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
    )  # fmt: skip


def wait_for_training(proc, timeout=90.0):
    """Read stdout until the first progress line (the run loop and its handlers are live)."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("[puffer] step"):
            return lines
    proc.kill()
    raise AssertionError("the run never logged a step:\n" + "".join(lines) + proc.stderr.read())


def test_sigint_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    """`python -m puffer_trainer train` in a subprocess, Ctrl-C'd while training."""
    signum, code = signal.SIGINT, 130
    proc = start_run(tmp_path)
    try:
        head = wait_for_training(proc)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(head) + out
    name = signal.Signals(signum).name
    assert proc.returncode == code, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert f"stopped by {name} at step" in out and "--resume" in out
    latest = tmp_path / "sig" / "checkpoints" / "latest.pt"
    state = load_checkpoint(latest)
    assert state["global_step"] > 0 and state["epoch"] >= 1
    assert (tmp_path / "sig" / "checkpoints" / f"epoch_{state['epoch']:06d}.pt").is_file()
    assert (tmp_path / "sig" / "curve.png").is_file() and (tmp_path / "sig" / "metrics.jsonl").is_file()


def test_sigterm_during_train_stops_after_the_update_with_a_checkpoint(tmp_path):
    """In-process: SIGTERM (what schedulers send before killing a job) arrives while `train()` runs."""
    metrics = tmp_path / "term" / "metrics.jsonl"

    def send_when_training():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (metrics.is_file() and metrics.stat().st_size > 0):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    sender = threading.Thread(target=send_when_training)
    sender.start()
    try:
        result = train(ENV_ID, total_timesteps=10**9, run_name="term", **tiny_kwargs(tmp_path))
    finally:
        sender.join()
    assert result.stopped_by == "SIGTERM" and result.exit_code == 143
    assert 1 <= result.epoch < 1000 and result.checkpoint is not None
    state = load_checkpoint(tmp_path / "term" / "checkpoints" / "latest.pt")
    assert state["epoch"] == result.epoch and state["global_step"] == result.global_step
    assert {s: signal.getsignal(s) for s in before} == before


def test_handlers_are_installed_only_during_the_run():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with GracefulStop(repeat_grace_s=0.5) as stop:
        assert signal.getsignal(signal.SIGINT) == stop._handle
        assert signal.getsignal(signal.SIGTERM) == stop._handle
        signal.raise_signal(signal.SIGTERM)  # the first signal only asks the loop to stop
        assert stop.requested and stop.signal_name == "SIGTERM" and stop.exit_code == 143
        signal.raise_signal(signal.SIGINT)  # right after: the same request delivered twice (torchrun)
        time.sleep(0.6)
        with pytest.raises(KeyboardInterrupt):  # a later second Ctrl-C while stopping interrupts for real
            signal.raise_signal(signal.SIGINT)
        assert stop.signal_name == "SIGTERM"
    assert {s: signal.getsignal(s) for s in before} == before


def test_no_handlers_outside_the_main_thread():
    seen = {}

    def body():
        with GracefulStop() as stop:
            seen["handler"] = signal.getsignal(signal.SIGINT)
            seen["stop"] = stop

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen["handler"] is not seen["stop"]._handle


def test_train_restores_handlers_after_the_run(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    result = train(ENV_ID, total_timesteps=BATCH, **tiny_kwargs(tmp_path))
    assert result.epoch == 1 and result.exit_code == 0 and result.stopped_by is None
    assert {s: signal.getsignal(s) for s in before} == before


def test_non_finite_loss_stops_with_a_diagnosis_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    """An absurd learning rate makes the second update non-finite: the run stops there and `latest.pt`
    still holds the epoch-1 state (the failing update was never applied nor saved)."""
    with pytest.raises(NonFiniteLossError) as info:
        train(ENV_ID, total_timesteps=50 * BATCH, checkpoint_interval=1, run_name="nan", learning_rate=1e30,
              **tiny_kwargs(tmp_path))  # fmt: skip
    error = info.value
    assert error.term in ("policy_loss", "value_loss", "entropy", "loss") and error.step > 0
    out = capsys.readouterr().out
    checkpoints = tmp_path / "nan" / "checkpoints"
    assert f"stopped: non-finite {error.term}" in out and str(checkpoints / "epoch_000001.pt") in out
    latest = load_checkpoint(checkpoints / "latest.pt")
    assert latest["epoch"] == 1 and latest["global_step"] < error.step + BATCH
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch_000001.pt", "latest.pt"]
    assert all(torch.isfinite(t).all() for t in latest["policy"].values())


def test_non_finite_loss_through_the_cli_is_exit_status_1(tmp_path, capsys):
    from puffer_trainer.cli import main

    code = main(["train", ENV_ID, *TINY, "--run.run-dir", str(tmp_path), "--train.learning-rate", "1e30",
                 "--train.total-timesteps", str(50 * BATCH), "--run.checkpoint-interval", "1"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "training stopped: non-finite" in err and "Traceback" not in err


HANGING_PLUGIN = """
import os, time
import numpy as np
from gymnasium import spaces
import puffer_core

class Hangs(puffer_core.PufferEnv):
    def __init__(self, buf=None, seed=None, flag=""):
        self.single_observation_space = spaces.Box(0, 1, (2,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.num_agents = 4
        super().__init__(buf)
        self.flag = flag

    def reset(self, seed=None):
        return self.observations, []

    def step(self, actions):
        while os.path.exists(self.flag):  # hangs once the test says so, like a stuck simulator
            time.sleep(0.05)
        return self.observations, self.rewards, self.terminals, self.truncations, []

@puffer_core.hookimpl
def puffer_env_specs():
    return [puffer_core.EnvSpec("hang/env", creator=Hangs)]
"""


def test_a_hung_env_does_not_ignore_sigterm_forever(tmp_path):
    write_plugin(tmp_path, "hang", HANGING_PLUGIN)
    flag = tmp_path / "hang-now"
    env = {**child_env(), "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "puffer_trainer", "train", "hang/env", f"--env.flag={flag}",
         "--train.horizon", "16", "--train.torch-threads", "1", "--run.log", "plain",
         "--run.log-interval-s", "0", "--run.run-dir", str(tmp_path / "runs"), "--run.stop-timeout-s", "2",
         "--train.total-timesteps", "100000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        wait_for_training(proc)
        flag.touch()
        time.sleep(0.3)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143
    assert 1.5 < time.monotonic() - start < 15
    assert "still running 2 s after SIGTERM" in err and "resume from the last one written" in err
