"""Training throughput and time-to-score of the Trainer on an ocean env.

Prints agent steps per second of full training (collection + updates), the time split, and the ratio to a
baseline measured in the same run: the same vector env stepped with random actions and no learning.
Stops after ``--seconds`` of training or when the mean ``score`` reaches ``--target``.

    python benchmarks/train_sps.py ocean/breakout --seconds 60
    python benchmarks/train_sps.py ocean/breakout --device cuda --target 0.95 --train.bf16

Under torchrun every rank trains and rank 0 prints: the SPS is global (the global step counts every rank),
the score is the mean over ranks, and all ranks stop at the same epoch. ``--backend gloo`` with
``--train.device cuda:0`` puts every rank on one GPU (NCCL needs a GPU per rank), a stand-in for a multi-GPU
run where one GPU is lent: small policies leave a GPU mostly idle.

    torchrun --nproc-per-node 2 benchmarks/train_sps.py ocean/breakout --backend gloo --train.device cuda:0
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np


def env_only_sps(config, seconds: float) -> float:
    import puffer_core.vector

    vc = config.vec
    vec = puffer_core.vector.make(
        config.env_id, num_envs=vc.num_env_objects, backend=vc.backend, num_workers=vc.num_workers,
        batch_size=vc.batch_size, seed=0, env_kwargs=dict(config.env),
    )  # fmt: skip
    rng = np.random.default_rng(0)
    n = vec.agents_per_batch
    space = vec.single_action_space
    actions = rng.integers(0, space.n, size=(64, n)).astype(np.int32)
    vec.async_reset(0)
    steps, i = 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        vec.recv()
        vec.send(actions[i % 64])
        steps += n
        i += 1
    elapsed = time.perf_counter() - start
    vec.close()
    return steps / elapsed


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("env_id", nargs="?", default="ocean/breakout")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--target", type=float, default=None, help="stop when mean score reaches this")
    parser.add_argument("--score-key", default="score")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--backend", default=None, help="under torchrun: gloo or nccl (default nccl on GPUs)")
    args, extra = parser.parse_known_args()  # the rest are config overrides, e.g. --train.bf16
    args.overrides = [x for x in extra if x != "--"]

    import torch

    from puffer_trainer import Trainer, distributed, load_config

    config = load_config(args.env_id, overrides=["--train.device", args.device, *args.overrides])
    info = distributed.setup(config.train.device, backend=args.backend)  # a plain run outside torchrun
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, device=info.device))
    say = print if info.is_main else (lambda *a, **k: None)
    baseline = env_only_sps(config, args.baseline_seconds) if args.baseline_seconds > 0 else float("nan")
    trainer = Trainer(config)
    params = sum(p.numel() for p in trainer.policy.parameters())
    say(f"env {args.env_id} device {trainer.device} agents {trainer.num_agents} policy params {params:,} "
        f"torch threads {torch.get_num_threads()} batch {trainer.segments * trainer.horizon} "
        f"ranks {info.world_size}")
    start = time.perf_counter()
    solved_at = None
    last_print = start
    score = float("nan")
    while not trainer.done:
        stats = trainer.evaluate()
        trainer.train()
        now = time.perf_counter()
        scores = [x for x in distributed.gather(stats.get(args.score_key), info) if x is not None]
        if scores:  # the same mean on every rank, so every rank takes the same decisions below
            score = sum(scores) / len(scores)
        if args.target is not None and solved_at is None and score >= args.target:
            solved_at = now - start
            say(f"reached {args.score_key} {score:.3f} >= {args.target} at {solved_at:.1f}s, "
                f"step {trainer.global_step:,}")
            break
        if now - last_print > 10:
            last_print = now
            rate = trainer.global_step / (now - start)
            say(f"{now - start:6.1f}s step {trainer.global_step:>12,} sps {rate:>10,.0f} "
                f"{args.score_key} {score:.3f}", flush=True)
        if distributed.any_rank(now - start > args.seconds, info):  # clocks differ: agree to stop
            break
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    sps = trainer.global_step / elapsed
    split = {k: v / elapsed for k, v in trainer.timings.items()}
    say(f"train SPS {sps:,.0f} over {elapsed:.1f}s ({trainer.global_step:,} steps, {trainer.epoch} epochs);"
        f" final {args.score_key} {score:.3f}")
    say("time split: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in split.items()))
    say(f"baseline (env only, random actions) SPS {baseline:,.0f}; train/env ratio {sps / baseline:.2f}")
    if solved_at is not None:
        say(f"time to {args.score_key} >= {args.target}: {solved_at:.1f}s")
    trainer.close()
    distributed.teardown(info)


if __name__ == "__main__":
    main()
