#!/usr/bin/env bash
# One device call for the trainer on ocean/breakout (~7-9 minutes):
#   1. installs ours (and, in the background, the reference from .peer), runs the CUDA tests;
#   2. time to perf 0.95, one after the other on GPU 0: the reference (`pufferl train puffer_breakout`, its
#      defaults) and ours as typed (`time_to_target.py ocean/breakout`: the registered GPU config);
#   3. the optimizer benchmark (benchmarks/optimizer_step.py);
#   4. on a 2-GPU machine, ours on both GPUs under torchrun;
#   5. the epoch grid (device_epoch_grid.sh: epoch time of the registered config and of variants).
# Run from the repository root carrying .whl (cffi, pycparser, gymnasium, farama-notifications, cloudpickle)
# and .peer (bash ../shared/peer/build_peer.sh bundle .peer). Everything goes to $OUT (default /tmp/session).
# Knobs: STEPS ("tests target optimizer two_gpu grid"), RANK_OVERRIDES, REF_MAX_S (150), OURS_CAP_S (120).
set -u
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
R=$PWD
OUTDIR=${OUT:-/tmp/session}
STEPS=${STEPS:-tests target optimizer two_gpu grid}
has() { case " $STEPS " in *" $1 "*) return 0;; esac; return 1; }
mkdir -p "$OUTDIR"
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-build-isolation --no-deps --target /tmp/site ./puffer-kernels ./puffer-envs-ocean || exit 1
export PYTHONPATH=/tmp/site:$R/puffer-core/src:$R/puffer-trainer/src
nvidia-smi --query-gpu=name --format=csv,noheader | head -1; nproc
stamp "installed"
if has target && [ -d .peer ]; then
  (PEER_CUDA=1 bash .peer/build_peer.sh install-bundle .peer > "$OUTDIR/peer_install.txt" 2>&1; echo $? > "$OUTDIR/peer_rc") &
  PEER_PID=$!
fi
if has tests; then
  tests=$(ls puffer-trainer/tests/test_cuda.py puffer-trainer/tests/test_optim*.py puffer-trainer/tests/test_muon*.py 2>/dev/null)
  timeout 200 python3 -m pytest -q -p no:cacheprovider $tests 2>&1 | tail -5 | tee "$OUTDIR/tests.txt"
  stamp "tests done"
fi
[ -n "${PEER_PID:-}" ] && { wait "$PEER_PID"; stamp "reference installed: rc $(cat "$OUTDIR/peer_rc")"; tail -2 "$OUTDIR/peer_install.txt"; }
if has target; then
  if [ "$(cat "$OUTDIR/peer_rc" 2>/dev/null)" = 0 ]; then
    stamp "the reference alone on GPU 0"
    (cd /tmp && CUDA_VISIBLE_DEVICES=0 PYTHONPATH=/tmp/peer-venv timeout $(( ${REF_MAX_S:-150} + 40 )) \
      python3 "$R/puffer-trainer/benchmarks/reference_train.py" puffer_breakout --max-seconds "${REF_MAX_S:-150}" \
      --stop-at-target > "$OUTDIR/ref.jsonl" 2>&1)
    grep -E '"reached"|stopped' "$OUTDIR/ref.jsonl"; tail -2 "$OUTDIR/ref.jsonl" | cut -c1-200
  fi
  stamp "ours as typed alone on GPU 0"
  CUDA_VISIBLE_DEVICES=0 timeout $(( ${OURS_CAP_S:-120} + 60 )) python3 puffer-trainer/benchmarks/time_to_target.py \
    ocean/breakout --label ours --cap-s "${OURS_CAP_S:-120}" --log "$OUTDIR/ours.log" --run.log-interval-s 1 \
    --run.checkpoint-interval 0 --run.stop-at-target true --run.run-dir /tmp/session_runs | tee "$OUTDIR/ours.txt"
  if ! grep -q '^RESULT' "$OUTDIR/ours.txt"; then  # it failed: show why, and measure without CUDA graphs
    tail -15 "$OUTDIR/ours.log"
    stamp "ours without CUDA graphs"
    CUDA_VISIBLE_DEVICES=0 timeout $(( ${OURS_CAP_S:-120} + 60 )) python3 puffer-trainer/benchmarks/time_to_target.py \
      ocean/breakout --label ours_no_graphs --cap-s "${OURS_CAP_S:-120}" --log "$OUTDIR/ours_no_graphs.log" \
      --run.log-interval-s 1 --run.checkpoint-interval 0 --run.stop-at-target true --run.run-dir /tmp/session_runs \
      --train.cuda-graphs false | tee "$OUTDIR/ours_no_graphs.txt"
  fi
fi
if has optimizer && [ -f puffer-trainer/benchmarks/optimizer_step.py ]; then
  CUDA_VISIBLE_DEVICES=0 timeout 90 python3 puffer-trainer/benchmarks/optimizer_step.py --device cuda 2>&1 | tail -8 \
    | tee "$OUTDIR/optimizer_step.txt"
fi
if has two_gpu && [ "$(nvidia-smi -L | grep -c ^GPU)" -ge 2 ]; then
  # Both GPUs under torchrun: the one-GPU batch split over two ranks (4 env objects x 1024 agents each, half
  # the minibatch per rank), so the samples per update and the optimizer steps per sample stay those of one GPU.
  stamp "ours on both GPUs (torchrun)"
  timeout $(( ${OURS_CAP_S:-120} + 60 )) torchrun --nproc-per-node 2 -m puffer_trainer train ocean/breakout \
    --run.log plain --run.run-dir /tmp/session_runs2 --run.stop-at-target true --run.log-interval-s 1 \
    ${RANK_OVERRIDES:---vec.num-env-objects 4 --train.minibatch-size 16384} > "$OUTDIR/ours_2gpu.txt" 2>&1
  grep -iE "reached|target|error" "$OUTDIR/ours_2gpu.txt" | head -5; tail -3 "$OUTDIR/ours_2gpu.txt"
fi
if has grid; then
  SKIP_INSTALL=1 OUT="$OUTDIR" timeout 240 bash puffer-trainer/benchmarks/device_epoch_grid.sh
  stamp "grid done"
fi
stamp "done"
