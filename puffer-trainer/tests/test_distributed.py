"""Multi-process training on the CPU with gloo: identical weights on every rank, a global step over all ranks,
rank-0-only files and output, and resuming through torchrun with the same number of ranks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
from shell_helpers import BATCH, ENV_ID, TINY, child_env, tiny_kwargs

from puffer_trainer import train
from puffer_trainer.checkpoint import load_checkpoint
from puffer_trainer.cli import main
from puffer_trainer.distributed import DistInfo, any_rank, env_world_size, setup

WORLD = 2
EPOCHS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rank_main(rank: int, port: int, run_dir: str, out_dir: str) -> None:
    """One rank, set up exactly as torchrun would (environment variables), then the one-call helper."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")  # fmt: skip
    total = (EPOCHS - 1) * WORLD * BATCH + 1  # just past EPOCHS - 1 epochs
    kwargs = tiny_kwargs(run_dir, checkpoint_interval=1, run_name="ddp")
    result = train(ENV_ID, total_timesteps=total, **kwargs)
    torch.save(
        {"policy": result.policy.state_dict(), "global_step": result.global_step, "epoch": result.epoch,
         "run_folder": str(result.run_folder)},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs")
    out_dir = tmp_path_factory.mktemp("out")
    mp.spawn(rank_main, args=(free_port(), str(run_dir), str(out_dir)), nprocs=WORLD, join=True)
    ranks = [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    return run_dir, ranks


def test_ranks_end_with_identical_weights(ddp_run):
    _, ranks = ddp_run
    first, second = ranks[0]["policy"], ranks[1]["policy"]
    assert set(first) == set(second)
    for name in first:
        assert torch.equal(first[name], second[name]), name
    assert ranks[0]["epoch"] == ranks[1]["epoch"] >= 2


def test_global_step_counts_every_rank(ddp_run, tmp_path):
    _, ranks = ddp_run
    assert ranks[0]["global_step"] == ranks[1]["global_step"]
    # The same per-rank config on one process collects half the steps in the same number of epochs.
    single = train(ENV_ID, total_timesteps=ranks[0]["global_step"] // WORLD, **tiny_kwargs(tmp_path))
    assert single.epoch == ranks[0]["epoch"]
    assert ranks[0]["global_step"] == WORLD * single.global_step


def test_only_rank_zero_writes_and_ranks_keep_their_own_rng(ddp_run):
    run_dir, ranks = ddp_run
    assert [p.name for p in run_dir.iterdir()] == ["ddp"]  # one run folder, not one per rank
    assert ranks[0]["run_folder"] == str(run_dir / "ddp") and ranks[1]["run_folder"] == "None"
    state = load_checkpoint(run_dir / "ddp" / "checkpoints" / "latest.pt")
    assert state["puffer"]["world_size"] == WORLD and len(state["ranks"]) == WORLD
    rng0, rng1 = (r["rng"]["torch"] for r in state["ranks"])
    assert not torch.equal(rng0, rng1)  # per-rank seeds: each rank's random stream is saved separately
    assert torch.equal(rng0, state["rng"]["torch"])


def test_resume_needs_the_same_number_of_ranks(ddp_run, capsys):
    run_dir, _ = ddp_run
    latest = run_dir / "ddp" / "checkpoints" / "latest.pt"
    assert main(["train", ENV_ID, *TINY, "--run.run-dir", str(run_dir), "--resume", str(latest)]) == 2
    assert "saved by a run with 2 rank(s)" in capsys.readouterr().err


def test_torchrun_resumes_with_rank_zero_output_only(ddp_run):
    """`torchrun --nproc-per-node 2 -m puffer_trainer train ... --resume latest` continues the run."""
    run_dir, ranks = ddp_run
    before = load_checkpoint(run_dir / "ddp" / "checkpoints" / "latest.pt")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(WORLD), "--master-port",
         str(free_port()), "-m", "puffer_trainer", "train", ENV_ID, *TINY, "--run.run-dir", str(run_dir),
         "--resume", "latest", "--train.total-timesteps", str(before["global_step"] + 1)],
        capture_output=True, text=True, env=child_env(), timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("[puffer] resumed from") == 1  # printed by rank 0 only
    assert proc.stdout.count("[puffer] done:") == 1
    after = load_checkpoint(run_dir / "ddp" / "checkpoints" / "latest.pt")
    assert after["epoch"] == before["epoch"] + 1
    # One epoch on one rank collects at most BATCH steps: more means both ranks' experience was counted.
    assert BATCH < after["global_step"] - before["global_step"] <= WORLD * BATCH
    assert [p.name for p in run_dir.iterdir()] == ["ddp"]


def test_setup_without_torchrun_is_a_no_op(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = setup("cpu")
    assert info == DistInfo() and info.is_main and not info.enabled
    assert any_rank(True, info) and not any_rank(False, info)
    monkeypatch.setenv("WORLD_SIZE", "zero")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        env_world_size()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(RuntimeError, match="torchrun"):
        setup("cpu")
