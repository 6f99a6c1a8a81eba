"""Train an env with the reference trainer (PufferLib 3.0) and print its learning curve as JSON lines.

Run with the reference's Python, never ours (it imports only ``pufferlib``)::

    PYTHONPATH=/tmp/peer-venv python3 puffer-trainer/benchmarks/reference_train.py puffer_breakout \\
        [--target-perf 0.95] [--max-seconds 300] [--train.device cuda ...]

Every log point of the reference becomes one line ``{"step", "seconds", "sps", "perf", "score"}``; the
first time ``environment/perf`` reaches ``--target-perf`` a line ``{"reached": ...}`` follows (seconds are
wall-clock from the start of training, the reference's own ``uptime``). Its rich dashboard is switched off;
nothing else of its defaults is changed (extra ``--section.key value`` arguments go to its own parser).
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", help="the reference's env name, e.g. puffer_breakout")
    parser.add_argument("--target-perf", type=float, default=0.95)
    parser.add_argument("--max-seconds", type=float, default=0.0, help="stop after this long (0: its total)")
    parser.add_argument("--stop-at-target", action="store_true", help="stop once --target-perf is reached")
    args, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0], *rest]  # the reference parses sys.argv itself

    from pufferlib import pufferl

    config = pufferl.load_config(args.env)
    start = time.perf_counter()
    reached: dict | None = None

    class CurveLogger:
        run_id = str(int(time.time()))

        def log(self, logs: dict, step: int) -> None:
            nonlocal reached
            perf = logs.get("environment/perf")
            row = {
                "step": int(step),
                "seconds": round(float(logs.get("uptime", time.perf_counter() - start)), 2),
                "sps": round(float(logs.get("SPS", 0.0))),
                "perf": None if perf is None else round(float(perf), 4),
                "score": None if logs.get("environment/score") is None else float(logs["environment/score"]),
            }
            print(json.dumps(row), flush=True)
            if reached is None and perf is not None and perf >= args.target_perf:
                reached = {"reached": args.target_perf, "step": row["step"], "seconds": row["seconds"]}
                print(json.dumps(reached), flush=True)
                if args.stop_at_target:
                    raise TimeoutError
            if args.max_seconds and time.perf_counter() - start > args.max_seconds:
                raise TimeoutError

        def close(self, model_path: str) -> None:
            pass

    pufferl.PuffeRL.print_dashboard = lambda self, *a, **k: None  # no terminal UI in a log
    try:
        pufferl.train(args.env, args=config, logger=CurveLogger())
    except TimeoutError:
        print(json.dumps({"stopped": "target" if reached else "max-seconds"}), flush=True)
    if reached is None:
        print(json.dumps({"reached": None, "target": args.target_perf}), flush=True)


if __name__ == "__main__":
    main()
