"""How the default engine's emulator throughput grows with its threads, against one thread in the same run.

Run: ``python benchmarks/thread_scaling.py [--game breakout] [--games-per-thread 8] [--threads 1 2 4 8 16]``.

For each thread count ``t`` it builds ``atari/<game>`` on the ``ale_vector`` engine with
``t * games-per-thread`` games and ``t`` emulator threads (random actions, the registered preprocessing)
and prints agent steps per second, per thread, and the scaling efficiency ``sps(t) / (t * sps(1))``.
An efficiency near 1 means the cores are independent; well below 1 means the threads share physical cores
(SMT siblings) or wait for the slowest game of each synchronous batch. ``--pin`` pins thread ``i`` to core
``i`` (ale-py's ``thread_affinity_offset=0``). Each figure is the best of three windows.

Why it exists: training on a 16-core H200 VM ran ale-py at about 2.9k frames/s per thread, against 9k per
core on a 2-core development VM; this tells whether more threads would help there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from atari import actions_for, timed  # benchmarks/atari.py: its timing windows and random actions

import puffer_core


def sps(game: str, threads: int, games_per_thread: int, seconds: float, pin: bool) -> float:
    """Agent steps per second of one ``ale_vector`` env object of ``threads * games_per_thread`` games."""
    num_envs = threads * games_per_thread
    env = puffer_core.make(
        f"atari/{game}",
        seed=0,
        num_envs=num_envs,
        engine="ale_vector",
        num_threads=threads,
        thread_affinity_offset=0 if pin else -1,
    )
    try:
        env.reset(seed=0)
        actions = actions_for(int(env.single_action_space.n), num_envs)
        calls = iter(range(1 << 62))
        return timed(lambda: env.step(actions[next(calls) % len(actions)]), num_envs, seconds)
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--games-per-thread", type=int, default=8)
    cores = os.cpu_count() or 1
    default_threads = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= cores]
    parser.add_argument("--threads", type=int, nargs="+", default=default_threads)
    parser.add_argument("--seconds", type=float, default=4.0, help="timing per thread count (3 windows)")
    parser.add_argument("--pin", action="store_true", help="pin emulator thread i to core i")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if 1 not in args.threads:
        args.threads = [1, *args.threads]  # the baseline
    print(
        f"atari/{args.game}: ale_vector, {args.games_per_thread} games per thread, random actions, "
        "frame skip 4"
        f"{', pinned' if args.pin else ''} ({platform.node()}, {cores} CPUs, {time.strftime('%Y-%m-%d')})"
    )
    rows = []
    for t in args.threads:
        s = sps(args.game, t, args.games_per_thread, args.seconds, args.pin)
        base = rows[0]["sps"] if rows else s
        row = {"threads": t, "sps": s, "sps_per_thread": s / t, "efficiency": s / (t * base)}
        rows.append(row)
        print(
            f"  {t:3d} threads  {s:9,.0f} agent steps/s  {s / t:7,.0f} per thread  "
            f"({4 * s / t:7,.0f} frames/s)  efficiency {row['efficiency']:.2f}x of 1 thread",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"game": args.game, "cpus": cores, "pin": args.pin, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
