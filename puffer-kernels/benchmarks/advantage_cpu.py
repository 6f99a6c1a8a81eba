"""CPU benchmark: the C kernels against np.copyto of the same five arrays, measured in the same run.

Prints, per size, each kernel's median time and two ratios against copying the five [rows, horizon]
float32 arrays (values, rewards, dones, importance, advantages) into preallocated arrays:
  copy/kernel  = copy time / kernel time (the issue's CPU measure; target >= 0.5), and
  bw fraction  = (bytes the kernel must move / kernel time) / (bytes the copy moves / copy time)
               = 0.5 * copy/kernel, since the kernel reads 4 arrays and writes 1 while the copy reads 5
                 and writes 5.
Baseline: the plain serial loop per row (puff_advantage_serial_cpu).

    python puffer-kernels/benchmarks/advantage_cpu.py [--reps 21] [--sizes 4096x128,16384x256]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import puffer_kernels as pk

SCALARS = dict(gamma=0.99, gae_lambda=0.95, rho_clip=1.0, c_clip=1.0)


def make(rows: int, horizon: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [
        rng.standard_normal((rows, horizon), dtype=np.float32),
        rng.standard_normal((rows, horizon), dtype=np.float32),
        (rng.random((rows, horizon)) < 0.02).astype(np.float32),
        rng.uniform(0.5, 1.5, (rows, horizon)).astype(np.float32),
        np.zeros((rows, horizon), np.float32),
    ]


def bench(rows: int, horizon: int, reps: int, rng: np.random.Generator) -> dict[str, float]:
    arrays = make(rows, horizon, rng)
    copies = [np.empty_like(a) for a in arrays]
    v, r, d, imp, out = arrays
    vs, pg = np.empty_like(v), np.empty_like(v)

    def copy() -> None:
        for dst, src in zip(copies, arrays):
            np.copyto(dst, src)

    cases = {
        "np.copyto x5": copy,
        "serial loop (baseline)": lambda: pk.puff_advantage_serial_cpu(v, r, d, imp, out, **SCALARS),
        "puff_advantage 1 thread": lambda: pk.puff_advantage(v, r, d, imp, out, num_threads=1, **SCALARS),
        "puff_advantage auto": lambda: pk.puff_advantage(v, r, d, imp, out, **SCALARS),
        "gae 1 thread": lambda: pk.gae(v, r, d, out, gamma=0.99, gae_lambda=0.95, num_threads=1),
        "vtrace 1 thread": lambda: pk.vtrace(v, r, d, imp, vs, pg, gamma=0.99, num_threads=1),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for f in cases.values():  # warm up: page faults, library load
        f()
    # Interleave the cases rep by rep so that load from other processes hits them all alike.
    for _ in range(reps):
        for name, f in cases.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    return {k: float(np.median(t)) for k, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=21)
    parser.add_argument("--sizes", default="4096x128,16384x256")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"online CPUs: {os.cpu_count()}")
    for size in args.sizes.split(","):
        rows, horizon = (int(x) for x in size.split("x"))
        res = bench(rows, horizon, args.reps, rng)
        t_copy = res["np.copyto x5"]
        mb = 5 * rows * horizon * 4 / 1e6
        print(f"\n{rows}x{horizon}: copy of 5 arrays ({mb:.0f} MB read + written) {t_copy * 1e3:.3f} ms")
        print(f"  {'kernel':26s} {'ms':>8s} {'copy/kernel':>12s} {'bw fraction':>12s} {'vs serial':>10s}")
        t_serial = res["serial loop (baseline)"]
        for name, t in res.items():
            if name == "np.copyto x5":
                continue
            ratio = t_copy / t
            print(f"  {name:26s} {t * 1e3:8.3f} {ratio:12.2f} {0.5 * ratio:12.2f} {t_serial / t:8.2f}x")


if __name__ == "__main__":
    main()
