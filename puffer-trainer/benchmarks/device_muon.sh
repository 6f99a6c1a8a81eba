#!/usr/bin/env bash
# MuonWithSGD on one GPU: (1) optimizer_step.py, ms and kernel launches per step against torch.optim.Muon + SGD
# for breakout's GPU policy; (2) the CUDA tests of test_muon.py (same parameters as the torch pair, no host
# sync in step); (3) profile_epoch.py of breakout's GPU config, where the optimizer step now shows as
# Optimizer.step#MuonWithSGD.step. About 2-3 minutes, most of it building ocean and the profiled epochs.
# Run from the repository root (carry .whl/, the same wheels as the other device scripts):
#   bash puffer-trainer/benchmarks/device_muon.sh
set -u
export PYTHONUNBUFFERED=1
OUTDIR=${OUT:-/tmp/muon}
mkdir -p "$OUTDIR"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/puffer-core/src:$PWD/puffer-trainer/src
python3 -m pip install -q --no-build-isolation --no-deps ./puffer-kernels ./puffer-envs-ocean || exit 1
echo "== optimizer step, breakout GPU policy"
OUT=$OUTDIR timeout 180 python3 puffer-trainer/benchmarks/optimizer_step.py --device cuda
echo "== CUDA tests of MuonWithSGD"
timeout 180 python3 -m pytest -q -p no:cacheprovider puffer-trainer/tests/test_muon.py -k cuda 2>&1 | tail -5
echo "== one profiled epoch of breakout's GPU config (full tables in $OUTDIR/profile_epoch.txt)"
timeout 240 python3 puffer-trainer/benchmarks/profile_epoch.py ocean/breakout --train.device cuda \
  > "$OUTDIR/profile_epoch.txt" 2>&1
head -1 "$OUTDIR/profile_epoch.txt"
grep -E "=====|Optimizer.step" "$OUTDIR/profile_epoch.txt"
