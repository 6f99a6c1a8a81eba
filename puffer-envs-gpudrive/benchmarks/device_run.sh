#!/usr/bin/env bash
# puffer-envs-gpudrive on one GPU: (1) the package's tests with CUDA (CPU/CUDA agreement, the trainer's CUDA
# tensor path), (2) simulator agent steps/s at WORLDS x AGENTS against a CPU baseline, (3) PPO trained for
# TRAIN_S seconds: end-to-end training speed, the goal rate on held-out synthetic scenarios, a GIF.
#
# Run from the repository root, carrying .whl (py3.12 wheels, see below):
#   OUT=/tmp/out TRAIN_S=200 bash puffer-envs-gpudrive/benchmarks/device_run.sh
# About 1 min of tests + 0.5-1 min of simulator benchmark + TRAIN_S + ~1 min (setup, held-out eval, GIF):
# about 6 min with TRAIN_S=200; the steps' timeouts (120 + 120 + TRAIN_S + 150 s) stay under 10 min.
# Wheels (made once on the dev box):
#   pip download --python-version 3.12 --only-binary=:all: -d .whl gymnasium cloudpickle farama-notifications \
#     typing_extensions cffi pycparser pillow hatchling pathspec trove-classifiers packaging rich \
#     markdown-it-py mdurl pygments matplotlib contourpy cycler fonttools kiwisolver pyparsing \
#     python-dateutil six
set -u
export PYTHONUNBUFFERED=1
OUTDIR=${OUT:-/tmp/drive-out}
mkdir -p "$OUTDIR"
ROOT=$PWD
DEVICE=${DEVICE:-cuda}
if [ -z "${SKIP_INSTALL:-}" ]; then  # SKIP_INSTALL=1: everything is installed already (a CPU dry run)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$ROOT/puffer-core/src:$ROOT/puffer-trainer/src
  # Installed (not only on the path): the puffer.envs entry point registers the drive/... ids.
  python3 -m pip install -q --no-build-isolation --no-deps ./puffer-kernels ./puffer-envs-gpudrive || exit 1
fi
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
date -u

echo "== 1. tests (CUDA included)"
( cd /tmp && timeout 120 python3 -m pytest -q -p no:cacheprovider -rs "$ROOT/puffer-envs-gpudrive/tests" \
  2>&1 | tail -15 ) | tee "$OUTDIR/tests.txt"

echo "== 2. simulator alone"
timeout 120 python3 puffer-envs-gpudrive/benchmarks/sim_speed.py --device "$DEVICE" --worlds "${WORLDS:-1024}" \
  --agents "${AGENTS:-64}" --steps "${SIM_STEPS:-100}" --baseline-worlds "${BASE_WORLDS:-16}" 2>&1 | tee "$OUTDIR/sim_speed.txt"

echo "== 3. training for ${TRAIN_S:-200} s, then held-out scenarios"
timeout $(( ${TRAIN_S:-200} + 150 )) python3 puffer-envs-gpudrive/benchmarks/train_drive.py --device "$DEVICE" \
  --seconds "${TRAIN_S:-200}" --worlds "${TRAIN_WORLDS:-2048}" --agents "${TRAIN_AGENTS:-16}" \
  --scenarios "${TRAIN_SCENARIOS:-1024}" --eval-worlds "${EVAL_WORLDS:-512}" --out "$OUTDIR" \
  2>&1 | tee "$OUTDIR/train_drive.txt" | grep -v '^curve' ; grep '^curve' "$OUTDIR/train_drive.txt" | tail -25
date -u
