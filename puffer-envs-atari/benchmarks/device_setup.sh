# Sourced by the device scripts here (device_train.sh, device_epoch_grid.sh), from the repository root on the
# device with .whl/ carried: installs what they need once per machine and sets PYTHONPATH and PY.
#   SKIP_INSTALL=1  use the current environment as it is (a local test)
if [ "${SKIP_INSTALL:-0}" != 1 ] && [ -f /tmp/site-atari/.installed ]; then
  # an earlier call on this (still warm) machine installed everything: save its ~40 s
  export PYTHONPATH=/tmp/site-atari:/tmp/site:$PWD/puffer-core/src:$PWD/puffer-trainer/src
elif [ "${SKIP_INSTALL:-0}" != 1 ]; then
  # The wheels of .whl/ (ale-py with its ROMs, gymnasium, cffi, opencv for the benchmark's baseline, hatchling to
  # build atari) into /tmp/site, then
  # kernels (compiled here) and atari (installed for its puffer.envs entry point) from the checkout.
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD/puffer-core/src:$PWD/puffer-trainer/src
  python3 -m pip install -q --no-index --no-build-isolation --no-deps ./puffer-kernels || exit 1
  python3 -m pip install -q --no-index --no-build-isolation --no-deps --target /tmp/site-atari \
    ./puffer-envs-atari || exit 1
  export PYTHONPATH=/tmp/site-atari:$PYTHONPATH
  touch /tmp/site-atari/.installed
fi
PY=${PYTHON:-python3}
$PY -c "import puffer_core; s = puffer_core.spec('atari/breakout'); print('== registered:', s.id, s.plugin)" \
  || exit 1
