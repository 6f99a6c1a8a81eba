"""Every ocean env: a briefly trained policy, exported and played by ocean_play, against `puffer eval`.

Trains each env of puffer-envs-ocean for a few thousand steps (a policy that acts, not a good one), exports it
with its runner, and plays the same episodes both ways with the same seed and greedy actions. Prints both
results per env; they should be the same steps and statistics (C prints 6 significant digits, eval 3-4).

    python puffer-trainer/benchmarks/export_parity.py [--episodes 20] [--steps 2048]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from puffer_envs_ocean.plugin import ENV_MODULES
from puffer_trainer import train
from puffer_trainer.evaluation import evaluate_checkpoint
from puffer_trainer.export import export_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2048, help="training steps per env")
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d')}: {args.episodes} episodes, greedy, seed 0; {args.steps} training steps"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in ENV_MODULES:
            env_id = f"ocean/{name}"
            result = train(
                env_id,
                total_timesteps=args.steps,
                run_dir=tmp,
                run_name=name,
                env={"num_envs": 8},
                train__horizon=16,
                train__batch_size=0,
                train__minibatch_size=0,
                log="plain",
                torch_threads=1,
                log_interval_s=0.0,
            )
            out = export_checkpoint(env_id, result.checkpoint, Path(tmp) / f"{name}-c")
            c = subprocess.run(
                [
                    *out.command[:2],
                    "--episodes",
                    str(args.episodes),
                    "--deterministic",
                    "--max-steps",
                    "5000",
                ],
                capture_output=True,
                text=True,
            )
            py = evaluate_checkpoint(
                env_id, result.checkpoint, episodes=args.episodes, deterministic=True, max_steps=5000
            )
            stats = ", ".join(f"{k} {v:.4g}" for k, v in sorted(py.stats.items()))
            print(f"C      {c.stdout.strip().splitlines()[0] if c.returncode == 0 else c.stderr.strip()}")
            print(f"python {env_id}: {py.episodes} episode(s) in {py.steps} steps: {stats}")


if __name__ == "__main__":
    main()
