#!/usr/bin/env bash
# One device call on a 2-GPU machine: ocean/breakout to perf 0.95 on one GPU as typed, then under torchrun on
# both GPUs with each line of a variants file, then on one GPU again (about 4-5 minutes for 4 variants).
#
# Run from the repository root carrying .whl (cffi, pycparser, gymnasium, farama-notifications, cloudpickle):
#   bash puffer-trainer/benchmarks/device_two_gpu.sh [VARIANTS_FILE]   # default benchmarks/two_gpu_variants.txt
# A variants line is a name and the trainer overrides of that run ("#" starts a comment). Every run prints the
# trainer's own clock to the target ("reached the target ... after Ns", from the start of training): compare
# those. A torchrun run also prints its wall clock from launch (torchrun, NCCL and env workers included);
# time_to_target.py's one-GPU clock starts after its imports and device warm-up, so neither of those two is
# the other's equal. Logs go to $OUT (default /tmp/two_gpu).
# Knobs: CAP (seconds of training per run, 55), ONE=0 skips the one-GPU runs.
set -u
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
R=$PWD
OUTDIR=${OUT:-/tmp/two_gpu}
VARIANTS=${1:-$R/puffer-trainer/benchmarks/two_gpu_variants.txt}
CAP=${CAP:-55}
mkdir -p "$OUTDIR"
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-build-isolation --no-deps --upgrade --target /tmp/site ./puffer-kernels ./puffer-envs-ocean \
  || exit 1
export PYTHONPATH=/tmp/site:$R/puffer-core/src:$R/puffer-trainer/src
stamp "installed"

one_gpu() {
  CUDA_VISIBLE_DEVICES=0 timeout $(( CAP + 60 )) python3 puffer-trainer/benchmarks/time_to_target.py ocean/breakout \
    --label "one_gpu_$1" --cap-s "$CAP" --log "$OUTDIR/one_gpu_$1.log" --run.log-interval-s 1 \
    --run.checkpoint-interval 0 --run.stop-at-target true --run.run-dir /tmp/two_gpu_runs | grep RESULT | cut -c1-200
  grep -h 'reached the target' "$OUTDIR/one_gpu_$1.log" | head -1
}

two_gpus() {
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  timeout --signal=INT $(( CAP + 30 )) torchrun --nproc-per-node 2 -m puffer_trainer train ocean/breakout \
    --run.log plain --run.run-dir /tmp/two_gpu_runs --run.stop-at-target true --run.log-interval-s 1 \
    --run.checkpoint-interval 0 "$@" > "$OUTDIR/$name.txt" 2>&1
  end=$(date +%s.%N)
  echo "== $name: wall $(python3 -c "print(round($end - $start, 1))") s from launch |" \
    "$(grep -h 'reached the target' "$OUTDIR/$name.txt" | head -1 | cut -c10-) |" \
    "$(grep -h 'done:' "$OUTDIR/$name.txt" | head -1 | cut -c10-)"
}

[ "${ONE:-1}" = 1 ] && { one_gpu first; stamp "one GPU"; }
while read -r name args; do
  case "$name" in ""|\#*) continue ;; esac
  # shellcheck disable=SC2086  # the overrides are words
  two_gpus "$name" $args
  stamp "$name"
done < "$VARIANTS"
[ "${ONE:-1}" = 1 ] && { one_gpu again; stamp "one GPU again"; }
