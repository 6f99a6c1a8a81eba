"""Train PPO on drive/synthetic for a wall-clock budget, then measure the goal rate on held-out scenarios.

Prints the end-to-end training speed beside the simulator alone at the same size, measured in the same run
(the ratio is the share of time left to the simulator), the learning curve, the held-out goal rate of the
trained policy (greedy and sampled actions) and writes a GIF of held-out worlds. Needs puffer-trainer.

    python benchmarks/train_drive.py --device cuda --seconds 300 --worlds 2048 --agents 16 --out OUT
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from puffer_envs_gpudrive import generator
from puffer_envs_gpudrive.env import DriveEnv
from puffer_envs_gpudrive.render import save_gif


def sim_alone(env_kwargs: dict, steps: int, device: torch.device) -> tuple[float, float]:
    """Slot steps/s and agent steps/s of the simulator at the training size, random actions (the same-run
    baseline; random drivers crash early, so slot steps are the comparable figure)."""
    env = DriveEnv(**{**env_kwargs, "check_actions": False, "log_interval": 10**9})
    env.reset(seed=0)
    gen = torch.Generator(device=env.torch_device).manual_seed(0)
    acts = [
        torch.randint(0, env.single_action_space.n, (env.num_agents,), generator=gen, device=gen.device)
        for _ in range(4)
    ]
    for k in range(3):
        env.step(acts[k % 4])
    if device.type == "cuda":
        torch.cuda.synchronize()
    before, start = int(env.sim.agent_steps), time.perf_counter()
    for k in range(steps):
        env.step(acts[k % 4])
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return env.num_agents * steps / seconds, (int(env.sim.agent_steps) - before) / seconds


_POOLS: dict = {}


def heldout_pool(count: int, seed: int) -> list:
    """The held-out scenarios, generated once per run (both evaluations play the same ones)."""
    if (count, seed) not in _POOLS:
        _POOLS[count, seed] = generator.generate_set(count, seed)
    return _POOLS[count, seed]


@torch.no_grad()
def held_out(trainer, env_kwargs: dict, worlds: int, seed: int, greedy: bool, frames_of: int = 0) -> dict:
    """Each of ``worlds`` unseen scenarios played once by the policy: the share of controlled agents that
    reach their goal in their first episode (also collisions and off-road), and frames of the first worlds."""
    kwargs = {
        **env_kwargs,
        "num_worlds": worlds,
        "scenarios": heldout_pool(worlds, seed),
        "resample_scenarios": False,
        "log_interval": 10**9,
    }
    env = DriveEnv(**kwargs)
    obs, _ = env.reset(seed=0)
    dev = env.torch_device
    controlled = env.sim.alive.clone()
    first = torch.ones(worlds, dtype=torch.bool, device=dev)  # still in the first episode
    sums = {k: torch.zeros((), device=dev) for k in ("goal", "collided", "offroad")}
    frames: list = [[] for _ in range(frames_of)]
    policy = trainer.policy
    policy.eval()
    for _ in range(env.config.episode_length):
        x = obs.to(trainer.device)
        if trainer.obs_norm is not None:
            x = trainer.obs_norm(x)
        params, _, _ = policy(x, None)
        actions = params.argmax(-1) if greedy else trainer.dist.sample(params)[0]
        obs, _, _, _, _ = env.step(actions.to(dev))
        ev = env.sim.step_events
        for k in sums:
            sums[k] += (ev[k] & ev["acted"] & first[:, None]).sum()
        for w in range(frames_of):
            if bool(first[w]):
                frames[w].append(env.render(w, 384))
        first &= env.sim.t > 0  # a world that reset has finished its first episode
    total = float(controlled.sum())
    out = {f"{k}_rate": float(v) / total for k, v in sums.items()}
    out["agents"] = int(total)
    out["frames"] = frames
    return out


def main() -> None:
    import puffer_trainer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--worlds", type=int, default=2048)
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--scenarios", type=int, default=1024, help="training scenario pool (seed 0)")
    parser.add_argument("--eval-worlds", type=int, default=512, help="held-out scenarios (seed 99)")
    parser.add_argument("--horizon", type=int, default=32)
    parser.add_argument("--minibatch", type=int, default=16384)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    device = torch.device(args.device)
    # The training pool (seed 0), generated once and handed to both envs built from it.
    env_kwargs = {
        "device": args.device,
        "num_worlds": args.worlds,
        "max_agents": args.agents,
        "scenarios": generator.generate_set(args.scenarios, seed=0),
    }
    config = puffer_trainer.load_config("drive/synthetic")
    config.env.update(env_kwargs)
    config.train.device = args.device
    config.train.horizon = args.horizon
    config.train.minibatch_size = args.minibatch
    config.train.learning_rate = args.lr
    config.train.anneal_lr = False  # a wall-clock budget: no schedule to anneal over
    config.train.total_timesteps = 10**12
    sim_slot_sps, sim_sps = sim_alone(env_kwargs, 20, device)
    print(
        f"simulator alone at {args.worlds} worlds x {args.agents} slots, random actions: {sim_slot_sps:,.0f} "
        f"slot steps/s ({sim_sps:,.0f} agent steps/s)"
    )

    trainer = puffer_trainer.Trainer(config)
    env = trainer.vecenv.env
    print(
        f"training on {device}: {trainer.num_agents:,} slots, horizon {args.horizon}, batch "
        f"{trainer.segments * args.horizon:,}, minibatch {args.minibatch:,}, for {args.seconds:.0f} s"
    )
    curve = []
    start = time.perf_counter()
    next_print = 0.0
    live0 = int(env.sim.agent_steps)
    while time.perf_counter() - start < args.seconds:
        stats = trainer.evaluate()
        trainer.train()
        elapsed = time.perf_counter() - start
        if elapsed >= next_print and stats:
            live = int(env.sim.agent_steps) - live0
            row = {
                "s": round(elapsed, 1),
                "slot_steps": trainer.global_step,
                "agent_steps": live,
                "agent_sps": round(live / elapsed),
                "slot_sps": round(trainer.global_step / elapsed),
                "goal_rate": round(stats.get("goal_rate", float("nan")), 4),
                "collision_rate": round(stats.get("collision_rate", float("nan")), 4),
                "offroad_rate": round(stats.get("offroad_rate", float("nan")), 4),
            }
            curve.append(row)
            print("curve " + json.dumps(row), flush=True)
            next_print = elapsed + 15.0
    elapsed = time.perf_counter() - start
    live = int(env.sim.agent_steps) - live0
    train_sps, train_slot_sps = live / elapsed, trainer.global_step / elapsed
    timings = {k: round(v, 1) for k, v in trainer.timings.items()}
    print(
        f"end-to-end training: {train_sps:,.0f} agent steps/s ({train_slot_sps:,.0f} slot steps/s) over "
        f"{elapsed:.0f} s; slot steps/s vs the simulator alone: {train_slot_sps / sim_slot_sps:.2f}x; "
        f"time split (s) {timings}"
    )

    results = {
        "train_agent_sps": round(train_sps),
        "train_slot_sps": round(train_slot_sps),
        "sim_slot_sps": round(sim_slot_sps),
        "sim_agent_sps": round(sim_sps),
        "seconds": round(elapsed),
    }
    for greedy in (True, False):
        ev = held_out(
            trainer, env_kwargs, args.eval_worlds, seed=99, greedy=greedy, frames_of=4 if greedy else 0
        )
        frames = ev.pop("frames")
        label = "greedy" if greedy else "sampled"
        print(
            f"held-out ({args.eval_worlds} unseen scenarios, {ev['agents']} agents, {label}): goal rate "
            f"{ev['goal_rate']:.3f}, collision {ev['collided_rate']:.3f}, off-road {ev['offroad_rate']:.3f}"
        )
        results[label] = ev
        if frames and args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            strip = [
                torch.cat([torch.from_numpy(f) for f in row], 1).numpy()
                for row in zip(*[fr[: min(map(len, frames))] for fr in frames])
            ]
            path = save_gif(strip, args.out / "drive_heldout.gif", fps=10)
            print(f"wrote {path} ({len(strip)} frames, 4 held-out worlds side by side)")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "train_drive.json").write_text(json.dumps({"results": results, "curve": curve}, indent=1))
        torch.save(trainer.policy.state_dict(), args.out / "drive_policy.pt")
    print("json " + json.dumps(results))
    trainer.close()


if __name__ == "__main__":
    main()
