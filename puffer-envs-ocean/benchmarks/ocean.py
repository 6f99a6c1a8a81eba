"""Ocean throughput: agent-steps per second per env, one core and all cores, and cartpole vs gymnasium.

Run: ``python benchmarks/ocean.py [--seconds 2] [--envs squared,pong] [--no-multiprocessing]``.

* ``direct``: one env object with ``--num-envs`` (1024) instances, ``env.step(env.actions)`` in a loop, on one
  core: the C loop plus the per-call Python overhead. ``direct/cpu`` counts CPU-seconds of the stepping
  thread instead of wall seconds, which a shared machine disturbs less; the verdict uses it.
* ``serial``: the same through ``puffer_core.vector.make(..., backend="serial")`` (what the trainer uses).
* ``multiproc``: one env object per core through ``backend="multiprocessing"``.
* ``cartpole / gymnasium``: ``ocean/cartpole`` (direct) over gymnasium ``CartPole-v1`` in ``SyncVectorEnv``,
  both measured in this run on this machine.

Actions are random (a pool drawn before timing). Each figure is the best of three windows (other jobs on a
shared machine only slow a window down). Each env object holds the env's registered number of copies (1024,
or 4 grids of 256 snakes for snake) unless ``--num-envs`` is given. The speed goal of each env is relative to
the reference implementation on the same game: ``benchmarks/fidelity.py`` measures that ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

import numpy as np

import puffer_core
from puffer_envs_ocean.plugin import ENV_MODULES

GYM_RATIO_TARGET = 300.0


def action_pool(space, shape: tuple[int, ...], count: int = 64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    high = space.n if hasattr(space, "n") else space.nvec
    return [rng.integers(0, high, size=shape, dtype=np.int32) for _ in range(count)]


def timed(step: Callable[[int], None], agents: int, seconds: float, windows: int = 3) -> tuple[float, float]:
    """Agent-steps per second of ``step(i)``: ``(per wall-clock second, per CPU-second of this thread)``.

    Each is the best of ``windows`` windows sharing ``seconds``: on a shared machine other jobs only ever slow
    a window down. The CPU-second figure does not count time this process waited for a core (it still
    counts cache and frequency effects of neighbours); on a quiet machine both agree for the serial case.
    """
    for i in range(20):
        step(i)
    best_wall, best_cpu, calls = 0.0, 0.0, 0
    for _ in range(windows):
        start, cpu_start = time.perf_counter(), time.thread_time()
        deadline, first = start + seconds / windows, calls
        while True:
            for _ in range(25):
                step(calls)
                calls += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        cpu = max(time.thread_time() - cpu_start, 1e-9)
        best_wall = max(best_wall, (calls - first) * agents / (now - start))
        best_cpu = max(best_cpu, (calls - first) * agents / cpu)
    return best_wall, best_cpu


def bench_direct(name: str, num_envs: int, seconds: float) -> tuple[float, float]:
    env = puffer_core.make(f"ocean/{name}", num_envs=num_envs, seed=0)
    env.reset()
    pool = action_pool(env.single_action_space, env.actions.shape)
    actions = env.actions

    def step(i: int) -> None:
        actions[...] = pool[i & 63]
        env.step(actions)

    try:
        return timed(step, env.num_agents, seconds)
    finally:
        env.close()


def bench_vector(name: str, num_envs: int, seconds: float, backend: str, copies: int) -> float:
    """Agent-steps per wall-clock second through ``puffer_core.vector``."""
    import puffer_core.vector

    vec = puffer_core.vector.make(
        f"ocean/{name}", num_envs=copies, backend=backend, seed=0, env_kwargs={"num_envs": num_envs}
    )
    try:
        vec.reset(seed=0)
        pool = action_pool(vec.single_action_space, (vec.num_agents, *vec.single_action_space.shape))
        return timed(lambda i: vec.step(pool[i & 63]), vec.num_agents, seconds)[0]
    finally:
        vec.close()


def bench_gymnasium_cartpole(num_envs: int, seconds: float) -> tuple[float, float]:
    import gymnasium

    vec = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make("CartPole-v1") for _ in range(num_envs)])
    vec.reset(seed=0)
    pool = action_pool(vec.single_action_space, (num_envs,))
    try:
        return timed(lambda i: vec.step(pool[i & 63].astype(np.int64)), num_envs, seconds)
    finally:
        vec.close()


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{value / 1e3:.1f}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--num-envs", type=int, default=None, help="copies per env object (default: env's)")
    parser.add_argument("--envs", default=",".join(ENV_MODULES), help="comma-separated env names")
    parser.add_argument("--no-multiprocessing", action="store_true", help="skip the all-cores column")
    parser.add_argument("--no-serial", action="store_true", help="skip the serial-vectorizer column")
    parser.add_argument("--gym-envs", type=int, default=16, help="CartPole-v1 copies in SyncVectorEnv")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    names = [n for n in args.envs.split(",") if n]
    unknown = sorted(set(names) - set(ENV_MODULES))
    if unknown:
        parser.error(f"unknown env(s) {unknown}; choose from {list(ENV_MODULES)}")

    rows: dict[str, dict] = {}
    columns = ("direct", "direct/cpu", "serial", f"multiproc x{cores}", "copies")
    widths = (9, 10, 9, 15, 8)
    print(f"{'env':<10} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths)))
    for name in names:
        num_envs = args.num_envs or puffer_core.spec(f"ocean/{name}").default_kwargs.get("num_envs", 1024)
        direct, direct_cpu = bench_direct(name, num_envs, args.seconds)
        serial = None if args.no_serial else bench_vector(name, num_envs, args.seconds, "serial", 1)
        multi = None
        if not args.no_multiprocessing and cores > 1:
            multi = bench_vector(name, num_envs, args.seconds, "multiprocessing", cores)
        values = (direct, direct_cpu, serial, multi, num_envs)
        rows[name] = dict(zip(("direct", "direct_cpu", "serial", "multiprocessing", "num_envs"), values))
        cells = " ".join(f"{fmt(v):>{w}}" for v, w in zip(values[:4], widths))
        print(f"{name:<10} {cells} {num_envs:>8}")

    if "cartpole" in names:
        gym, gym_cpu = bench_gymnasium_cartpole(args.gym_envs, args.seconds)
        ratio = rows["cartpole"]["direct"] / gym
        ratio_cpu = rows["cartpole"]["direct_cpu"] / gym_cpu
        verdict = "ok" if min(ratio, ratio_cpu) >= GYM_RATIO_TARGET else "BELOW"
        print(
            f"\ncartpole / gymnasium CartPole-v1 SyncVectorEnv({args.gym_envs}): "
            f"{fmt(rows['cartpole']['direct'])} / {fmt(gym)} = {ratio:.0f}x wall, "
            f"{ratio_cpu:.0f}x per CPU-second (target {GYM_RATIO_TARGET:.0f}x) {verdict}"
        )
        rows["gymnasium_cartpole"] = {"sync_vector_env": gym, "ratio": ratio, "ratio_cpu": ratio_cpu}
    if args.markdown:
        print(f"\n| env | copies | direct | direct, per CPU-s | serial vec | multiprocessing x{cores} |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in names:
            row = rows[name]
            cells = [fmt(row[k]) for k in ("direct", "direct_cpu", "serial", "multiprocessing")]
            print(f"| {name} | {row['num_envs']} | " + " | ".join(cells) + " |")
        if "gymnasium_cartpole" in rows:
            g = rows["gymnasium_cartpole"]
            print(
                f"\nocean/cartpole vs gymnasium CartPole-v1 in SyncVectorEnv({args.gym_envs}), same run: "
                f"**{g['ratio']:.0f}x** ({fmt(rows['cartpole']['direct'])} / {fmt(g['sync_vector_env'])} "
                f"steps/s; {g['ratio_cpu']:.0f}x per CPU-second)"
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"cores": cores, "results": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
