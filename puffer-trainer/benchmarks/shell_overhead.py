"""What the run loop around the Trainer costs: `puffer_trainer.run` vs a bare evaluate()/train() loop.

Both train the same config for the same number of epochs in this process, alternating a few times; the shell
run logs every epoch (the worst case: `run.log_interval_s = 0`, plain lines to /dev/null), writes
metrics, and checkpoints every `--checkpoint-interval` epochs plus at the end. Prints both SPS and the ratio.

    python benchmarks/shell_overhead.py                      # ocean/squared, 4096 agents
    python benchmarks/shell_overhead.py ocean/breakout --epochs 10
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def bare(config, epochs: int) -> float:
    from puffer_trainer import Trainer

    trainer = Trainer(config)
    try:
        trainer.evaluate()
        trainer.train()  # warm-up epoch, not timed
        start_step, start = trainer.global_step, time.perf_counter()
        for _ in range(epochs):
            trainer.evaluate()
            trainer.train()
        return (trainer.global_step - start_step) / (time.perf_counter() - start)
    finally:
        trainer.close()


def shell(config, epochs: int) -> float:
    from puffer_trainer.run import run

    # The first epoch is the same warm-up as in bare(): time it separately and subtract it.
    config.train.total_timesteps = 1
    start = time.perf_counter()
    first = run(config, handle_signals=False, stream=open(os.devnull, "w"))  # noqa: SIM115
    warmup_s = time.perf_counter() - start
    per_epoch = first.global_step
    config.train.total_timesteps = per_epoch * (epochs + 1)
    config.run.run_name = None
    start = time.perf_counter()
    result = run(config, handle_signals=False, stream=open(os.devnull, "w"))  # noqa: SIM115
    elapsed = time.perf_counter() - start - warmup_s
    return (result.global_step - per_epoch) / elapsed


def main() -> None:
    from puffer_trainer.cli import split_overrides
    from puffer_trainer.config import load_config

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("env", nargs="?", default="ocean/squared")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--checkpoint-interval", type=int, default=10)
    args, rest = parser.parse_known_args()
    _, overrides = split_overrides(rest)
    with tempfile.TemporaryDirectory() as run_dir:
        base = ["--run.run-dir", run_dir, "--run.log", "plain", "--run.log-interval-s", "0",
                "--run.checkpoint-interval", str(args.checkpoint_interval)]  # fmt: skip
        if args.env == "ocean/squared" and not overrides:
            overrides = ["--env.num_envs=4096", "--train.torch-threads=1"]
        results: dict[str, list[float]] = {"bare": [], "shell": []}
        for _ in range(args.repeats):
            results["bare"].append(bare(load_config(args.env, overrides=[*base, *overrides]), args.epochs))
            results["shell"].append(shell(load_config(args.env, overrides=[*base, *overrides]), args.epochs))
    best = {k: max(v) for k, v in results.items()}
    print(f"{args.env}: {args.epochs} epochs, best of {args.repeats}")
    print(f"  bare Trainer loop   {best['bare']:>12,.0f} SPS")
    print(f"  puffer_trainer.run  {best['shell']:>12,.0f} SPS  (log every epoch, checkpoint every "
          f"{args.checkpoint_interval})")  # fmt: skip
    print(f"  ratio run/bare      {best['shell'] / best['bare']:>12.3f}")


if __name__ == "__main__":
    main()
