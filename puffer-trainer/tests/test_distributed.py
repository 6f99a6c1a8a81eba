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


def native_threads() -> list[str] | None:
    """Names of this process's OS threads (gloo's are native, invisible to ``threading``); None off Linux."""
    tasks = "/proc/self/task"
    if not os.path.isdir(tasks):
        return None
    names = []
    for tid in os.listdir(tasks):
        try:
            with open(os.path.join(tasks, tid, "comm")) as f:
                names.append(f.read().strip())
        except OSError:  # the thread ended meanwhile
            continue
    return sorted(names)


def rank_main(rank: int, port: int, run_dir: str, out_dir: str) -> None:
    """One rank, set up exactly as torchrun would (environment variables), then the one-call helper."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")  # fmt: skip
    total = (EPOCHS - 1) * WORLD * BATCH + 1  # just past EPOCHS - 1 epochs
    kwargs = tiny_kwargs(run_dir, checkpoint_interval=1, run_name="ddp")
    result = train(ENV_ID, total_timesteps=total, **kwargs)
    torch.save(
        {"policy": result.policy.state_dict(), "global_step": result.global_step, "epoch": result.epoch,
         "run_folder": str(result.run_folder), "threads_after": native_threads()},
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


def test_train_returns_with_the_process_group_gone(ddp_run):
    """No gloo thread outlives train(): one left alive until interpreter shutdown aborts the process now and
    then (it releases a tensor after Python is gone). torch.distributed.nn, imported by the first optimizer,
    held the group in its functions' defaults when imported after init_process_group."""
    _, ranks = ddp_run
    for rank in ranks:
        if rank["threads_after"] is None:
            pytest.skip("no /proc/self/task here")
        assert not [name for name in rank["threads_after"] if "gloo" in name], rank["threads_after"]


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


# -- one rank fails: every rank stops promptly with the same diagnosis ------------------------------------
FAIL_EPOCH = 1
FAIL_MODES = ("nan", "train-error", "evaluate-error")


def failing_rank_main(rank: int, ports: list[int], run_dir: str, out_dir: str) -> None:
    """Rank ``rank`` of three torchrun-style jobs in a row (one per FAIL_MODES, one process for all three
    to spare torch imports); in each, rank 1 alone fails in epoch FAIL_EPOCH, as the mode says.

    Each rank writes what it raised, then stays alive (its sockets open) until both ranks reported, so a
    rank can only get away through the flag shared by the trainer, not through a peer that went away.
    """
    import json
    import time

    from puffer_trainer import ppo as ppo_module
    from puffer_trainer import trainer as trainer_module

    Trainer = trainer_module.Trainer
    original_train, original_evaluate = Trainer.train, Trainer.evaluate

    def train_with_nan(self):
        if self.epoch == FAIL_EPOCH:  # a NaN weight on this rank only: its loss alone is non-finite
            with torch.no_grad():
                next(self.policy.parameters()).view(-1)[0] = float("nan")
        return original_train(self)

    def train_with_error(self):
        if self.epoch != FAIL_EPOCH:
            return original_train(self)
        original = ppo_module.compute_advantages

        def broken(*args, **kwargs):
            raise RuntimeError("injected advantage failure")

        ppo_module.compute_advantages = broken
        try:
            return original_train(self)
        finally:
            ppo_module.compute_advantages = original

    def evaluate_with_error(self):
        if self.epoch == FAIL_EPOCH:

            def recv():
                raise OSError("injected env failure")

            self.vecenv.recv = recv
        return original_evaluate(self)

    patches = {"nan": ("train", train_with_nan), "train-error": ("train", train_with_error),
               "evaluate-error": ("evaluate", evaluate_with_error)}  # fmt: skip
    for mode, port in zip(FAIL_MODES, ports):
        os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank),
                          MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")  # fmt: skip
        Trainer.train, Trainer.evaluate = original_train, original_evaluate
        if rank == 1:
            setattr(Trainer, *patches[mode])
        outcome: dict = {"error": None}
        try:
            kwargs = tiny_kwargs(run_dir, run_name=f"fail-{mode}", checkpoint_interval=1)
            train(ENV_ID, total_timesteps=20 * WORLD * BATCH, **kwargs)
        except Exception as error:
            outcome = {"error": type(error).__name__, "message": str(error)}
            outcome.update(rank=getattr(error, "rank", None), term=getattr(error, "term", None))
        outcome["time"] = time.time()
        path = os.path.join(out_dir, f"{mode}-rank{rank}.json")
        with open(path + ".tmp", "w") as file:
            json.dump(outcome, file)
        os.replace(path + ".tmp", path)
        deadline = time.monotonic() + 60
        paths = [os.path.join(out_dir, f"{mode}-rank{r}.json") for r in range(WORLD)]
        while time.monotonic() < deadline and not all(map(os.path.exists, paths)):
            time.sleep(0.1)


def test_one_failing_rank_stops_every_rank_with_its_diagnosis(tmp_path):
    """Rank 1 alone gets a NaN loss, an error in train() or an error in evaluate(): both ranks stop within
    seconds (before the shared flag, rank 0 waited in the gradient all-reduce for the 30-minute timeout)."""
    import json
    import time

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    context = mp.get_context("spawn")
    ports = [free_port() for _ in FAIL_MODES]
    procs = [
        context.Process(target=failing_rank_main, args=(r, ports, str(tmp_path / "runs"), str(out_dir)))
        for r in range(WORLD)
    ]
    for proc in procs:
        proc.start()
    paths = {mode: [out_dir / f"{mode}-rank{r}.json" for r in range(WORLD)] for mode in FAIL_MODES}
    try:
        deadline = time.monotonic() + 150
        for mode in FAIL_MODES:
            while time.monotonic() < deadline and not all(p.exists() for p in paths[mode]):
                time.sleep(0.2)
            missing = [p.name for p in paths[mode] if not p.exists()]
            assert not missing, f"{missing}: never stopped after rank 1 failed"
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():  # only the two processes this test started
                proc.kill()
                proc.join()
    for mode in FAIL_MODES:
        first, second = (json.loads(p.read_text()) for p in paths[mode])
        assert abs(first["time"] - second["time"]) < 15, (mode, first, second)
        if mode == "nan":
            # The same diagnosis on both ranks: which term, which step, and the rank whose loss went bad.
            assert first["error"] == second["error"] == "NonFiniteLossError", (first, second)
            assert first["message"] == second["message"]
            assert first["rank"] == second["rank"] == 1 and "on rank 1" in first["message"]
            assert first["term"] in ("policy_loss", "value_loss", "entropy", "loss")
            continue
        # Rank 1 keeps its own error; rank 0 says which rank failed where, and with what.
        kind, text, where = {
            "train-error": ("RuntimeError", "injected advantage failure", "train()"),
            "evaluate-error": ("OSError", "injected env failure", "evaluate()"),
        }[mode]
        assert second["error"] == kind and second["message"] == text, second
        assert first["error"] == "RankFailedError" and first["rank"] == 1, first
        assert f"rank 1 failed in {where}: {kind}: {text}" in first["message"], first
