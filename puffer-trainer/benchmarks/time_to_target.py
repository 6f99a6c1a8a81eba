"""Wall-clock time until a config's training score first reaches the env's ``run.score_target``.

Trains ENV with its registered config (or ``--config FILE``, e.g. a sweep's ``best.toml``) plus overrides,
alone, for at most ``--cap-s`` seconds, and prints when the score (the env's ``score`` metric, mean over a log
interval) first reached the target, or that it did not; then one JSON line for scripts::

    python benchmarks/time_to_target.py ocean/breakout --label default --cap-s 200 --train.device cuda
    python benchmarks/time_to_target.py ocean/breakout --config runs/sweeps/ocean-breakout/best.toml

The clock starts when the run is launched (env and policy construction included, the process's one-time
imports not), as a sweep counts cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from puffer_trainer.cli import split_overrides
    from puffer_trainer.config import load_config
    from puffer_trainer.run import run
    from puffer_trainer.sweep import warm_up

    rest, overrides = split_overrides(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env")
    parser.add_argument("--config", help="TOML config (a sweep's best.toml); default: the registered config")
    parser.add_argument("--cap-s", type=float, default=300.0, help="stop the run after this many seconds")
    parser.add_argument("--label", default="run", help="name printed with the result")
    parser.add_argument("--log", default=os.devnull, help="file for the run's own log lines")
    args = parser.parse_args(rest)
    config = load_config(args.env, args.config, ["--run.log=plain", *overrides])
    target = config.run.score_target
    if target is None:
        parser.error(f"{args.env} registers no run.score_target; pass --run.score-target VALUE")
    warm_up(config)  # torch, the trainer and the device loaded first, as in a sweep: both runs start warm
    launched = time.perf_counter()
    first: list[float] = []  # seconds since launch when the score first reached the target

    def progress(step: int, seconds: float, score: float | None) -> bool:
        elapsed = time.perf_counter() - launched
        if score is not None and score >= target and not first:
            first.append(elapsed)
        return elapsed >= args.cap_s

    with open(args.log, "w", encoding="utf-8") as log:
        result = run(config, stream=log, progress=progress)
    elapsed = time.perf_counter() - launched
    sps = result.global_step / max(elapsed, 1e-9)
    how = "capped" if result.stopped_by == "progress" else "its total_timesteps done"
    final = "none" if result.score is None else f"{result.score:.1f}"
    if first:
        print(f"{args.label}: score target {target:g} first reached after {first[0]:.1f}s "
              f"(run ended after {elapsed:.1f}s, {how}; {result.global_step:,} steps, {sps:,.0f} SPS incl. "
              f"setup; final training score {final})")  # fmt: skip
    else:
        print(f"{args.label}: score target {target:g} NOT reached in {elapsed:.1f}s ({how}; "
              f"{result.global_step:,} steps, {sps:,.0f} SPS incl. setup; final training score {final})")
    record = {
        "label": args.label, "target": target, "reached_s": first[0] if first else None, "elapsed_s": elapsed,
        "steps": result.global_step, "final_score": result.score, "capped": result.stopped_by == "progress",
        "run_folder": str(result.run_folder),
    }  # fmt: skip
    print("RESULT " + json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
