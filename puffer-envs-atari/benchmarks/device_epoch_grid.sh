#!/usr/bin/env bash
# Where an Atari training epoch's time goes, under config variants: the trainer's profile_epoch.py on
# atari/breakout (8 epochs a variant: 3 to warm up, the best of 5 timed), one variant after the other on GPU 0 and
# THREADS cores, then the profiler table (kernel launches, host time per op) of the variant named in TABLE.
# Breakout training on the device spent about half of each epoch with every emulator thread waiting (inference,
# copies, learning: benchmarks/results/h200x2_train_2026-11-30/); this finds what shortens that half.
# Run from the repository root on the device, with .whl/ carried (about 30 s a variant after a 40 s install):
#   bash puffer-envs-atari/benchmarks/device_epoch_grid.sh
# Settings: VARIANTS (default benchmarks/epoch_variants.txt: "name overrides..." per line, {threads}, {half}
# and {quarter} filled in), THREADS (default 16), TABLE (default registered; empty: no table), DEVICE (default
# cuda), EXTRA (overrides for every variant), RESULTS (default /tmp/atari_epoch_grid; $OUT gets a copy).
set -u
export PYTHONUNBUFFERED=1
OUTDIR=${RESULTS:-/tmp/atari_epoch_grid}
mkdir -p "$OUTDIR"
THREADS=${THREADS:-16}
HALF=$(( THREADS / 2 > 0 ? THREADS / 2 : 1 )); QUARTER=$(( THREADS / 4 > 0 ? THREADS / 4 : 1 ))
HERE=$(dirname "$0")
VARIANTS=${VARIANTS:-$HERE/epoch_variants.txt}
source "$HERE/device_setup.sh"
echo "== $(date -u +%FT%TZ) $(hostname): $(nproc) cores, $THREADS for the grid, $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
P=puffer-trainer/benchmarks/profile_epoch.py
cores="0-$(( THREADS - 1 ))"
overrides_of() {  # the variant's overrides with the thread counts filled in
  sed -e "s/{threads}/$THREADS/g" -e "s/{half}/$HALF/g" -e "s/{quarter}/$QUARTER/g" <<< "$1"
}
grep -v '^#' "$VARIANTS" | while read -r name overrides; do
  [ -n "$name" ] || continue
  line=$(CUDA_VISIBLE_DEVICES=0 PROFILE_TABLE=0 timeout 180 taskset -c "$cores" $PY $P atari/breakout \
    --train.device "${DEVICE:-cuda}" --train.torch-threads 1 $(overrides_of "$overrides") ${EXTRA:-} 2>&1 \
    < /dev/null | tail -2 | tr '\n' ' ')  # (stdin is the variants list: the run must not read it)
  printf '%-16s %s\n' "$name" "${line:-failed or over 180 s}" | tee -a "$OUTDIR/grid.txt"
done
TABLE=${TABLE-registered}
if [ -n "$TABLE" ]; then
  overrides=$(grep "^$TABLE " "$VARIANTS" | cut -d' ' -f2-)
  CUDA_VISIBLE_DEVICES=0 timeout 240 taskset -c "$cores" $PY $P atari/breakout --train.device "${DEVICE:-cuda}" \
    --train.torch-threads 1 $(overrides_of "$overrides") ${EXTRA:-} > "$OUTDIR/profile_$TABLE.txt" 2>&1
  grep -E "=====|batch|collection" "$OUTDIR/profile_$TABLE.txt"
fi
if [ -n "${OUT:-}" ] && [ "$OUT" != "$OUTDIR" ]; then cp "$OUTDIR"/*.txt "$OUT"/; fi
