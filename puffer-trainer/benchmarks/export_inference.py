"""Inference time of an exported policy in C against the same policy in torch, measured in the same run.

For each default policy (squared's MLP, a small-grid CNN, an MLP + LSTM) and batch size, prints the median
time of one forward pass plus action selection: torch (``policy(obs)`` then ``ActionDist.sample``, no grad,
the threads given) and the C library (``pinf_forward`` + ``pinf_act`` through cffi, one thread), and the
ratio torch / C (> 1: C is faster). The C library runs a row at a time with plain loops: it is made to be
small and portable (embedded players, WebAssembly), not to beat BLAS on large batches.

    python puffer-trainer/benchmarks/export_inference.py [--reps 51] [--batches 1,16,1024] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from gymnasium import spaces

from puffer_kernels.inference import CPolicy, encode_policy
from puffer_trainer.config import Config
from puffer_trainer.export import policy_spec
from puffer_trainer.policies import make_policy


class _Vec:
    def __init__(self, obs_space: spaces.Space, act_space: spaces.Space) -> None:
        self.single_observation_space = obs_space
        self.single_action_space = act_space
        self.structured_observation_space = None


CASES = {
    "squared mlp 256 (uint8 [121])": (
        spaces.Box(0, 2, (121,), np.uint8),
        spaces.Discrete(5),
        {"hidden_size": 256},
    ),
    "cnn 128 (uint8 [11, 11, 3])": (
        spaces.Box(0, 255, (11, 11, 3), np.uint8),
        spaces.Discrete(4),
        {"kind": "cnn", "hidden_size": 128},
    ),
    "mlp 128 + lstm 128 (float32 [16])": (
        spaces.Box(-1, 1, (16,), np.float32),
        spaces.MultiDiscrete([3, 3]),
        {"hidden_size": 128, "lstm": True},
    ),
}


def median_time(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=51)
    parser.add_argument("--batches", default="1,16,1024")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the C library uses one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__} "
        f"with "
        f"{args.threads} thread(s), {time.strftime('%Y-%m-%d')}"
    )
    print(f"{'policy':36} {'batch':>6} {'torch ms':>10} {'C ms':>10} {'torch/C':>8}")
    for name, (obs_space, act_space, options) in CASES.items():
        config = Config("x/y")
        for key, value in options.items():
            setattr(config.policy, key, value)
        torch.manual_seed(0)
        net = make_policy(config, _Vec(obs_space, act_space)).eval()
        model = CPolicy.from_bytes(encode_policy(policy_spec(net, obs_space, act_space)))
        for batch in [int(b) for b in args.batches.split(",")]:
            if obs_space.dtype == np.uint8:
                obs = rng.integers(
                    0, int(obs_space.high.max()) + 1, (batch, *obs_space.shape), dtype=np.uint8
                )
            else:
                obs = rng.standard_normal((batch, *obs_space.shape)).astype(np.float32)
            state_t = net.initial_state(batch) if net.is_recurrent else None
            state_c = model.initial_state(batch)

            def run_torch(net=net, obs=obs, state=state_t) -> None:
                with torch.no_grad():
                    params, _, _ = net(torch.from_numpy(obs), state)
                    net.dist.sample(params)

            def run_c(model=model, obs=obs, state=state_c) -> None:
                model.act(model.forward(obs, state), seed=1)

            t_torch, t_c = median_time(run_torch, args.reps), median_time(run_c, args.reps)
            print(f"{name:36} {batch:>6} {t_torch * 1e3:>10.3f} {t_c * 1e3:>10.3f} {t_torch / t_c:>8.2f}")


if __name__ == "__main__":
    main()
