#!/usr/bin/env bash
# Epoch time of ocean/breakout's registered GPU config under variants (benchmarks/epoch_variants.txt: one
# "name overrides..." per line), one after the other on GPU 0: `profile_epoch.py` with PROFILE_TABLE=0, then
# the full profiler table of the variant named in TABLE (default: registered).
# Run from the repository root on the device with .whl (cffi, pycparser) carried:
#   bash puffer-trainer/benchmarks/device_epoch_grid.sh          # about 20 s a variant after a 30 s install
# VARIANTS=FILE picks another list, SKIP_INSTALL=1 uses what is installed; output also goes to $OUT.
set -u
export PYTHONUNBUFFERED=1
OUTDIR=${OUT:-/tmp/epoch_grid}
mkdir -p "$OUTDIR"
if [ -z "${SKIP_INSTALL:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  python3 -m pip install -q --no-build-isolation --no-deps --target /tmp/site ./puffer-kernels ./puffer-envs-ocean \
    || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/puffer-core/src:$PWD/puffer-trainer/src
P=puffer-trainer/benchmarks/profile_epoch.py
grep -v '^#' "${VARIANTS:-puffer-trainer/benchmarks/epoch_variants.txt}" | while read -r name overrides; do
  [ -n "$name" ] || continue
  line=$(CUDA_VISIBLE_DEVICES=0 PROFILE_TABLE=0 timeout 120 python3 $P ocean/breakout $overrides 2>&1 | tail -2 | tr '\n' ' ')
  printf '%-20s %s\n' "$name" "$line" | tee -a "$OUTDIR/grid.txt"
done
if [ -n "${TABLE-registered}" ]; then
  overrides=$(grep "^${TABLE:-registered} " "${VARIANTS:-puffer-trainer/benchmarks/epoch_variants.txt}" | cut -d' ' -f2-)
  CUDA_VISIBLE_DEVICES=0 PROFILE_TRACE="$OUTDIR/trace" timeout 150 python3 $P ocean/breakout $overrides \
    > "$OUTDIR/profile_${TABLE:-registered}.txt" 2>&1
  grep -E "=====|batch|collection" "$OUTDIR/profile_${TABLE:-registered}.txt"
  gzip -f "$OUTDIR"/trace/*.json 2>/dev/null
fi
