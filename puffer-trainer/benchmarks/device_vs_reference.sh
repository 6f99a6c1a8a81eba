#!/usr/bin/env bash
# ocean/breakout, ours against the reference (PufferLib 3.0) in one device session, on a 2-GPU machine:
#   1. the reference (`pufferl train puffer_breakout`, its defaults) on GPU 0 and ours (`puffer train
#      ocean/breakout` as typed: train.device auto picks the GPU and the registered cuda config) on GPU 1, at
#      the same time;
#   2. ours on both GPUs under torchrun (NCCL), after both have finished.
# Run from the repository root with .peer (bash ../shared/peer/build_peer.sh bundle .peer) and .whl (cffi,
# pycparser) carried. Everything goes to $OUT (default /tmp/vs): ref.jsonl, ours_1gpu.txt, ours_2gpu.txt.
# RANK_OVERRIDES: extra overrides for the 2-GPU run (default: half the minibatch per rank, so the global
# minibatch and the optimizer steps per sample stay those of one GPU).
set -u
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
R=$PWD
OUTDIR=${OUT:-/tmp/vs}
mkdir -p "$OUTDIR"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$R/puffer-core/src:$R/puffer-trainer/src
python3 -m pip install -q --no-build-isolation --no-deps --target /tmp/site ./puffer-kernels ./puffer-envs-ocean || exit 1
(
  PEER_CUDA=1 bash .peer/build_peer.sh install-bundle .peer > "$OUTDIR/peer_install.txt" 2>&1 || exit 1
  cd /tmp && CUDA_VISIBLE_DEVICES=0 PYTHONPATH=/tmp/peer-venv timeout ${REF_LIMIT_S:-240} \
    python3 "$R/puffer-trainer/benchmarks/reference_train.py" puffer_breakout --max-seconds ${REF_MAX_S:-200} --stop-at-target \
    > "$OUTDIR/ref.jsonl" 2>&1
) &
CUDA_VISIBLE_DEVICES=1 timeout ${OURS_LIMIT_S:-240} python3 -m puffer_trainer train ocean/breakout \
  --run.log plain --run.run-dir /tmp/runs --run.stop-at-target true ${OVERRIDES:-} > "$OUTDIR/ours_1gpu.txt" 2>&1
wait
if [ "${TWO_GPU:-1}" = 1 ]; then
  timeout ${OURS_LIMIT_S:-240} torchrun --nproc-per-node 2 -m puffer_trainer train ocean/breakout \
    --run.log plain --run.run-dir /tmp/runs2 --run.stop-at-target true \
    ${RANK_OVERRIDES:---train.minibatch-size 16384} > "$OUTDIR/ours_2gpu.txt" 2>&1
fi
echo "== reference"; grep -E '"reached"|stopped' "$OUTDIR/ref.jsonl"; tail -2 "$OUTDIR/ref.jsonl"
for f in ours_1gpu ours_2gpu; do
  [ -f "$OUTDIR/$f.txt" ] || continue
  echo "== $f"; head -4 "$OUTDIR/$f.txt"; tail -12 "$OUTDIR/$f.txt"
done
