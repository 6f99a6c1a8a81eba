"""Training SPS and time to score of a torchrun job: every rank trains, rank 0 prints the global figures.

    torchrun --nproc-per-node 2 benchmarks/ddp_sps.py ocean/breakout --seconds 60 --target 364.8 \
        --train.device cuda --env.num_envs 8192

``--backend gloo`` with an explicit ``--train.device cuda:0`` puts every rank on one GPU (NCCL needs a GPU per
rank): a stand-in for the multi-GPU run where only one GPU is lent, since small policies leave a GPU mostly
idle (each rank is bound by its own process launching kernels). The global step counts every rank's steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from puffer_trainer import Trainer, distributed, load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("env_id")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--target", type=float, default=None, help="stop at this mean score over the ranks")
    parser.add_argument("--score-key", default="score")
    parser.add_argument("--backend", default=None, help="process-group backend (default: nccl on GPUs)")
    args, overrides = parser.parse_known_args()
    config = load_config(args.env_id, overrides=overrides)
    info = distributed.setup(config.train.device, backend=args.backend)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, device=info.device))
    trainer = Trainer(config)
    say = print if info.is_main else (lambda *a, **k: None)
    say(f"{info.world_size} rank(s), device {info.device}, {trainer.num_agents} agents per rank")
    start = last = time.perf_counter()
    score = float("nan")
    solved = None
    try:
        while not trainer.done:
            stats = trainer.evaluate()
            trainer.train()
            scores = [s for s in distributed.gather(stats.get(args.score_key), info) if s is not None]
            if scores:
                score = sum(scores) / len(scores)
            now = time.perf_counter()
            if args.target is not None and score >= args.target:
                solved = now - start
                say(f"reached {args.score_key} {score:.3f} >= {args.target} at {solved:.1f}s, "
                    f"step {trainer.global_step:,}")  # fmt: skip
                break
            if now - last > 10:
                last = now
                sps = trainer.global_step / (now - start)
                say(f"{now - start:6.1f}s step {trainer.global_step:>12,} sps {sps:>10,.0f} "
                    f"{args.score_key} {score:.3f}", flush=True)  # fmt: skip
            if distributed.any_rank(now - start > args.seconds, info):  # every rank stops at the same epoch
                break
        elapsed = time.perf_counter() - start
        say(f"global SPS {trainer.global_step / elapsed:,.0f} over {elapsed:.1f}s ({trainer.global_step:,} "
            f"steps, {trainer.epoch} epochs); final {args.score_key} {score:.3f}")  # fmt: skip
    finally:
        trainer.close()
        distributed.teardown(info)


if __name__ == "__main__":
    main()
