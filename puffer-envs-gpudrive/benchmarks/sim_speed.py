"""Agent steps per second of the driving simulator alone (observations included), random actions.

Measures the target size on the chosen device and, as the baseline in the same run, the same simulator on
the CPU at a smaller size (the CPU at the full size would take minutes). Agent steps count controlled
agents that acted (live slots); slot steps count every slot of every world.

    python benchmarks/sim_speed.py --device cuda --worlds 1024 --agents 64
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from puffer_envs_gpudrive.env import DriveEnv


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(device: str, worlds: int, agents: int, steps: int, kinds: tuple[str, ...], dense: bool) -> dict:
    env = DriveEnv(
        device=device,
        num_worlds=worlds,
        max_agents=agents,
        num_scenarios=64,
        scenarios="synthetic",
        synthetic_kinds=kinds,
        synthetic_vehicles=agents if dense else None,
        check_actions=False,
        log_interval=10**9,
    )
    dev = env.torch_device
    env.reset(seed=0)
    gen = torch.Generator(device=dev).manual_seed(0)
    n = env.single_action_space.n
    actions = [torch.randint(0, n, (env.num_agents,), generator=gen, device=dev) for _ in range(8)]
    for k in range(5):  # warm-up (allocator, kernels)
        env.step(actions[k % 8])
    sync(dev)
    before = int(env.sim.agent_steps)
    start = time.perf_counter()
    for k in range(steps):
        env.step(actions[k % 8])
    sync(dev)
    seconds = time.perf_counter() - start
    live = int(env.sim.agent_steps) - before
    return {
        "device": str(dev),
        "worlds": worlds,
        "agents": agents,
        "kinds": list(kinds),
        "steps": steps,
        "seconds": round(seconds, 4),
        "slot_steps_per_s": round(env.num_agents * steps / seconds),
        "agent_steps_per_s": round(live / seconds),
        "live_fraction": round(live / (env.num_agents * steps), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--worlds", type=int, default=1024)
    parser.add_argument("--agents", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--baseline-worlds", type=int, default=16)
    parser.add_argument("--baseline-steps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "-"
    print(f"torch {torch.__version__}, cuda: {gpu}")
    rows = []
    # Dense: multi-lane roads with a vehicle in every slot (all controlled); mixed: the training mix.
    for label, kinds, dense in (
        ("dense", ("multilane",), True),
        ("mixed", ("intersection", "merge", "multilane"), False),
    ):
        target = measure(args.device, args.worlds, args.agents, args.steps, kinds, dense)
        base = measure("cpu", args.baseline_worlds, args.agents, args.baseline_steps, kinds, dense)
        ratio = target["agent_steps_per_s"] / max(base["agent_steps_per_s"], 1)
        print(
            f"[{label}] {target['device']} {args.worlds} worlds x {args.agents} slots: "
            f"{target['agent_steps_per_s']:,} agent steps/s ({target['slot_steps_per_s']:,} slot steps/s, "
            f"{target['live_fraction']:.0%} of slots live); CPU baseline {args.baseline_worlds} worlds: "
            f"{base['agent_steps_per_s']:,} agent steps/s; ratio {ratio:.1f}x"
        )
        rows += [{"case": label, **target}, {"case": label + "-cpu-baseline", **base}]
    print("json " + json.dumps(rows))


if __name__ == "__main__":
    main()
