"""Checkpoints with the real Trainer: round trip, resume, atomic writes, corrupt and mismatched files."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from shell_helpers import AGENTS, BATCH, ENV_ID, TINY, tiny_kwargs

from puffer_trainer import Trainer, load_config, train
from puffer_trainer.checkpoint import (
    CheckpointError,
    atomic_write,
    find_latest,
    load_checkpoint,
    make_checkpoint,
    save_checkpoint,
)
from puffer_trainer.cli import main, split_overrides
from puffer_trainer.config import tomllib
from puffer_trainer.logging.metrics import read_metrics
from puffer_trainer.run import restore


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real 4-epoch run with a checkpoint every 2 epochs."""
    run_dir = tmp_path_factory.mktemp("runs")
    result = train(ENV_ID, total_timesteps=4 * BATCH - 1, checkpoint_interval=2, run_name="base",
                   **tiny_kwargs(run_dir))  # fmt: skip
    return run_dir, result


def tiny_config(run_dir, *extra):
    _, overrides = split_overrides([*TINY, "--run.run-dir", str(run_dir), *extra])
    return load_config(ENV_ID, overrides=overrides)


def assert_same(a, b, where="state"):
    """Recursive equality of checkpoint-like data (tensors compared exactly)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), (where, set(a) ^ set(b))
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def test_run_writes_periodic_and_final_checkpoints(trained):
    run_dir, result = trained
    folder = run_dir / "base"
    names = sorted(p.name for p in (folder / "checkpoints").iterdir())
    epochs = sorted({*range(2, result.epoch + 1, 2), result.epoch})  # every 2 epochs, and the last one
    assert result.epoch >= 4 and result.global_step >= 4 * BATCH
    assert names == [f"epoch_{e:06d}.pt" for e in epochs] + ["latest.pt"]
    assert result.checkpoint == folder / "checkpoints" / f"epoch_{result.epoch:06d}.pt"
    assert (folder / "checkpoints" / "latest.pt").read_bytes() == result.checkpoint.read_bytes()
    state = torch.load(result.checkpoint, weights_only=True)  # plain data and tensors only
    assert state["global_step"] == result.global_step and state["epoch"] == result.epoch
    assert state["config"]["env_id"] == ENV_ID and state["config"]["train"]["horizon"] == 16
    for key in ("policy", "optimizer", "scheduler", "rng"):
        assert key in state
    assert state["optimizer"]["state"], "the optimizer state (Adam moments) is saved"
    assert find_latest(run_dir, ENV_ID) == folder / "checkpoints" / "latest.pt"


def test_round_trip_restores_step_optimizer_scheduler_and_rng(trained, tmp_path):
    run_dir, _ = trained
    saved = load_checkpoint(run_dir / "base" / "checkpoints" / "epoch_000002.pt")
    trainer = Trainer(tiny_config(tmp_path))
    try:
        assert trainer.global_step == 0
        restore(trainer, saved, ENV_ID)
        assert trainer.global_step == saved["global_step"] > 0 and trainer.epoch == 2
        again = trainer.state_dict()
        for key in ("policy", "optimizer", "scheduler", "global_step", "epoch"):
            assert_same(again[key], saved[key], key)
        assert torch.equal(torch.get_rng_state(), saved["rng"]["torch"])
        # And it saves back to an identical checkpoint.
        state = make_checkpoint(trainer, saved["config"], ENV_ID)
        path = save_checkpoint(state, tmp_path / "ck", trainer.epoch)
        reloaded = load_checkpoint(path)
        for key in ("policy", "optimizer", "scheduler", "global_step", "epoch"):
            assert_same(reloaded[key], saved[key], key)
    finally:
        trainer.close()


def test_resume_continues_at_the_saved_step(trained, capsys):
    """`--resume PATH` continues the same run folder from the saved step and epoch to the new total."""
    run_dir, _ = trained
    base = run_dir / "base"
    before = read_metrics(base / "metrics.jsonl")
    path = base / "checkpoints" / "epoch_000002.pt"
    saved_step = load_checkpoint(path)["global_step"]
    assert max(r["step"] for r in before) > saved_step  # the run went on after this checkpoint
    # A killed checkpoint write leaves a temporary behind; the resumed run clears it.
    debris = base / "checkpoints" / ".latest.pt.abc123.tmp"
    debris.write_bytes(b"half a checkpoint")
    total = saved_step + 3 * BATCH
    code = main(["train", ENV_ID, *TINY, "--run.run-dir", str(run_dir), "--resume", str(path),
                 "--train.total-timesteps", str(total)])  # fmt: skip
    assert code == 0
    assert f"resumed from {path} at step {saved_step:,} (epoch 2)" in capsys.readouterr().out
    assert not debris.exists()
    everything = read_metrics(base / "metrics.jsonl")
    # Records written after the checkpoint by the first run are gone: steps never go backwards.
    assert [r["step"] for r in everything] == sorted(r["step"] for r in everything)
    kept = [r for r in before if r["step"] <= saved_step]
    assert everything[: len(kept)] == kept
    records = everything[len(kept) :]
    epochs = [r["epoch"] for r in records]
    steps = [r["step"] for r in records]
    assert epochs == list(range(3, 3 + len(epochs))) and len(epochs) >= 3  # numbering continues
    assert saved_step < steps[0] <= saved_step + BATCH and steps == sorted(steps) and steps[-1] >= total
    final = load_checkpoint(base / "checkpoints" / "latest.pt")
    assert final["global_step"] == steps[-1] and final["epoch"] == epochs[-1]
    # `--resume latest` picks that run up again.
    code = main(["train", ENV_ID, *TINY, "--run.run-dir", str(run_dir), "--resume", "latest",
                 "--train.total-timesteps", str(final["global_step"] + 1)])  # fmt: skip
    assert code == 0
    assert f"at step {final['global_step']:,} (epoch {final['epoch']})" in capsys.readouterr().out
    assert load_checkpoint(base / "checkpoints" / "latest.pt")["epoch"] == final["epoch"] + 1


def load_toml(text):
    return tomllib.loads(text)


def test_resume_takes_the_checkpoints_config_and_only_safe_overrides(trained, capsys):
    """The saved layout (here 16 agents) wins over defaults; a changed hyperparameter is refused."""
    run_dir, _ = trained
    path = run_dir / "base" / "checkpoints" / "epoch_000002.pt"
    saved = load_checkpoint(path)
    total = saved["global_step"] + BATCH
    # No layout flags at all: the registered default would be 1024 agents; the checkpoint says 16.
    code = main(["train", ENV_ID, "--run.run-dir", str(run_dir), "--resume", str(path),
                 "--train.total-timesteps", str(total), "--print-config"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    printed = load_toml(captured.out)
    assert printed["env"] == saved["config"]["env"] and printed["env"]["num_envs"] == AGENTS
    assert printed["train"]["total_timesteps"] == total
    before = saved["config"]["train"]["total_timesteps"]
    assert f"override train.total_timesteps: {before!r} -> {total!r}" in captured.err
    code = main(["train", ENV_ID, *TINY, "--run.run-dir", str(run_dir), "--resume", str(path),
                 "--train.learning-rate", "0.5"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "train.learning_rate cannot change to 0.5 when resuming" in err
    assert f"trained with {saved['config']['train']['learning_rate']!r}" in err


def test_atomic_write_keeps_the_old_file_when_a_write_crashes(trained, tmp_path, monkeypatch):
    run_dir, _ = trained
    good = load_checkpoint(run_dir / "base" / "checkpoints" / "epoch_000002.pt")
    folder = tmp_path / "checkpoints"
    save_checkpoint(good, folder, 2)
    old_bytes = (folder / "latest.pt").read_bytes()

    def crash_midway(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(good, folder, 4)
    assert (folder / "latest.pt").read_bytes() == old_bytes
    assert load_checkpoint(folder / "latest.pt")["epoch"] == 2
    assert sorted(os.listdir(folder)) == ["epoch_000002.pt", "latest.pt"]  # no torn file, no temp file left


def test_atomic_write_replaces_in_one_step(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"new but unfinished")
            assert target.read_bytes() == b"old"  # nothing visible before the rename
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["file.bin"]
    with atomic_write(target) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"


def test_corrupt_checkpoints_are_clear_errors(trained, tmp_path, capsys):
    run_dir, _ = trained
    data = (run_dir / "base" / "checkpoints" / "epoch_000002.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    rng = np.random.default_rng(0)
    for _ in range(200):  # random bytes once made the unpickler raise IndexError: every draw must be clear
        garbage.write_bytes(rng.integers(0, 256, size=int(rng.integers(1, 4096)), dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError, match="corrupt or truncated|not a torch file|other than tensors"):
            load_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a puffer-trainer checkpoint"):
        load_checkpoint(foreign)
    # The CLI turns it into one line and exit status 2, not a traceback.
    capsys.readouterr()
    assert main(["train", ENV_ID, *TINY, "--run.run-dir", str(tmp_path), "--resume", str(truncated)]) == 2
    err = capsys.readouterr().err
    assert "corrupt or truncated" in err and "Traceback" not in err


class Payload:
    """Unpickling this would run code: a safe loader must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_loading_never_executes_code_from_a_checkpoint(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"puffer": {"format": "puffer-trainer-checkpoint"}, "x": Payload()}, evil)
    with pytest.raises(CheckpointError, match="other than tensors"):
        load_checkpoint(evil)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(Payload()))
    # Reported as refused for what it is, not as "corrupt"; and nothing ran.
    with pytest.raises(CheckpointError, match=r"other than tensors.*imports posix\.system"):
        load_checkpoint(raw)


@pytest.mark.parametrize(
    "edit",
    [
        lambda state: state.update(global_step="many"),
        lambda state: state["rng"]["numpy"].update(keys="not a tensor"),
        lambda state: state["rng"].update(python={"version": 3}),
        lambda state: state.update(scheduler=[1, 2]),
    ],
    ids=["step-string", "numpy-keys", "python-rng", "scheduler-list"],
)
def test_a_hand_edited_checkpoint_is_one_line_on_resume(trained, tmp_path, capsys, edit):
    run_dir, _ = trained
    state = load_checkpoint(run_dir / "base" / "checkpoints" / "epoch_000002.pt")
    edit(state)
    edited = tmp_path / "edited.pt"
    torch.save(state, edited)
    capsys.readouterr()
    code = main(["train", ENV_ID, *TINY, "--run.run-dir", str(tmp_path), "--resume", str(edited)])
    err = capsys.readouterr().err
    assert code == 2 and "does not fit this run" in err and "Traceback" not in err


def test_mismatched_checkpoints_are_clear_errors(trained, tmp_path):
    run_dir, _ = trained
    state = load_checkpoint(run_dir / "base" / "checkpoints" / "epoch_000002.pt")
    wider = Trainer(tiny_config(tmp_path, "--policy.hidden-size", "32"))
    try:
        with pytest.raises(CheckpointError, match=r"does not match this env/policy.*encoder"):
            restore(wider, state, ENV_ID)
        with pytest.raises(CheckpointError, match="trained on env 'ocean/squared'"):
            restore(wider, state, "ocean/other")
        with pytest.raises(CheckpointError, match="same number of ranks"):
            restore(wider, state, ENV_ID, world_size=2)
    finally:
        wider.close()
    bigger_grid = Trainer(tiny_config(tmp_path, "--env.size", "7"))  # other observation shape
    try:
        with pytest.raises(CheckpointError, match="does not match"):
            restore(bigger_grid, state, ENV_ID)
    finally:
        bigger_grid.close()
