"""Training SPS on the CPU: ours (`puffer train ocean/breakout --train.device cpu`) against the reference
(`pufferl train puffer_breakout --train.device cpu`), each with its own defaults, alternating in one run.

    python benchmarks/cpu_vs_reference.py [--seconds 90] [--repeats 2] [--reference-python PATH]

Each side trains for ``--seconds`` of wall clock per repeat, in turns (ours, reference, ours, ...), so both
see the same machine load. A side's SPS is its global step at the end over the training time, both read from
its own log: ours from ``benchmarks/train_sps.py``, the reference's from ``benchmarks/reference_train.py``
(the ``sps`` it reports, median of the second half of its log points; it logs once per epoch of 524k steps,
and stops at the first log point past ``--seconds``). The script prints each repeat, the medians and the
ratio ours / reference. The reference's Python defaults to ``/tmp/peer-venv/bin/python`` (what ``bash
../shared/peer/build_peer.sh`` builds); it runs from a scratch folder, because importing it creates a
``resources`` link in the working directory.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ours(seconds: float) -> float:
    out = subprocess.run(
        [sys.executable, str(HERE / "train_sps.py"), "ocean/breakout", "--device", "cpu", "--seconds",
         str(seconds), "--baseline-seconds", "0"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"train SPS ([\d,]+)", out)
    if match is None:
        raise RuntimeError(f"no 'train SPS' in our output:\n{out[-2000:]}")
    return float(match.group(1).replace(",", ""))


def reference(python: str, seconds: float) -> float:
    # Its defaults on the CPU, but its 8 env objects stepped in the training process (Serial), as ours are:
    # its multiprocessing backend refuses more workers than cores, and its workers busy-wait, which on 2
    # cores starves the learner.
    command = [
        python, str(HERE / "reference_train.py"), "puffer_breakout", "--max-seconds", str(seconds),
        "--train.device", "cpu", "--vec.backend", "Serial",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=scratch, timeout=seconds + 180)
            out = done.stdout
        except subprocess.TimeoutExpired as stopped:
            # It logs once per 524k-step epoch and has been seen to hang on exit after its last log: what it
            # printed until then is what counts.
            raw = stopped.stdout or b""
            out = raw.decode() if isinstance(raw, bytes) else raw
    rows = []
    for line in out.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and row.get("sps"):
            rows.append(float(row["sps"]))
    if not rows:
        raise RuntimeError(f"no SPS in the reference's output:\n{out[-2000:]}")
    return statistics.median(rows[len(rows) // 2 :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--reference-python", default="/tmp/peer-venv/bin/python")
    args = parser.parse_args()
    if not Path(args.reference_python).exists():
        sys.exit(f"the reference's Python {args.reference_python!r} does not exist: build it with "
                 "`bash ../shared/peer/build_peer.sh` or pass --reference-python")  # fmt: skip
    mine, theirs = [], []
    for i in range(args.repeats):
        mine.append(ours(args.seconds))
        print(f"repeat {i + 1}: ours {mine[-1]:,.0f} SPS", flush=True)
        theirs.append(reference(args.reference_python, args.seconds))
        print(f"repeat {i + 1}: ours {mine[-1]:,.0f} SPS, reference {theirs[-1]:,.0f} SPS", flush=True)
    a, b = statistics.median(mine), statistics.median(theirs)
    print(f"median: ours {a:,.0f} SPS, reference {b:,.0f} SPS; ratio {a / b:.2f}x")


if __name__ == "__main__":
    main()
