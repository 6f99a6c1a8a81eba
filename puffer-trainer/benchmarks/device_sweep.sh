#!/usr/bin/env bash
# Cost-aware hyperparameter sweep of ocean/breakout on one GPU machine (`puffer sweep`, optuna), then the
# registered default config and the sweep's best config each trained alone: wall-clock time to perf 0.95
# (training score 820.8 of 864) of both, and the sweep's Pareto front as a PNG.
#
# Run from the repository root, with .whl/ holding the py3.12 wheels below:
#   BUDGET_S=900 bash puffer-trainer/benchmarks/device_sweep.sh
# Wheels: the device has no optuna (its image has matplotlib, rich, numpy, PyYAML, tqdm, MarkupSafe,
# typing-extensions, packaging); from the repository root of a machine with the registry:
#   pip download --python-version 3.12 --only-binary=:all: --platform manylinux2014_x86_64 \
#     --platform manylinux_2_17_x86_64 --no-deps -d .whl optuna==5.0.0 sqlalchemy==2.1.9 alembic==1.20.1 \
#     mako==1.4.3 colorlog==6.12.0 cffi pycparser
#
# Phases, one after the other (setup, a minute or two of pip builds, comes on top of BUDGET_S):
#   1. the registered default alone: `time_to_target.py`, --env.num-envs 8192, capped at SOLO_S seconds;
#   2. WORKERS `puffer sweep` processes on one SQLite study (benchmarks/sweeps/breakout.toml), each run capped
#      at CAP_S seconds, no new run after SWEEP_S = BUDGET_S - 2 SOLO_S - CAP_S - 60 seconds; then a report;
#   3. the sweep's best config (best.toml: the cheapest run on the Pareto front whose evaluation reached
#      820.8, else the best score) alone, the same way as the default.
# Knobs: BUDGET_S (900), WORKERS (4), CAP_S (100), SOLO_S (BUDGET_S/5, at most 240), SWEEP_S (as above),
# DEVICE (cuda), GPUS (the GPUs nvidia-smi lists: worker i runs on GPU (i-1) mod GPUS, the solo runs on GPU 0),
# EXTRA (overrides for every run, e.g. for a CPU try: DEVICE=cpu EXTRA="--env.num-envs 256"), PYTHON,
# SKIP_INSTALL=1 (use the packages already installed). Writes everything worth keeping under $OUT.
# PHASES ("default sweep best") runs a subset, or "final" instead of default and best: both side by side,
# the default on GPU 0 and the best on GPU 1, after the sweep. a device call is at most 10 minutes, so a 15-minute budget is
# two calls on one warm machine, e.g. PHASES="default sweep" SWEEP_S=170 then
# PHASES="sweep best" SKIP_INSTALL=1 SWEEP_S=330: the second call's workers resume the study in $WORK (only
# "default" starts a fresh one); RESUME_DB=FILE restores study.db first if the machine was lost in between.
set -u
export PYTHONUNBUFFERED=1
OUTDIR=${OUT:-/tmp/device_sweep_out}
WORK=${WORK:-/tmp/device_sweep_work}
BUDGET_S=${BUDGET_S:-900}
WORKERS=${WORKERS:-4}
CAP_S=${CAP_S:-100}
SOLO_S=${SOLO_S:-$(( BUDGET_S / 5 < 240 ? BUDGET_S / 5 : 240 ))}
SWEEP_S=${SWEEP_S:-$(( BUDGET_S - 2 * SOLO_S - CAP_S - 60 ))}
PHASES=${PHASES:-default sweep best}
DEVICE=${DEVICE:-cuda}
GPUS=${GPUS:-$(nvidia-smi -L 2>/dev/null | grep -c ^GPU)}
[ "$GPUS" -ge 1 ] 2>/dev/null || GPUS=1
EXTRA=${EXTRA:-}
PY=${PYTHON:-python3}
if [ "$SWEEP_S" -lt "$CAP_S" ]; then
  echo "BUDGET_S=$BUDGET_S leaves $SWEEP_S s for the sweep, less than one run (CAP_S=$CAP_S): raise BUDGET_S," \
       "or lower SOLO_S/CAP_S" >&2
  exit 2
fi
has() { case " $PHASES " in *" $1 "*) return 0;; esac; return 1; }
mkdir -p "$OUTDIR" "$WORK"
rm -rf "$WORK/solo"
if has default; then rm -rf "$WORK/sweep"; fi
if [ -n "${RESUME_DB:-}" ] && [ ! -f "$WORK/sweep/study.db" ]; then
  mkdir -p "$WORK/sweep" && cp "$RESUME_DB" "$WORK/sweep/study.db" && echo "study restored from $RESUME_DB"
fi
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

if [ -z "${SKIP_INSTALL:-}" ]; then
  export PYTHONPATH=/tmp/site:$PWD/puffer-core/src:$PWD/puffer-trainer/src
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  $PY -m pip install -q --no-build-isolation --no-deps ./puffer-kernels ./puffer-envs-ocean || exit 1
fi
$PY -c "import optuna, sqlalchemy, puffer_trainer.sweep; print('optuna', optuna.__version__, 'sqlalchemy', sqlalchemy.__version__)" || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1
stamp "phases: $PHASES; default ${SOLO_S}s, sweep ${SWEEP_S}s with $WORKERS workers on $GPUS GPU(s) (runs capped at ${CAP_S}s), best ${SOLO_S}s"

# Both solo runs: the same layout as the README's GPU figure, torch threads chosen by the trainer, 1 s log
# interval (the time to target is read from it), no periodic checkpoints.
SOLO="--train.device $DEVICE --env.num-envs 8192 --train.torch-threads 0 --run.log-interval-s 1 --run.checkpoint-interval 0 --run.run-dir $WORK/solo"
B=puffer-trainer/benchmarks/time_to_target.py

if has default; then
stamp "== 1. the registered default alone"
CUDA_VISIBLE_DEVICES=0 timeout $(( SOLO_S + 120 )) $PY $B ocean/breakout --label default --cap-s "$SOLO_S" --log "$OUTDIR/default.log" \
  $SOLO $EXTRA | tee "$OUTDIR/default.txt"
cp "$OUTDIR/default.txt" "$WORK/"  # for the summary of a later call
fi

if has sweep; then
stamp "== 2. the sweep: $WORKERS workers"
SWEEP="$PY -m puffer_trainer sweep ocean/breakout --config puffer-trainer/benchmarks/sweeps/breakout.toml
 --train.device $DEVICE --sweep.dir $WORK/sweep --sweep.max-runs 1000 --sweep.max-cost-s $CAP_S"
for i in $(seq 1 "$WORKERS"); do
  # A hard limit well past the soft one: SIGTERM stops a run cleanly and queues it again in the study.
  CUDA_VISIBLE_DEVICES=$(( (i - 1) % GPUS )) timeout $(( SWEEP_S + CAP_S + 180 )) $SWEEP --sweep.max-time-s "$SWEEP_S" $EXTRA > "$OUTDIR/sweep_worker$i.txt" 2>&1 &
  sleep 3  # the first worker creates the study and takes its first run, the registered config
done
tail -n +1 -f "$OUTDIR/sweep_worker1.txt" --pid "$!" 2>/dev/null | grep --line-buffered "^\[trial" &
wait
stamp "== sweep report (all workers)"
$SWEEP --report $EXTRA 2>&1 | tee "$OUTDIR/sweep_report.txt" | grep -v "^  train\.\|^  policy\." | tail -40
for f in pareto.png best.toml trials.csv study.db; do cp "$WORK/sweep/$f" "$OUTDIR/" 2>/dev/null; done
mkdir -p "$OUTDIR/logs" && cp "$WORK"/sweep/logs/*.log "$OUTDIR/logs/" 2>/dev/null
fi

if has final && [ -f "$WORK/sweep/best.toml" ]; then
# Both configs at once, side by side on two GPUs: the same machine state for both figures.
stamp "== 3. the registered default (GPU 0) and the sweep's best config (GPU $(( GPUS > 1 ? 1 : 0 ))) side by side"
CUDA_VISIBLE_DEVICES=0 timeout $(( SOLO_S + 120 )) $PY $B ocean/breakout --label default --cap-s "$SOLO_S" \
  --log "$OUTDIR/default.log" $SOLO-default $EXTRA > "$OUTDIR/default.txt" &
CUDA_VISIBLE_DEVICES=$(( GPUS > 1 ? 1 : 0 )) timeout $(( SOLO_S + 120 )) $PY $B ocean/breakout \
  --config "$WORK/sweep/best.toml" --label best --cap-s "$SOLO_S" --log "$OUTDIR/best.log" $SOLO-best $EXTRA \
  > "$OUTDIR/best.txt" &
wait
cat "$OUTDIR/default.txt" "$OUTDIR/best.txt"
fi

if has best; then
stamp "== 3. the sweep's best config alone"
if [ -f "$WORK/sweep/best.toml" ]; then
  CUDA_VISIBLE_DEVICES=0 timeout $(( SOLO_S + 120 )) $PY $B ocean/breakout --config "$WORK/sweep/best.toml" --label best --cap-s "$SOLO_S" \
    --log "$OUTDIR/best.log" $SOLO $EXTRA | tee "$OUTDIR/best.txt"
else
  echo "no run of the sweep finished: no best config"
fi
fi

stamp "== summary"
[ -f "$OUTDIR/default.txt" ] || cp "$WORK/default.txt" "$OUTDIR/" 2>/dev/null
$PY - "$OUTDIR" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
results = {}
for label in ("default", "best"):
    path = out / f"{label}.txt"
    lines = [l for l in path.read_text().splitlines() if l.startswith("RESULT ")] if path.exists() else []
    results[label] = json.loads(lines[-1][7:]) if lines else None
for label, r in results.items():
    if r is None:
        print(f"{label}: no result")
    elif r["reached_s"] is not None:
        print(f"{label}: perf 0.95 (score {r['target']:g}) after {r['reached_s']:.1f}s ({r['steps']:,} steps in "
              f"{r['elapsed_s']:.0f}s)")
    else:
        final = "none" if r["final_score"] is None else f"{r['final_score']:.1f}"
        print(f"{label}: perf 0.95 not reached in {r['elapsed_s']:.0f}s ({r['steps']:,} steps; final training score "
              f"{final})")
d, b = results["default"], results["best"]
if d and b and b["reached_s"] is not None:
    if d["reached_s"] is not None:
        print(f"time to perf 0.95: default {d['reached_s']:.1f}s, best {b['reached_s']:.1f}s: "
              f"{d['reached_s'] / b['reached_s']:.2f}x sooner")
    else:
        print(f"time to perf 0.95: best {b['reached_s']:.1f}s; the default did not reach it in {d['elapsed_s']:.0f}s "
              f"(at least {d['elapsed_s'] / b['reached_s']:.2f}x sooner)")
print(f"Pareto front: {out / 'pareto.png'}; best config: {out / 'best.toml'}")
EOF
stamp "done"
