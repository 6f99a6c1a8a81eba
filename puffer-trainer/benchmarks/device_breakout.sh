#!/usr/bin/env bash
# Breakout on the GPU machine: install the packages, probe SPS of the serial and multiprocessing backends,
# then train with two hyperparameter sets and report SPS, time split and time to 95% of the max score (384).
# Run from the repository root on the device: bash puffer-trainer/benchmarks/device_breakout.sh
set -u
export PYTHONUNBUFFERED=1
LOG=${OUT:-/tmp}/log.txt
exec > >(tee -a "$LOG") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/puffer-core/src:$PWD/puffer-trainer/src
t0=$(date +%s)
python3 -m pip install -q --no-build-isolation --no-deps ./puffer-kernels ./puffer-envs-ocean || exit 1
echo "install took $(( $(date +%s) - t0 ))s"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, puffer_kernels, puffer_core; print(torch.__version__, torch.cuda.is_available(), [s.id for s in puffer_core.list_envs()])"
B=puffer-trainer/benchmarks/train_sps.py
COMMON="--train.device cuda --policy.hidden-size 128 --policy.lstm-hidden-size 128 --policy.lstm true
 --train.horizon 64 --train.batch-size 524288 --train.minibatch-size 32768 --train.total-timesteps 150000000"
PUFF="--train.optimizer muon --train.learning-rate 0.0445 --train.adam-beta1 0.895 --train.adam-beta2 0.9
 --train.adam-eps 1e-4 --train.gamma 0.9997 --train.gae-lambda 0.748 --train.clip-coef 0.197 --train.ent-coef 0.00057
 --train.max-grad-norm 2.24 --train.prio-alpha 0.99 --train.prio-beta0 0.1 --train.vf-clip-coef 2.18 --train.vf-coef 1.68
 --train.vtrace-c-clip 2.88 --train.vtrace-rho-clip 0.79"
SERIAL="--env.num_envs 8192 --vec.backend serial --vec.num-envs 1"
MP="--env.num_envs 1024 --vec.backend multiprocessing --vec.num-envs 8 --vec.num-workers 8 --vec.batch-size 4"
echo "== probe: serial"; timeout 60 python3 $B ocean/breakout --seconds ${PROBE_S:-20} --baseline-seconds 3 $COMMON $PUFF $SERIAL
echo "== probe: multiprocessing"; timeout 60 python3 $B ocean/breakout --seconds ${PROBE_S:-20} --baseline-seconds 3 $COMMON $PUFF $MP
VEC=${VEC:-$MP}
echo "== train A (PufferLib-like hyperparameters)"
timeout $(( ${TRAIN_S:-150} + 40 )) python3 $B ocean/breakout --seconds ${TRAIN_S:-150} --baseline-seconds 0 --target 364.8 $COMMON $PUFF $VEC
echo "== train B (Adam 3e-3)"
timeout $(( ${TRAIN_S:-150} + 40 )) python3 $B ocean/breakout --seconds ${TRAIN_S:-150} --baseline-seconds 0 --target 364.8 $COMMON $PUFF $VEC \
  --train.optimizer adam --train.learning-rate 0.003 --train.adam-eps 1e-5 --train.adam-beta2 0.999 --train.gamma 0.995 --train.gae-lambda 0.9
