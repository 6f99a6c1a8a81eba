#!/usr/bin/env bash
# Second device run: one breakout training run (multiprocessing async collection, Adam) to completion of
# total_timesteps, for SPS after the pinned-upload change and time to score. Run from the repository root.
set -u
export PYTHONUNBUFFERED=1
exec > >(tee -a "${OUT:-/tmp}/log.txt") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/puffer-core/src:$PWD/puffer-trainer/src
python3 -m pip install -q --no-build-isolation --no-deps ./puffer-kernels ./puffer-envs-ocean || exit 1
timeout ${TRAIN_S:-130} python3 puffer-trainer/benchmarks/train_sps.py ocean/breakout --seconds $(( ${TRAIN_S:-130} - 15 )) \
  --baseline-seconds 0 --target 364.8 --train.device cuda --policy.hidden-size 128 --policy.lstm-hidden-size 128 \
  --policy.lstm true --train.horizon 64 --train.batch-size 524288 --train.minibatch-size 32768 \
  --train.total-timesteps 100000000 --train.optimizer adam --train.learning-rate 0.004 --train.adam-beta1 0.9 \
  --train.adam-beta2 0.999 --train.adam-eps 1e-5 --train.gamma 0.995 --train.gae-lambda 0.9 --train.clip-coef 0.2 \
  --train.ent-coef 0.001 --train.max-grad-norm 1.5 --train.prio-alpha 0.8 --train.prio-beta0 0.2 \
  --train.vf-clip-coef 2.0 --train.vf-coef 1.5 --env.num_envs 1024 --vec.backend multiprocessing --vec.num-envs 8 \
  --vec.num-workers 8 --vec.batch-size 4
