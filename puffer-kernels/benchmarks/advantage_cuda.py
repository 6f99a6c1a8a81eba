"""CUDA benchmark: each advantage kernel against a device-to-device copy of the same five arrays.

fraction of copy bandwidth = (bytes the kernel must move / kernel time) / (bytes the copy moves / copy time)
where the kernel must move 5 arrays (reads values, rewards, dones, importance; writes advantages) and the
copy (dst.copy_(src) for the five arrays) moves 10 (reads 5, writes 5). Targets from the issue: >= 0.70 at
65536x256 and >= 0.50 at 16384x128. Baseline: the naive one-thread-per-row kernel.

Timing: CUDA events around back-to-back launches queued behind a sleep kernel (so Python's per-call
overhead does not leave the GPU idle), median over repeats; inputs rotate over enough buffer sets to
exceed the L2 cache, for the copy and the kernels alike.

    python puffer-kernels/benchmarks/advantage_cuda.py [--sizes 4096x64,16384x128,65536x256] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

import puffer_kernels as pk

SCALARS = dict(gamma=0.99, gae_lambda=0.95, rho_clip=1.0, c_clip=1.0)
VARIANTS = ["naive", "tiled", "warp_scan_k1", "warp_scan_k2", "warp_scan_k4", "warp_scan_k8", "auto"]


def make_sets(rows: int, horizon: int, min_bytes: float) -> list[list[torch.Tensor]]:
    per_set = 5 * rows * horizon * 4
    n = max(2, math.ceil(min_bytes / per_set))
    g = torch.Generator(device="cuda").manual_seed(0)
    sets = []
    for _ in range(n):
        v = torch.randn(rows, horizon, device="cuda", generator=g)
        r = torch.randn(rows, horizon, device="cuda", generator=g)
        d = (torch.rand(rows, horizon, device="cuda", generator=g) < 0.02).float()
        i = torch.rand(rows, horizon, device="cuda", generator=g) + 0.5
        sets.append([v, r, d, i, torch.empty_like(v), torch.empty_like(v)])  # 2 outputs for vtrace
    return sets


def time_per_call(fn, sets, calls: int, repeats: int) -> float:
    """Median seconds per call of fn(set), launched back to back."""
    for s in sets[:2]:
        fn(s)
    torch.cuda.synchronize()
    results = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        # Keep the GPU busy while Python queues the calls (~100 us each at most; ~2 GHz clock).
        torch.cuda._sleep(int(2e9 * (0.005 + calls * 100e-6)))
        start.record()
        for k in range(calls):
            fn(sets[k % len(sets)])
        end.record()
        end.synchronize()
        results.append(start.elapsed_time(end) / 1e3 / calls)
    results.sort()
    return results[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="4096x64,16384x128,65536x256")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    props = torch.cuda.get_device_properties(0)
    l2 = getattr(props, "L2_cache_size", 50 * 2**20)
    print(f"device: {props.name}, {props.multi_processor_count} SMs, L2 {l2 / 2**20:.0f} MiB")
    report = {"device": props.name, "sizes": {}}
    for size in args.sizes.split(","):
        rows, horizon = (int(x) for x in size.split("x"))
        sets = make_sets(rows, horizon, 4 * l2)
        copy_sets = [[*s[:5], *[torch.empty_like(x) for x in s[:5]]] for s in sets]
        n_bytes = rows * horizon * 4
        calls = max(5, min(200, int(2e9 / (10 * n_bytes))))  # about 2 GB of copy traffic per timing

        def copy(s):
            for k in range(5):
                s[5 + k].copy_(s[k])

        t_copy = time_per_call(copy, copy_sets, calls, args.repeats)
        copy_bw = 10 * n_bytes / t_copy
        row = {"copy_s": t_copy, "copy_GBps": copy_bw / 1e9, "kernels": {}}
        print(
            f"\n{rows}x{horizon}: {len(sets)} buffer sets, {calls} calls/timing; copy of 5 arrays "
            f"{t_copy * 1e6:.1f} us = {copy_bw / 1e12:.2f} TB/s (read + write)"
        )
        print(f"  {'kernel':14s} {'us':>9s} {'TB/s':>7s} {'fraction':>9s} {'vs naive':>9s}")
        for variant in VARIANTS:

            def run(s, variant=variant):
                pk.puff_advantage_cuda_variant(*s[:5], variant=variant, **SCALARS)

            t = time_per_call(run, sets, calls, args.repeats)
            row["kernels"][variant] = t
        t_gae = time_per_call(
            lambda s: pk.gae(s[0], s[1], s[2], s[4], gamma=0.99, gae_lambda=0.95), sets, calls, args.repeats
        )
        row["kernels"]["gae"] = t_gae
        t_vtrace = time_per_call(lambda s: pk.vtrace(*s[:6], gamma=0.99), sets, calls, args.repeats)
        row["kernels"]["vtrace"] = t_vtrace
        t_naive = row["kernels"]["naive"]
        for name, t in row["kernels"].items():
            moved = {"gae": 4, "vtrace": 6}.get(name, 5) * n_bytes
            frac = (moved / t) / copy_bw
            print(f"  {name:14s} {t * 1e6:9.1f} {moved / t / 1e12:7.2f} {frac:9.2f} {t_naive / t:8.1f}x")
        report["sizes"][size] = row
    # What a caller pays per call in eager mode (validation + launch), on a tiny buffer.
    s = make_sets(8, 16, 0)[0]
    for _ in range(10):
        pk.puff_advantage(*s[:5], **SCALARS)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(500):
        pk.puff_advantage(*s[:5], **SCALARS)
    torch.cuda.synchronize()
    per_call = (time.perf_counter() - t0) / 500
    report["eager_call_overhead_s"] = per_call
    print(f"\neager per-call host overhead (8x16, validation + launch): {per_call * 1e6:.1f} us")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
