"""Where one epoch's time goes: wall time of evaluate() and train(), then a torch profiler table of both.

    python benchmarks/profile_epoch.py ocean/breakout --train.device cuda [config overrides]

``PROFILE_TABLE=0`` prints the timing line only; ``PROFILE_TRACE=DIR`` also writes Chrome traces there.
"""

from __future__ import annotations

import os
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

from puffer_trainer import Trainer, load_config


def main() -> None:
    env_id, overrides = sys.argv[1], sys.argv[2:]
    trainer = Trainer(load_config(env_id, overrides=overrides))
    cuda = trainer.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(3):  # warm-up: allocator, kernels, env caches
        trainer.evaluate()
        trainer.train()
    sync()
    evals, trains = [], []
    before = dict(trainer.timings)
    for _ in range(5):
        t0 = time.perf_counter()
        trainer.evaluate()
        sync()
        t1 = time.perf_counter()
        trainer.train()
        sync()
        evals.append(t1 - t0)
        trains.append(time.perf_counter() - t1)
    steps = trainer.segments * (trainer.horizon - 1)
    ev, tr = min(evals), min(trains)
    print(f"batch {trainer.segments}x{trainer.horizon}: evaluate {1e3 * ev:.1f} ms ({steps / ev:,.0f} SPS), "
          f"train {1e3 * tr:.1f} ms; both {steps / (ev + tr):,.0f} SPS")
    spent = {k: 1e3 * (trainer.timings[k] - before[k]) / 5 for k in ("env", "copy", "inference")}
    split = ", ".join(f"{k} {ms:.1f}" for k, ms in spent.items())
    print(f"collection per epoch, ms (the trainer's own clocks, mean of 5): {split}")
    if os.environ.get("PROFILE_TABLE", "1") == "0":
        trainer.close()
        return
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    trace = os.environ.get("PROFILE_TRACE")  # a folder: one Chrome trace per phase goes there
    for name, phase in (("evaluate", trainer.evaluate), ("train", trainer.train)):
        with profile(activities=activities) as prof:
            phase()
            sync()
        averages = prof.key_averages()
        kinds = ("cudaLaunchKernel", "cuLaunchKernel", "cuLaunchKernelEx")
        launches = sum(e.count for e in averages if e.key in kinds)
        print(f"\n===== {name}: {launches} kernel launches")
        print(averages.table(sort_by="self_cpu_time_total", row_limit=30, max_name_column_width=60))
        if cuda:
            print(averages.table(sort_by="self_cuda_time_total", row_limit=15, max_name_column_width=60))
        if trace:
            os.makedirs(trace, exist_ok=True)
            prof.export_chrome_trace(os.path.join(trace, f"{name}.json"))
    trainer.close()


if __name__ == "__main__":
    main()
