"""Ocean vs the reference (PufferLib 3.0 ocean): same games, side by side, measured in one run.

Run from an environment with ``puffer-envs-ocean`` installed::

    python benchmarks/fidelity.py [--reference-python /tmp/peer-venv/bin/python] [--envs breakout,pong]

The reference's Python comes from ``--reference-python``, else ``$VENV/bin/python``, else
``/tmp/peer-venv/bin/python`` (what ``bash ../shared/peer/build_peer.sh`` builds). Without it the script says
so and exits 2.

Per env (one file each in ``benchmarks/fidelity/<env>.py``, which says how to build both sides and holds a
scripted policy over the shared observation layout) it prints, for ours and for the reference:

* ``sps``: agent-steps per second of one env object with 1024 envs, random actions, pinned to one core, in a
  child process of its own. Ours and the reference alternate over ``--repeats`` rounds; each side's figure is
  its median, and the ratio is ours / reference.
* random and scripted policies: the mean of every logged metric over at least ``--episodes`` finished episodes
  (after a warm-up that lets the episode-length distribution settle), each with a 95% interval from the
  log batches (each log call returns the mean of the episodes finished since the last one, and the count).

Both sides run this very file as a worker (``--worker``), so they are measured by the same code. Nothing here
imports either package at module level: the reference's Python has no puffer, ours has no pufferlib.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SPEC_DIR = HERE / "fidelity"
SIDES = ("ours", "reference")


# ----------------------------------------------------------------------------------------------------------
# Worker: runs inside ours or the reference's Python.
# ----------------------------------------------------------------------------------------------------------
def load_spec(name: str) -> Any:
    path = SPEC_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fidelity_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_actions(env: Any, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    space = env.single_action_space
    if hasattr(space, "n"):  # Discrete
        high, shape = int(space.n), (env.num_agents,)
    else:  # MultiDiscrete
        high, shape = np.asarray(space.nvec), (env.num_agents, len(space.nvec))
    return [rng.integers(0, high, size=shape).astype(np.int32) for _ in range(count)]


def measure_sps(spec: Any, side: str, seconds: float, seed: int) -> float:
    env = spec.make(side, spec.SPS_NUM_ENVS, seed)
    env.reset(seed)
    pool = random_actions(env, 64, seed)
    for i in range(20):
        env.step(pool[i & 63])
    steps, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(16):
            env.step(pool[steps & 63])
            steps += 1
        now = time.perf_counter()
        if now >= deadline:
            break
    env.close()
    return steps * env.num_agents / (now - start)


def collect_logs(infos: Any, into: list[dict]) -> None:
    """Both sides return a list of dicts: the mean of the episodes finished since the last log, and ``n``."""
    for info in infos or []:
        if isinstance(info, dict) and info.get("n", 0) > 0:
            into.append({k: float(v) for k, v in info.items()})


def measure_policy(spec: Any, side: str, policy: str, episodes: int, seed: int, max_seconds: float) -> dict:
    env = spec.make(side, spec.POLICY_NUM_ENVS, seed)
    obs, _ = env.reset(seed)
    pool = random_actions(env, 256, seed + 1)
    act = (lambda i, o: pool[i & 255]) if policy == "random" else (lambda i, o: spec.scripted(o))
    logs: list[dict] = []
    # Warm-up: all envs start at step 0 together, so the first finished episodes are the short ones.
    warmup = getattr(spec, "WARMUP_STEPS", 0)
    step, start = 0, time.perf_counter()
    while step < warmup:
        obs = env.step(act(step, obs))[0]
        step += 1
    logs.clear()
    done = 0.0
    while done < episodes and time.perf_counter() - start < max_seconds:
        obs, _, _, _, infos = env.step(act(step, obs))
        step += 1
        before = len(logs)
        collect_logs(infos, logs)
        done += sum(entry["n"] for entry in logs[before:])
    env.close()
    return summarize(logs)


def summarize(logs: list[dict]) -> dict:
    """Weighted mean of each metric over log batches, with a 95% interval (ratio estimator over batches)."""
    total = sum(entry["n"] for entry in logs)
    out: dict[str, Any] = {"episodes": total, "batches": len(logs)}
    if total == 0:
        return out
    keys = sorted({k for entry in logs for k in entry if k != "n"})
    for key in keys:
        rows = [(entry["n"], entry[key]) for entry in logs if key in entry]
        n_sum = sum(n for n, _ in rows)
        mean = sum(n * x for n, x in rows) / n_sum
        var = sum((n * (x - mean)) ** 2 for n, x in rows) / n_sum**2
        out[key] = (mean, 1.96 * math.sqrt(var * len(rows) / max(len(rows) - 1, 1)))
    return out


def worker(args: argparse.Namespace) -> None:
    if args.core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    spec = load_spec(args.env)
    if args.what == "sps":
        result: Any = measure_sps(spec, args.worker, args.seconds, args.seed)
    else:
        result = measure_policy(spec, args.worker, args.what, args.episodes, args.seed, args.max_seconds)
    print("RESULT " + json.dumps(result))


# ----------------------------------------------------------------------------------------------------------
# Driver: runs in ours, launches workers of both sides.
# ----------------------------------------------------------------------------------------------------------
def run_worker(python: str, side: str, env: str, what: str, args: argparse.Namespace) -> Any:
    command = [
        python, str(Path(__file__).resolve()), "--worker", side, "--env", env, "--what", what,
        "--seconds", str(args.seconds), "--episodes", str(args.episodes), "--seed", str(args.seed),
        "--max-seconds", str(args.max_seconds), "--core", str(args.core),
    ]
    # The reference's numpy/torch must not see our site-packages and vice versa.
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(command, capture_output=True, text=True, env=environ, cwd="/tmp")
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(
        f"{side} worker for {env}/{what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    )


def fmt_sps(value: float) -> str:
    return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{value / 1e3:.1f}k"


def fmt_stat(stat: Any) -> str:
    if stat is None:
        return "-"
    mean, half = stat
    digits = 3 if abs(mean) < 10 else 1
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def agree(a: Any, b: Any) -> str:
    """'ok' when the 95% intervals overlap or the means are within 5% of each other."""
    if a is None or b is None:
        return "-"
    (ma, ha), (mb, hb) = a, b
    if abs(ma - mb) <= ha + hb or abs(ma - mb) <= 0.05 * max(abs(ma), abs(mb)):
        return "ok"
    return "DIFFERS"


def find_reference_python(given: str | None) -> str | None:
    candidates = [given] if given else []
    if os.environ.get("VENV"):
        candidates.append(os.path.join(os.environ["VENV"], "bin", "python"))
    candidates.append("/tmp/peer-venv/bin/python")
    for candidate in candidates:
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def driver(args: argparse.Namespace) -> None:
    reference = find_reference_python(args.reference_python)
    if reference is None:
        sys.exit(
            "fidelity.py needs the reference (PufferLib 3.0) built: run `bash ../shared/peer/build_peer.sh` "
            "and pass --reference-python PATH (or set VENV)"
        )
    pythons = {"ours": sys.executable, "reference": reference}
    names = [n for n in args.envs.split(",") if n]
    available = sorted(p.stem for p in SPEC_DIR.glob("*.py"))
    unknown = sorted(set(names) - set(available))
    if unknown:
        sys.exit(f"unknown env(s) {unknown}; benchmarks/fidelity/ has {available}")
    print(
        f"# fidelity: ours ({sys.executable}) vs reference ({reference}); "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, sps pinned to core {args.core}"
    )
    results: dict[str, Any] = {}
    for name in names:
        spec = load_spec(name)
        row: dict[str, Any] = {"sps": {side: [] for side in SIDES}}
        for _ in range(args.repeats):  # alternate the sides so a noisy neighbour hits both alike
            for side in SIDES:
                row["sps"][side].append(run_worker(pythons[side], side, name, "sps", args))
        sps = {side: statistics.median(row["sps"][side]) for side in SIDES}
        ratio = sps["ours"] / sps["reference"]
        print(f"\n## {name}: {spec.__doc__.strip().splitlines()[0]}")
        print(
            f"sps (1 core, {spec.SPS_NUM_ENVS} envs/call, median of {args.repeats}): "
            f"ours {fmt_sps(sps['ours'])}, reference {fmt_sps(sps['reference'])}, ratio {ratio:.2f}x "
            f"({'ok' if ratio >= 1.2 else 'BELOW'} 1.2x target)"
        )
        row["sps_median"], row["sps_ratio"] = sps, ratio
        policies = ["random"] + (["scripted"] if hasattr(spec, "scripted") else [])
        for policy in policies:
            stats = {side: run_worker(pythons[side], side, name, policy, args) for side in SIDES}
            row[policy] = stats
            print(f"{policy:>8} policy: episodes ours {stats['ours']['episodes']:.0f}, "
                  f"reference {stats['reference']['episodes']:.0f}")
            for label, (ours_key, ref_key) in spec.METRICS.items():
                a, b = stats["ours"].get(ours_key), stats["reference"].get(ref_key)
                print(f"    {label:<16} ours {fmt_stat(a):>18}   reference {fmt_stat(b):>18}   {agree(a, b)}")
        results[name] = row
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", help="the reference's Python (default: $VENV/bin/python)")
    parser.add_argument("--envs", default=",".join(sorted(p.stem for p in SPEC_DIR.glob("*.py"))))
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one sps window")
    parser.add_argument("--repeats", type=int, default=3, help="sps windows per side, alternating")
    parser.add_argument("--episodes", type=int, default=4000, help="finished episodes per policy and side")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="cap on one policy measurement")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--core", type=int, default=0, help="the core the workers are pinned to")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--what", choices=("sps", "random", "scripted"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
