#!/usr/bin/env bash
# Train Atari games at once on one GPU machine (default: the PPO paper's 7), then tabulate and plot them.
#
# Run from the repository root on the device (1 GPU, 16 cores), with the wheels of .whl/ carried:
#   bash puffer-envs-atari/benchmarks/device_train.sh                      # all 7 games, 400 s cap
#   BENCH=0 GAMES="breakout pong" WALL_S=520 bash puffer-envs-atari/benchmarks/device_train.sh
# As run on a 2-GPU machine (32 cores), 2026-11-30, two games a call, each call continuing the last's:
#   BENCH=0 GAMES="breakout pong" THREADS=16 WALL_S=520 PACK=$OUT RESUME_FROM=.scratch/atari_resume \
#     bash puffer-envs-atari/benchmarks/device_train.sh      # carry .whl and .scratch/atari_resume
# Two games on a 1-GPU machine (16 cores): 8 cores and threads each (the default), or both on all 16 cores with
# 16 threads each, so that one game's emulator uses the cores the other leaves while it learns:
#   BENCH=0 GAMES="enduro seaquest" THREADS=16 CORES_PER_GAME=16 PACK=$OUT bash .../device_train.sh
# Settings (environment variables):
#   GAMES    ALE game ids, space-separated (default: breakout pong beam_rider qbert space_invaders enduro seaquest)
#   STEPS    agent steps per game (default 10000000 = 40M frames)
#   WALL_S   wall-clock cap per game in seconds (default 400); a capped run stops cleanly (SIGINT: it saves)
#   THREADS  ALE emulator threads per game (default: cores / number of games, at least 1)
#   CORES_PER_GAME  cores each game is pinned to (taskset; default: cores / number of games, at least 1),
#            independent of THREADS: a layout of several env objects (EXTRA) spreads its threads over them
#   BENCH    1 (default) also runs, before the training, benchmarks/atari.py on 8 games per core (the registered
#            layout's 128 on 16 cores) and thread_scaling.py on 1 and all threads, side by side (about 2
#            minutes); 0 skips them
#   RESULTS  where logs, metrics, results.md/csv and curves go (default /tmp/atari_results); the run folders
#            with their checkpoints (tens of MB each) stay in /tmp/atari_runs, only metrics and config are copied
#   PACK     a folder (on the device: $OUT) that gets the results as one results.tar.gz and each game's resume
#            folder as resume_<game>.tar.part-aa, -ab, ... (15 MiB pieces): a device call returns at most 8
#            files of 16 MiB, at most two folders down, and a checkpoint with its Adam state is about 20 MB
#   SEQUENTIAL  1: the games run one after another, each alone on all cores (THREADS and CORES_PER_GAME
#            default to every core), sharing the one cap WALL_S: a game that finishes early leaves the rest of
#            the call to the next (one device call instead of two); a game with under 60 s left is not started
#   EXTRA    more trainer overrides for every game, e.g. EXTRA="--env.num-envs 32 --train.update-epochs 2"
#   DEVICE   torch device (default cuda); SKIP_INSTALL=1 uses the current environment as it is (local test)
#   RESUME_FROM  what an earlier call left: a folder of run folders (RESULTS/resume) or of PACK's
#            resume_<game>.tar.part-* pieces (carried): each game found there continues from its latest
#            checkpoint, its metrics and wall clock carrying on. One game's 10M steps
#            took 17 minutes on 16 or 32 cores (about 10k agent steps/s), more than one device call.
# Each game's run folder (metrics, config, latest checkpoint: about 20 MB) is also copied to RESULTS/resume/<game>,
# for RESUME_FROM in the next call.
# Without matplotlib on the device, curves.csv is written instead of PNGs: draw them anywhere with
#   python puffer-envs-atari/benchmarks/atari_results.py OUTDIR --games ... --from-csv
# On a machine with several GPUs the games take them in turn.
# Each game trains with its registered config (puffer_envs_atari.plugin.TRAIN_CONFIG) on cuda, sticky actions
# 0.25 (gymnasium v5), one torch thread per process. Total: WALL_S + about 150 s (install and kernel build
# ~40 s, benchmarks ~120 s, clean stop and table ~20 s), so the defaults fit one 10-minute device call.
set -u
export PYTHONUNBUFFERED=1
OUTDIR=${RESULTS:-/tmp/atari_results}
GAMES=${GAMES:-"breakout pong beam_rider qbert space_invaders enduro seaquest"}
STEPS=${STEPS:-10000000}
WALL_S=${WALL_S:-400}
mkdir -p "$OUTDIR/logs" "$OUTDIR/runs"
OUTDIR=$(cd "$OUTDIR" && pwd)  # absolute: the benchmark below runs from another folder
CORES=$(nproc)
set -- $GAMES
NGAMES=$#
SEQUENTIAL=${SEQUENTIAL:-0}
SHARE=$(( CORES / NGAMES > 0 ? CORES / NGAMES : 1 ))  # each game's share of the cores
if [ "$SEQUENTIAL" = 1 ]; then SHARE=$CORES; fi  # one game at a time has them all
THREADS=${THREADS:-$SHARE}
SPAN=${CORES_PER_GAME:-$SHARE}
SPAN=$(( SPAN > CORES ? CORES : SPAN ))
echo "== $(date -u +%FT%TZ) $(hostname): $CORES cores, $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
echo "== games: $GAMES; $STEPS steps each, cap ${WALL_S}s$([ "$SEQUENTIAL" = 1 ] && echo " for all, one after another"), $THREADS ALE threads on $SPAN cores each"

source "$(dirname "$0")/device_setup.sh"

if [ "${BENCH:-1}" = 1 ]; then
  echo "== benchmark: default path vs puffer multiprocessing vs gymnasium AsyncVectorEnv, 8 games a core"
  timeout 240 $PY puffer-envs-atari/benchmarks/atari.py --seconds 6 --num-envs $(( 8 * CORES )) \
    --json "$OUTDIR/bench.json" 2>&1 | tee "$OUTDIR/bench.txt"
  echo "== emulator threads: 1 and $CORES, the same machine a minute later"
  (cd puffer-envs-atari/benchmarks && timeout 120 $PY thread_scaling.py --seconds 3 --threads 1 "$CORES" \
    --json "$OUTDIR/thread_scaling.json") 2>&1 | tee "$OUTDIR/thread_scaling.txt"
fi

rm -rf /tmp/atari_runs  # run names are the game ids: a previous call's folders would be resumed into
start=$(date +%s)
first=0
GPUS=$(nvidia-smi -L 2>/dev/null | grep -c ^GPU)
i=0
for game in $GAMES; do
  # games take the GPUs in turn (several share one: the CNN leaves most of an H200 idle)
  gpu=$(( GPUS > 0 ? i % GPUS : 0 )); i=$(( i + 1 ))
  # Each game on its own cores: the emulator threads of one game then never wait for another's.
  # (more games than fit side by side start again at core 0 and share)
  if [ $(( first + SPAN )) -gt "$CORES" ]; then first=0; fi
  cores="$first-$(( first + SPAN - 1 ))"; first=$(( first + SPAN ))
  mkdir -p /tmp/atari_runs
  if [ -n "${RESUME_FROM:-}" ] && ls "$RESUME_FROM/resume_$game.tar.part-"* > /dev/null 2>&1; then
    cat "$RESUME_FROM/resume_$game.tar.part-"* | tar -x -C /tmp/atari_runs || exit 1
  elif [ -n "${RESUME_FROM:-}" ] && [ -d "$RESUME_FROM/$game/checkpoints" ]; then
    cp -r "$RESUME_FROM/$game" /tmp/atari_runs/
  fi
  if [ -f "/tmp/atari_runs/$game/checkpoints/latest.pt" ]; then
    # a resumed run keeps its saved config (threads included); only how long and where it runs may change
    args="--run.resume latest"
  else
    args="--env.num-threads $THREADS ${EXTRA:-}"
  fi
  cap=$WALL_S
  if [ "$SEQUENTIAL" = 1 ]; then
    cap=$(( WALL_S - ($(date +%s) - start) ))
    if [ "$cap" -lt 60 ]; then echo "== $game not started: ${cap}s of the cap left"; continue; fi
  fi
  CUDA_VISIBLE_DEVICES=$gpu timeout --signal=INT --kill-after=90 "$cap" taskset -c "$cores" \
    $PY -m puffer_trainer train "atari/$game" \
    --train.device "${DEVICE:-cuda}" --train.total-timesteps "$STEPS" --train.torch-threads 1 \
    --run.run-dir /tmp/atari_runs --run.run-name "$game" --run.log plain --run.checkpoint-interval 100000 \
    $args >> "$OUTDIR/logs/$game.log" 2>&1 &
  if [ "$SEQUENTIAL" = 1 ]; then wait; fi
done
wait
echo "== training done in $(( $(date +%s) - start )) s wall clock"
for game in $GAMES; do
  mkdir -p "$OUTDIR/runs/$game"
  cp /tmp/atari_runs/"$game"/metrics.jsonl /tmp/atari_runs/"$game"/config.toml "$OUTDIR/runs/$game/" 2>/dev/null
  latest=/tmp/atari_runs/"$game"/checkpoints/latest.pt  # a copy of the newest epoch_*.pt
  if [ -f "$latest" ]; then
    mkdir -p "$OUTDIR/resume/$game/checkpoints"
    cp /tmp/atari_runs/"$game"/metrics.jsonl /tmp/atari_runs/"$game"/config.toml "$OUTDIR/resume/$game/"
    cp "$latest" "$OUTDIR/resume/$game/checkpoints/"
  fi
  echo "-- $game"
  if [ ! -f "$OUTDIR/logs/$game.log" ]; then echo "(not run in this call)"; continue; fi
  grep -E "Error|error|Traceback" "$OUTDIR/logs/$game.log" | head -3; tail -n 2 "$OUTDIR/logs/$game.log"
done
$PY puffer-envs-atari/benchmarks/atari_results.py "$OUTDIR" --games $GAMES
if [ -n "${PACK:-}" ]; then
  mkdir -p "$PACK"
  tar -C "$OUTDIR" --exclude=resume -czf "$PACK/results.tar.gz" . || exit 1
  for game in $GAMES; do
    if [ -d "$OUTDIR/resume/$game" ]; then
      tar -C "$OUTDIR/resume" -cf - "$game" | split -b 15m - "$PACK/resume_$game.tar.part-" || exit 1
    fi
  done
  ls -l "$PACK"
fi
