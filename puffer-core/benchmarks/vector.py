"""Steps per second of Puffer's vector backends against gymnasium's, measured in one run.

    python puffer-core/benchmarks/vector.py            # CartPole-v1 (emulated) and a cheap native env
    python puffer-core/benchmarks/vector.py --quick    # shorter runs

Each configuration steps ``--num-envs`` envs with fixed random actions for ``--seconds`` seconds,
``--repeats`` times, interleaved so that load from other processes hits every configuration alike. The
median is printed with ratios against the serial backend and gymnasium's ``AsyncVectorEnv`` of the same
run, and the CPU time (main process plus workers) per agent step, which shows the vectorizer's overhead
even on a busy machine.

Targets on a 2-core machine (issue 3): with emulated CartPole-v1 and 16 envs, multiprocessing with 2
workers >= 1.6x serial and about 8x gymnasium AsyncVectorEnv; with the cheap native env, multiprocessing
stays close to serial (never slower, with any number of workers, is the goal). Async rows compare with
"serial async batch/2": the same recv/send calls per step, in the serial backend.

The first line measures the machine's parallel ceiling: two plain processes stepping CartPole at once
against one alone. On a VM whose vCPUs share physical cores or a busy host it is far below 2x, and no
2-process backend can beat it; the 2-worker row reports its share of that ceiling.

``procs`` is the number of processes that step envs: the multiprocessing backend runs at most one per CPU
(in synchronous mode the caller steps worker 0's envs itself), merging extra requested workers, and in
synchronous mode steps envs too cheap to pay for a hand-off all in the caller (``procs`` 1) unless
``max_processes`` is given (the "processes forced" row).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable

import gymnasium
import numpy as np
from gymnasium import spaces

import puffer_core
import puffer_core.vector
from puffer_core import PufferEnv


class Cheap(PufferEnv):
    """A native env that costs about a microsecond per step: measures the vectorizer's own overhead."""

    def __init__(self, buf=None, seed=None):
        self.single_observation_space = spaces.Box(-1, 1, (4,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.num_agents = 1
        super().__init__(buf)
        self.t = 0

    def reset(self, seed=None):
        self.t = 0
        self.observations[:] = 0
        return self.observations, []

    def step(self, actions):
        self.t += 1
        self.observations[0, 0] = self.t
        self.rewards[0] = 1.0
        done = self.t >= 200
        self.terminals[0] = done
        if done:
            self.t = 0
        return self.observations, self.rewards, self.terminals, self.truncations, []


def _time_steps(step: Callable[[np.ndarray], object], actions: np.ndarray, seconds: float) -> float:
    """Agent steps per second of ``step(actions)`` over about ``seconds``."""
    for _ in range(20):  # warm up
        step(actions)
    steps, start = 0, time.perf_counter()
    while True:
        for _ in range(50):
            step(actions)
        steps += 50
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps * len(actions) / elapsed


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (Linux /proc); 0 where unavailable."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0.0
    return total


#: CPU microseconds per agent step of the last puffer case, over the main process and its workers.
CPU_US: dict[str, list[float]] = {}
#: Processes that stepped envs (the caller included when it steps some itself), per puffer case.
PROCESSES: dict[str, int] = {}


def puffer_case(
    name: str,
    creator,
    num_envs: int,
    backend: str,
    workers: int | None,
    start_method: str | None,
    batch_size: int | None = None,
    max_processes: int | None = None,
):
    def run(seconds: float) -> float:
        mp_kwargs = {"start_method": start_method, "max_processes": max_processes}
        vec = puffer_core.vector.make(
            creator,
            num_envs=num_envs,
            backend=backend,
            num_workers=workers,
            batch_size=batch_size,
            seed=0,
            **(mp_kwargs if backend == "multiprocessing" else {}),
        )
        try:
            pids = [os.getpid()] + [p.pid for p in getattr(vec, "_processes", [])]
            PROCESSES[name] = len(pids) if getattr(vec, "inline", True) else len(pids) - 1
            actions = np.random.default_rng(0).integers(0, 2, vec.agents_per_batch)
            if vec.batch_size == vec.num_envs:
                vec.reset(0)
                step = vec.step
            else:  # async: each recv/send pair advances one batch while the other batches step
                vec.async_reset(0)
                vec.recv()

                def step(a: np.ndarray) -> None:
                    vec.send(a)
                    vec.recv()

            cpu = _cpu_seconds(pids)
            start = time.perf_counter()
            sps = _time_steps(step, actions, seconds)
            steps = sps * (time.perf_counter() - start)
            CPU_US.setdefault(name, []).append((_cpu_seconds(pids) - cpu) / steps * 1e6)
            return sps
        finally:
            vec.close()

    return run


def gymnasium_case(make_env, num_envs: int, asynchronous: bool):
    def run(seconds: float) -> float:
        fns = [make_env] * num_envs
        envs = gymnasium.vector.AsyncVectorEnv(fns) if asynchronous else gymnasium.vector.SyncVectorEnv(fns)
        try:
            envs.reset(seed=0)
            actions = np.random.default_rng(0).integers(0, 2, num_envs)
            return _time_steps(lambda a: envs.step(a), actions, seconds)
        finally:
            envs.close()

    return run


class _GymCheap(gymnasium.Env):
    """The cheap env as a plain gymnasium env, for gymnasium's vectorizers."""

    observation_space = spaces.Box(-1, 1, (4,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(4, np.float32), {}

    def step(self, action):
        self.t += 1
        done = self.t >= 200
        return np.array([self.t, 0, 0, 0], np.float32), 1.0, done, False, {}


def _make_gym_cartpole():
    return gymnasium.make("CartPole-v1")


def _count_cartpole_steps(seconds: float, barrier, counter) -> None:
    env = gymnasium.make("CartPole-v1")
    env.reset(seed=0)
    barrier.wait()  # every process starts its clock together
    steps, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for i in range(100):
            _, _, terminated, truncated, _ = env.step(i % 2)
            if terminated or truncated:
                env.reset()
        steps += 100
    counter.value = steps


def parallel_ceiling(seconds: float, processes: int = 2) -> float:
    """Total CartPole steps of ``processes`` plain processes at once over those of one process alone.

    The most any backend with that many stepping processes can gain here. On a VM whose vCPUs share
    physical cores (or a busy host), it is well below the process count.
    """
    ctx = multiprocessing.get_context("spawn")

    def run(n: int) -> int:
        barrier, counters = ctx.Barrier(n), [ctx.Value("q", 0) for _ in range(n)]
        procs = [ctx.Process(target=_count_cartpole_steps, args=(seconds, barrier, c)) for c in counters]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        return sum(c.value for c in counters)

    return run(processes) / max(run(1), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--start-method", default=None, help="multiprocessing start method (default: spawn)")
    parser.add_argument("--quick", action="store_true", help="0.5 s per measurement, 2 repeats")
    parser.add_argument("--only", choices=["cartpole", "cheap"], default=None)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats = 0.5, 2
    n = args.num_envs
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {n} envs, median of {args.repeats}")
    ceilings = [parallel_ceiling(max(args.seconds, 1.0)) for _ in range(args.repeats)]
    ceiling = statistics.median(ceilings)
    print(
        f"parallel ceiling: 2 processes stepping CartPole at once make {ceiling:.2f}x the steps of one "
        f"({' '.join(f'{c:.2f}' for c in ceilings)}): no 2-process backend can beat that here"
    )

    suites = {
        "cartpole": ("gym/CartPole-v1 (emulated)", "gym/CartPole-v1", _make_gym_cartpole),
        "cheap": ("cheap native env", Cheap, _GymCheap),
    }
    for key, (title, creator, gym_make) in suites.items():
        if args.only and key != args.only:
            continue
        cases: dict[str, Callable[[float], float]] = {
            "serial": puffer_case("serial", creator, n, "serial", None, None)
        }
        for w in args.workers:
            if n % w == 0:
                name = f"multiprocessing {w}w"
                cases[name] = puffer_case(name, creator, n, "multiprocessing", w, args.start_method)
        # Worker processes even where make() would step cheap envs in the caller: the hand-off's own cost.
        if n % 2 == 0:
            name = "mp 2w, processes forced"
            cases[name] = puffer_case(name, creator, n, "multiprocessing", 2, args.start_method, None, 2)
        if n % 2 == 0:  # the async API's own per-call cost: the baseline for the async row below
            name = "serial async batch/2"
            cases[name] = puffer_case(name, creator, n, "serial", None, None, n // 2)
        if n % 4 == 0:
            name = "mp 4w async batch/2"
            cases[name] = puffer_case(name, creator, n, "multiprocessing", 4, args.start_method, n // 2)
        cases["gymnasium Sync"] = gymnasium_case(gym_make, n, asynchronous=False)
        cases["gymnasium Async"] = gymnasium_case(gym_make, n, asynchronous=True)
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, case in cases.items():
                results[name].append(case(args.seconds))
        median = {name: statistics.median(values) for name, values in results.items()}
        print(f"\n{title}")
        print(
            f"  {'backend':<22}{'procs':>6}{'steps/s':>12}{'vs serial':>11}{'vs gym Async':>14}"
            f"{'CPU us/step':>13}   runs"
        )
        for name, sps in median.items():
            runs = " ".join(f"{v / 1000:.0f}k" for v in results[name])
            cpu = f"{statistics.median(CPU_US[name]):.1f}" if CPU_US.get(name) else "-"
            procs = str(PROCESSES.get(name, "-"))
            print(
                f"  {name:<22}{procs:>6}{sps:>12,.0f}{sps / median['serial']:>10.2f}x"
                f"{sps / median['gymnasium Async']:>13.2f}x{cpu:>13}   {runs}"
            )
        two = median.get("multiprocessing 2w")
        if two is not None and PROCESSES.get("multiprocessing 2w") == 2:
            share = two / median["serial"] / ceiling
            print(f"  multiprocessing 2w reaches {share:.0%} of the parallel ceiling")
        CPU_US.clear()
        PROCESSES.clear()


if __name__ == "__main__":
    main()
