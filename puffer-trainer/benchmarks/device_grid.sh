#!/usr/bin/env bash
# Hand-written grid of ocean/breakout configs on one GPU machine (was device_sweep.sh; the optuna sweep is
# device_sweep.sh now): several configs train at once (one process each,
# serial vector env with 8192 agents, one torch thread), each for the same number of steps, so their learning
# curves (score against steps) compare even though sharing the GPU slows each one down.
# Run from the repository root: SWEEP=sweep3 STEPS=90000000 TARGET=820.8 bash puffer-trainer/benchmarks/device_grid.sh
# Configs are read from puffer-trainer/benchmarks/sweeps/$SWEEP.txt: one "name overrides..." line each.
set -u
export PYTHONUNBUFFERED=1
OUTDIR=${OUT:-/tmp/sweep}
mkdir -p "$OUTDIR"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/puffer-core/src:$PWD/puffer-trainer/src
python3 -m pip install -q --no-build-isolation --no-deps ./puffer-kernels ./puffer-envs-ocean || exit 1
B=puffer-trainer/benchmarks/train_sps.py
BASE="--train.device cuda --env.num_envs 8192 --vec.backend serial --vec.num-env-objects 1 --train.torch-threads 1
 --train.total-timesteps ${STEPS:-50000000}"
if [ -n "${PROFILE:-}" ]; then
  echo "== profile of one epoch, alone on the machine: $PROFILE"
  timeout 120 python3 puffer-trainer/benchmarks/profile_epoch.py ocean/breakout $BASE $PROFILE > "$OUTDIR/profile.txt" 2>&1
  head -3 "$OUTDIR/profile.txt"
fi
# SOLO: "|"-separated override sets, each trained alone on the machine (SPS and time to score as a user
# would see them).
if [ -n "${SOLO:-}" ]; then
  IFS='|' read -ra SOLOS <<< "$SOLO"
  for i in "${!SOLOS[@]}"; do
    echo "== solo $i: ${SOLOS[$i]}"
    timeout 150 python3 $B ocean/breakout --seconds 120 --baseline-seconds 0 --target ${TARGET:-820.8} --train.device cuda \
      ${SOLOS[$i]} > "$OUTDIR/solo$i.txt" 2>&1
    cat "$OUTDIR/solo$i.txt"
  done
fi
# Configs are spread round-robin over the machine's GPUs.
NGPU=$(nvidia-smi -L | wc -l)
i=0
while read -r name overrides; do
  [ -z "$name" ] && continue
  case "$name" in \#*) continue ;; esac
  CUDA_VISIBLE_DEVICES=$((i % NGPU)) timeout ${LIMIT_S:-400} python3 $B ocean/breakout --seconds 100000 \
    --baseline-seconds 0 --target ${TARGET:-820.8} $BASE $overrides > "$OUTDIR/$name.txt" 2>&1 &
  i=$((i + 1))
done < puffer-trainer/benchmarks/sweeps/${SWEEP:-none}.txt
wait
for f in "$OUTDIR"/*.txt; do
  echo "== $(basename "$f" .txt)"
  grep -E "s step" "$f" | awk 'NR % 3 == 0' | tail -8
  grep -E "train SPS|reached|Error|error" "$f" | head -3
done
