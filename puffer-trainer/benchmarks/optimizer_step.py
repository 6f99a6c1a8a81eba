"""One optimizer step of ``train.optimizer = "muon"``: torch.optim.Muon + SGD (before) vs MuonWithSGD (now).

The parameters are those of ocean/breakout's GPU policy (its registered "cuda" layer: MLP encoder, LSTM 128),
with fixed random gradients. Prints ms per step of both, the ratio, the largest parameter difference after the
timed steps, and on CUDA the kernel launches per step (torch profiler) and a check that step() never makes
the host wait for the device (``torch.cuda.set_sync_debug_mode("error")``).

    PYTHONPATH=puffer-core/src:puffer-trainer/src \\
        python3 puffer-trainer/benchmarks/optimizer_step.py --device cuda|cpu
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import statistics
import time

import torch

import puffer_core
from puffer_trainer.config import load_config
from puffer_trainer.optim import CombinedOptimizer, MuonWithSGD, split_muon_parameters
from puffer_trainer.policies import make_policy

BASE = "torch Muon+SGD"
LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cuLaunchKernelEx", "cudaLaunchKernelExC")


class _Spaces:
    """What make_policy reads from a vector env."""

    def __init__(self, env: puffer_core.PufferEnv) -> None:
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space


#: Steps of the parameter comparison (fresh copies, gradients set before each step).
CHECK_STEPS = 20


def breakout_gpu_policy(device: torch.device) -> tuple[torch.nn.Module, float, float, float]:
    """The policy of breakout's "cuda" config layer and its (lr, momentum, weight decay)."""
    # train.device "cuda" selects the layer; it only names the device, nothing here needs a GPU.
    config = load_config("ocean/breakout", overrides=["--train.device", "cuda"])
    env = puffer_core.make("ocean/breakout")
    try:
        policy = make_policy(config, _Spaces(env)).to(device)
    finally:
        env.close()
    tc = config.train
    return policy, float(tc.learning_rate), float(tc.adam_beta1), float(tc.weight_decay)


def torch_pair(policy: torch.nn.Module, lr: float, momentum: float, wd: float) -> torch.optim.Optimizer:
    """What build_optimizer returned for "muon" before MuonWithSGD."""
    matrices, others = split_muon_parameters(policy)
    return CombinedOptimizer([
        torch.optim.Muon(matrices, lr=lr, momentum=momentum, nesterov=True, weight_decay=wd,
                         adjust_lr_fn="original"),
        torch.optim.SGD(others, lr=lr, momentum=momentum, nesterov=True, weight_decay=wd),
    ])  # fmt: skip


def ours(
    policy: torch.nn.Module, lr: float, momentum: float, wd: float, merge: bool
) -> torch.optim.Optimizer:
    matrices, others = split_muon_parameters(policy)
    return MuonWithSGD(
        matrices, others, lr=lr, momentum=momentum, nesterov=True, weight_decay=wd, merge_shapes=merge
    )


def time_steps(opt: torch.optim.Optimizer, steps: int, repeats: int, sync: object) -> list[float]:
    """ms per step, one figure per repeat of ``steps`` back-to-back steps (the device drained after each)."""
    out = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.step()
        sync()
        out.append(1e3 * (time.perf_counter() - t0) / steps)
    return out


def launches_per_step(opt: torch.optim.Optimizer, steps: int) -> float:
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            opt.step()
        torch.cuda.synchronize()
    return sum(e.count for e in prof.key_averages() if e.key in LAUNCHES) / steps


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    # CPU bf16 matrix products are slow (~0.2 s per step here): fewer steps there.
    parser.add_argument("--steps", type=int, default=None, help="steps per timed repeat (cuda 50, cpu 4)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (cuda 9, cpu 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the GPU config uses 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    args.steps = args.steps or (50 if cuda else 4)
    args.repeats = args.repeats or (9 if cuda else 3)
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    torch.manual_seed(0)
    policy, lr, momentum, wd = breakout_gpu_policy(device)
    variants = {
        BASE: lambda p: torch_pair(p, lr, momentum, wd),
        "MuonWithSGD per shape": lambda p: ours(p, lr, momentum, wd, merge=False),
        "MuonWithSGD merged": lambda p: ours(p, lr, momentum, wd, merge=True),
    }
    grads = [torch.randn_like(p) for p in policy.parameters()]
    policies, opts = {}, {}
    for key, make in variants.items():
        policies[key] = copy.deepcopy(policy)
        for p, g in zip(policies[key].parameters(), grads):
            p.grad = g.clone()
        opts[key] = make(policies[key])

    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    name = torch.cuda.get_device_name(device) if cuda else cpu_name()
    say(
        f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, torch {torch.__version__}, "
        f"device {device} ({name}), {torch.get_num_threads()} CPU threads"
    )
    shapes = [tuple(p.shape) for p in policy.parameters()]
    say(f"# breakout GPU policy: {len(shapes)} tensors {shapes}; lr {lr}, momentum {momentum}, wd {wd}")
    say("# the default (merge_shapes=None) is 'merged' on CUDA and 'per shape' on the CPU")
    for opt in opts.values():  # warm-up: momentum buffers, cuBLAS handles, allocator
        for _ in range(5):
            opt.step()
    # Interleave the variants so that a change in machine load hits all alike.
    times: dict[str, list[float]] = {k: [] for k in opts}
    for _ in range(args.repeats):
        for key, opt in opts.items():
            times[key] += time_steps(opt, args.steps, 1, sync)
    base = statistics.median(times[BASE])
    # The parameter check runs on fresh copies with the gradients set again before every step: torch's
    # foreach SGD (its default on CUDA) adds its Nesterov term into the gradients themselves, so the fixed
    # gradients of the timing loop grow step after step there and its parameters run off to inf.
    checked = {}
    for key, make in variants.items():
        checked[key] = copy.deepcopy(policy)
        opt = make(checked[key])
        for _ in range(CHECK_STEPS):
            for q, g in zip(checked[key].parameters(), grads):
                q.grad = g.clone()
            opt.step()
    say(
        f"{'':>22}  ms/step (median of {args.repeats} x {args.steps})  speed-up  "
        f"max|param - torch's| after {CHECK_STEPS} steps"
    )
    for key, ts in times.items():
        med = statistics.median(ts)
        diff = max(
            (p - q).abs().max().item() for p, q in zip(checked[BASE].parameters(), checked[key].parameters())
        )
        say(f"{key:>22}: {med:8.3f} (min {min(ts):8.3f})  {base / med:8.2f}x  {diff:.3g}")
    if cuda:
        counts = {key: launches_per_step(opt, 10) for key, opt in opts.items()}
        for key, n in counts.items():
            say(f"{key:>22}: {n:6.1f} kernel launches/step, {counts[BASE] / n:5.2f}x fewer than torch's")
        for key in list(opts)[1:]:
            torch.cuda.set_sync_debug_mode("error")  # any host-device sync in step() raises
            try:
                opts[key].step()
            finally:
                torch.cuda.set_sync_debug_mode("default")
            torch.cuda.synchronize()  # an explicit synchronize counts as one in that mode: only after it
            say(f"{key}.step(): no host-device synchronization (sync debug mode 'error')")
    out = os.environ.get("OUT")
    if out:
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, f"optimizer_step_{device.type}.txt")
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
