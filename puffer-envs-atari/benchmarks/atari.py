"""Atari throughput: agent steps per second (frame skip 4) of our two paths against gymnasium's.

Run: ``python benchmarks/atari.py [--game breakout] [--num-envs 32] [--cores N] [--seconds 6]``.

All three run the same preprocessing on ``--num-envs`` games (frame skip 4 with a max over the last two
frames, 84x84 grayscale, a stack of 4, up to 30 no-op frames at reset, sticky actions 0.25) with random
actions, each on ``--cores`` cores (default: all):

* ``ale_vector`` (the default path): ``puffer_core.vector.make("atari/<game>")`` with one env object of
  ``--num-envs`` games stepped by ale-py's C++ vector env on ``--cores`` threads (backend ``serial``).
* ``python+mp``: puffer-core's ``multiprocessing`` backend over ``--cores`` workers, one game per env object
  on the ``python`` engine (numpy preprocessing, frames written straight into shared memory).
* ``gymnasium``: ``gymnasium.vector.AsyncVectorEnv`` over ``gymnasium.make("ALE/<Game>-v5", frameskip=1)`` +
  ``AtariPreprocessing(frame_skip=4, noop_max=30)`` + ``FrameStackObservation(4)``, one process per game
  (the baseline; AtariPreprocessing needs OpenCV: ``pip install puffer-envs-atari[bench]``).

Each figure is the best of three windows (on a shared machine other jobs only slow a window down). The
verdict line prints the ratio of the default path to gymnasium and to ``python+mp``; the target is >= 2x
gymnasium. ``--json PATH`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import numpy as np

import puffer_core
import puffer_core.vector

TARGET = 2.0


def timed(step: Callable[[], None], agents: int, seconds: float, windows: int = 3) -> float:
    """Agent steps per wall-clock second of ``step()``, best of ``windows`` windows sharing ``seconds``."""
    for _ in range(10):
        step()
    best = 0.0
    for _ in range(windows):
        start = time.perf_counter()
        deadline, calls = start + seconds / windows, 0
        while time.perf_counter() < deadline:
            step()
            calls += 1
        best = max(best, calls * agents / (time.perf_counter() - start))
    return best


def actions_for(n_actions: int, num_envs: int, count: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, n_actions, size=num_envs, dtype=np.int32) for _ in range(count)]


def bench_puffer(game: str, num_envs: int, cores: int, seconds: float, engine: str) -> float:
    if engine == "ale_vector":
        vec = puffer_core.vector.make(
            f"atari/{game}", num_envs=1, backend="serial", seed=0,
            env_kwargs={"num_envs": num_envs, "num_threads": cores},
        )
    else:
        vec = puffer_core.vector.make(
            f"atari/{game}", num_envs=num_envs, backend="multiprocessing", num_workers=cores, seed=0,
            env_kwargs={"engine": "python"}, max_processes=cores,
        )
    try:
        vec.reset(seed=0)
        pool = actions_for(vec.single_action_space.n, vec.num_agents)
        i = iter(range(1 << 62))

        def step() -> None:
            vec.step(pool[next(i) % len(pool)])

        return timed(step, vec.num_agents, seconds)
    finally:
        vec.close()


def make_gym_env(game_id: str) -> object:
    import ale_py
    import gymnasium
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    gymnasium.register_envs(ale_py)
    env = gymnasium.make(game_id, frameskip=1, repeat_action_probability=0.25)
    env = AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)
    return FrameStackObservation(env, 4)


def gym_id(game: str) -> str:
    return "ALE/" + "".join(part.capitalize() for part in game.split("_")) + "-v5"


def bench_gymnasium(game: str, num_envs: int, seconds: float) -> float:
    import functools

    import gymnasium

    env = gymnasium.vector.AsyncVectorEnv(
        [functools.partial(make_gym_env, gym_id(game)) for _ in range(num_envs)],
        autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP,
    )
    try:
        env.reset(seed=0)
        pool = actions_for(env.single_action_space.n, num_envs)
        i = iter(range(1 << 62))

        def step() -> None:
            env.step(pool[next(i) % len(pool)])

        return timed(step, num_envs, seconds)
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--num-envs", type=int, default=0, help="games per path (default: 4 per core, >= 8)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seconds", type=float, default=6.0, help="timing per path (3 windows)")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()
    num_envs = args.num_envs or max(8, 4 * args.cores)
    num_envs -= num_envs % args.cores  # the multiprocessing backend needs workers dividing the envs
    print(
        f"atari/{args.game}: {num_envs} games, {args.cores} cores, random actions, frame skip 4 "
        f"({platform.node()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')})"
    )
    results = {}
    for name, run in (
        ("ale_vector", lambda: bench_puffer(args.game, num_envs, args.cores, args.seconds, "ale_vector")),
        ("python+mp", lambda: bench_puffer(args.game, num_envs, args.cores, args.seconds, "python")),
        ("gymnasium", lambda: bench_gymnasium(args.game, num_envs, args.seconds)),
    ):
        try:
            results[name] = run()
            print(f"  {name:<11} {results[name]:>10,.0f} agent steps/s ({4 * results[name]:,.0f} frames/s)")
        except Exception as error:  # e.g. gymnasium's AtariPreprocessing without OpenCV: still print ours
            if name != "gymnasium":
                raise
            print(f"  {name:<11} skipped: {type(error).__name__}: {error}")
    default = results["ale_vector"]
    parts = [f"ale_vector / python+mp = {default / results['python+mp']:.2f}x"]
    if "gymnasium" in results:
        ratio = default / results["gymnasium"]
        verdict = "meets" if ratio >= TARGET else "misses"
        parts.insert(0, f"ale_vector / gymnasium = {ratio:.2f}x ({verdict} the >= {TARGET:.0f}x target)")
        parts.append(f"python+mp / gymnasium = {results['python+mp'] / results['gymnasium']:.2f}x")
    print("verdict: " + "; ".join(parts))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"game": args.game, "num_envs": num_envs, "cores": args.cores, "sps": results}, f)


if __name__ == "__main__":
    main()
