"""The multiprocessing backend: worker processes step their envs in place, in shared memory.

Layout
    One shared-memory block (see :mod:`.shared`) holds the agent buffers of all envs and one 64-byte control
    row per worker (command, status, info count, reset seed). Worker ``w`` owns the contiguous envs
    ``[w * envs_per_worker, (w + 1) * envs_per_worker)`` and builds each of them on its slice of the
    buffers, so stepping writes straight into the memory the main process reads: nothing is copied or
    pickled per step.

Synchronization (cheap, and never a busy-wait that starves a small machine)
    * main -> worker: one POSIX semaphore per worker (``go``). The main process writes the actions and the
      command into shared memory, then releases ``go``; the worker polls it for ``spin_us`` and then sleeps
      in ``sem_timedwait``.
    * worker -> main: one semaphore per worker (``done``), released after the worker wrote its results, and,
      when batches are smaller than ``num_envs``, a shared ``wake`` semaphore so the main process can sleep
      until *any* worker finishes. Semaphore operations are memory barriers, so results written before the
      release are visible after the acquire on every CPU architecture.
    * Both sides poll before sleeping (``spin_us``, 500 µs, yielding the CPU every few polls, and backing
      off while it does not pay; see :class:`_Spinner`). In a tight step loop the other side answers within
      that bound (the caller's own work between two steps), so neither side sleeps in the steady state. It
      is only on by default when the worker processes and the caller fit on the CPUs, so a spinner never
      takes a core a worker needs. It matters: a sleep/wake-up round trip costs 55-60 µs on the 2-vCPU VM
      this was measured on, more than a cheap env's whole step.
    * Every blocking wait has a short timeout after which the main process checks that the workers are
      alive (a SIGKILLed worker is reported within ``poll_interval`` seconds, never a hang), and workers
      check that their parent is alive (orphans exit).
    * Finished-episode infos are rare and small: the worker pickles them into its slot of shared memory
      and puts their count in its control row; the main process unpickles only when the count is set.
      Payloads larger than the slot, and error tracebacks, go through a pipe instead.

Batches
    With ``batch_size == num_envs``, ``recv`` waits for every worker (synchronous) and worker 0 is the
    calling process itself (``inline``): ``send`` wakes the worker processes, then steps worker 0's envs
    while they step theirs. With a smaller ``batch_size`` every worker is a process, the workers form fixed,
    contiguous groups of ``batch_size`` envs and ``recv`` returns the first group whose workers are all
    done (EnvPool-style asynchrony). Because groups are contiguous, ``recv`` always returns views of shared
    memory: there is never a gather copy. With ``max_processes=0`` (what ``make`` picks for envs cheaper
    than a hand-off) no process runs: ``send`` steps its batch in the caller and ``recv`` hands the batches
    out in turn, like the serial backend's async mode.

Processes
    At most ``max_processes`` workers run (default: the CPU count, the inline one included); more requested
    workers are merged with their neighbours of the same batch, since extra processes on busy cores only add
    context switches. ``num_workers=1`` in synchronous mode therefore steps everything in the caller, like
    the serial backend (but in shared memory). :func:`~puffer_core.vector.make` uses that for envs too
    cheap to pay for the hand-off (see ``INLINE_BELOW_S`` there) unless ``max_processes`` is given.
"""

from __future__ import annotations

import _multiprocessing
import contextlib
import multiprocessing
import multiprocessing.util
import os
import pickle
import signal
import sys
import time
import traceback
import weakref
from multiprocessing import resource_tracker
from typing import Any

import numpy as np

from ..errors import APIUsageError, EnvWorkerError, InsufficientMemoryError
from .base import EnvCreator, EnvProbe, VecEnv, _close_quietly, reset_envs, step_envs
from .memory import MemoryGuard
from .shared import BlockLayout, SharedBuffers, block_layout

__all__ = ["Multiprocessing"]

# Commands, written into column CMD of a worker's control row.
STEP, RESET, CLOSE = 1, 2, 3
# Columns of the int64 control row of each worker (8 columns = one 64-byte cache line per worker).
CMD, STATUS, INFO_COUNT, SEED, HAS_SEED, INFO_BYTES = 0, 1, 2, 3, 4, 5
CONTROL_COLUMNS = 8
#: Bytes of shared memory per worker for its pickled finished-episode infos; larger payloads use the pipe.
INFO_CAPACITY = 16384
STATUS_OK, STATUS_ERROR = 0, 1

DEFAULT_START_METHOD = "spawn"
#: How long either side polls before it sleeps on a semaphore, in microseconds (when our processes fit on
#: the CPUs; 0 otherwise). Long enough to cover the caller's work between two steps of a tight loop
#: (measured: 50 µs let the worker fall asleep on a good share of 16-CartPole steps).
DEFAULT_SPIN_US = 500.0
#: How long a worker sleeps between checks that its parent is still alive.
_ORPHAN_CHECK_S = 1.0


def _process_count(num_workers: int, num_batches: int, batch_size: int, max_processes: int | None) -> int:
    """How many workers to run: ``num_workers`` capped at ``max_processes`` (default: the CPU count).

    Every batch gets the same number ``q`` of workers, each with the same number of envs, so ``q`` divides
    ``batch_size``; at least one worker per batch, whatever the cap.
    """
    cap = (os.cpu_count() or 1) if max_processes is None else int(max_processes)
    if cap < 1:
        raise ValueError(
            f"max_processes must be a positive int, or 0 for no processes at all, got {max_processes!r}"
        )
    per_batch = num_workers // num_batches
    if num_workers <= cap:
        return num_workers
    limit = max(1, min(per_batch, cap // num_batches))
    return num_batches * max(d for d in range(1, limit + 1) if batch_size % d == 0)


#: Exit code of a worker that found the main module making a vector env while it was being imported.
BOOTSTRAP_EXIT_CODE = 86
BOOTSTRAP_HINT = (
    "its start method ({method}) imports the main module {main} in every worker, and that module makes a "
    "vector env when imported. Put the code that makes it under `if __name__ == \"__main__\":`"
)


def _main_module() -> str:
    main = sys.modules.get("__main__")
    return repr(getattr(main, "__file__", None) or "(the script)")


def _refuse_while_bootstrapping() -> None:
    """In a worker that is still importing the parent's main module, making a vector env would recurse.

    multiprocessing would raise its own RuntimeError here, which the parent only sees as "worker died
    (exit code 1)"; a distinctive exit code lets the parent say what is wrong and how to fix it.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        message = BOOTSTRAP_HINT.format(method=multiprocessing.get_start_method(), main=_main_module())
        print(f"puffer: a worker process cannot start: {message}", file=sys.stderr, flush=True)
        os._exit(BOOTSTRAP_EXIT_CODE)


def _allowed_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


class _Spinner:
    """Waits on semaphores with a bounded poll before sleeping, backing off while it does not pay.

    Many waits are short (the other side is microseconds from done): catching them by polling saves a sleep
    and a wake-up, 55-60 µs per round trip on the 2-vCPU VM this was measured on, more than a cheap env's
    whole step and a third of a 16-CartPole step. ``try_acquire`` polls the semaphore (``sem_trywait``, no
    system call) and yields the CPU only every ``_YIELD_EVERY`` polls: a yield on every poll measured slower
    (each one is a system call), and never yielding would keep a partner that Linux woke on our CPU off it.
    A poll that times out, or that finds it lost its CPU to another process for a while (the machine is
    oversubscribed), makes the next ``2**misses - 1`` waits (at most ``_MAX_SKIP``) sleep at once, so a
    partner that is busy for long, or cores held by other programs, do not turn the spin into a CPU hog;
    a success re-arms it at once.
    """

    _YIELD_EVERY = 4
    _MAX_SKIP = 63
    _PREEMPTED_S = 50e-6

    def __init__(self, spin_s: float) -> None:
        self.spin_s = spin_s
        self.misses = 0
        self.skip = 0

    def try_acquire(self, semaphore: Any) -> bool:
        """Take ``semaphore`` now or within the spin budget; False means: go to sleep on it."""
        acquire = semaphore.acquire
        if acquire(False):
            return True
        if self.spin_s <= 0:
            return False
        if self.skip > 0:
            self.skip -= 1  # backing off: sleep now, spin again after a while
            return False
        clock = time.perf_counter
        last = clock()
        deadline = last + self.spin_s
        polls = 0
        while True:
            if acquire(False):
                self.misses = 0
                return True
            polls += 1
            if polls % self._YIELD_EVERY == 0:
                now = clock()
                # A few polls take a microsecond or two: a longer gap means another process got our CPU
                # (more runnable processes than cores), so spinning only takes time from somebody: stop.
                if now >= deadline or now - last > self._PREEMPTED_S:
                    break
                last = now
                os.sched_yield()
        self.misses = min(self.misses + 1, 6)
        self.skip = min(2**self.misses - 1, self._MAX_SKIP)
        return False


def _parent_alive(parent_pid: int) -> bool:
    # With forkserver our OS parent is the fork server, so ask multiprocessing about the process that
    # started us (it watches a pipe that closes when that process dies).
    parent = multiprocessing.parent_process()
    if parent is not None:
        return parent.is_alive()
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return False
    return True


def _worker(
    worker_id: int,
    creator: EnvCreator,
    env_start: int,
    env_stop: int,
    probe: EnvProbe,
    seed: int | None,
    layout: BlockLayout,
    shm_name: str,
    go: Any,
    done: Any,
    wake: Any | None,
    conn: Any,
    parent_pid: int,
    spin_s: float,
    cpu: int | None,
) -> None:
    """Body of worker process ``worker_id``: build envs ``[env_start, env_stop)`` in shared memory, serve."""
    # Ctrl-C goes to the whole process group; the main process decides what to do and closes us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if cpu is not None:
        with contextlib.suppress(OSError):  # a cpuset that changed under us: run unpinned
            os.sched_setaffinity(0, {cpu})
    shared = None
    envs: list[Any] = []
    control = info_area = None
    exit_code = 0
    spinner = _Spinner(spin_s)

    def finish(infos: list[Any] | None, error: str | None) -> None:
        control[STATUS] = STATUS_ERROR if error is not None else STATUS_OK
        control[INFO_COUNT] = len(infos) if infos else 0
        blob = None
        if infos:
            # Usually a few hundred bytes: written into our slot of shared memory, no system call.
            blob = pickle.dumps(infos, protocol=pickle.HIGHEST_PROTOCOL)
            if len(blob) <= INFO_CAPACITY:
                info_area[: len(blob)] = np.frombuffer(blob, dtype=np.uint8)
                control[INFO_BYTES] = len(blob)
                blob = None
            else:
                control[INFO_BYTES] = -1
        done.release()
        if wake is not None:
            wake.release()
        # Sent after the release: the main process reads the pipe as soon as it sees the flags, so even a
        # payload larger than the pipe's buffer cannot deadlock.
        if error is not None:
            conn.send(error)
        elif blob is not None:
            conn.send_bytes(blob)

    try:
        shared = SharedBuffers(layout, name=shm_name)
        control = shared.arrays["control"][worker_id]
        info_area = shared.arrays["infos"][worker_id]
        ape = probe.agents_per_env
        # All workers make their envs at once: extrapolate this one's cost per env to all of them.
        guard = MemoryGuard(len(shared.buffers.rewards) // ape, f"worker {worker_id}")
        try:
            for i in range(env_start, env_stop):
                env = creator(
                    buf=shared.buffers.slice(i * ape, (i + 1) * ape), seed=None if seed is None else seed + i
                )
                envs.append(env)
                probe.check_same(env, i)
                guard.check(len(envs))
        except InsufficientMemoryError as error:
            finish(None, error)  # one line for the user, not a traceback
            return
        except Exception:
            finish(None, f"creating env {env_start + len(envs)}:\n{traceback.format_exc()}")
            return
        finish(None, None)

        while True:
            if not spinner.try_acquire(go) and not go.acquire(timeout=_ORPHAN_CHECK_S):
                if not _parent_alive(parent_pid):
                    return  # the main process is gone: nobody will ever send another command
                continue
            command = int(control[CMD])
            if command == CLOSE:
                return
            try:
                if command == STEP:
                    infos = step_envs(envs)
                elif command == RESET:
                    infos = reset_envs(envs, int(control[SEED]) if control[HAS_SEED] else None, env_start)
                else:
                    raise RuntimeError(f"unknown command {command}")
            except Exception:
                finish(None, f"envs {env_start}..{env_stop - 1}:\n{traceback.format_exc()}")
                continue
            finish(infos, None)
    except BaseException:
        # Not an env error (those are reported through the pipe): e.g. the main process vanished mid-send.
        traceback.print_exc()
        exit_code = 1
    finally:
        for env in envs:
            _close_quietly(env)
        envs.clear()
        control = info_area = None
        if shared is not None:
            shared.close()
        conn.close()
        # Skip interpreter teardown (a spawned interpreter takes ~0.3 s to unload numpy & co.), so close()
        # returns quickly; nothing of ours is left to finalize.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(exit_code)


def _unlink_semaphore(semaphore: Any) -> None:
    """Remove a spawn-context semaphore's name from /dev/shm while every process keeps its handle.

    multiprocessing unlinks the name only in a finalizer, which a SIGKILL never runs; once all workers hold
    the semaphore the name is useless. Its finalizer and the resource tracker's entry are dropped with it,
    so nothing tries to unlink it twice.
    """
    name = getattr(semaphore._semlock, "name", None)
    if name is None:  # fork context: already unnamed
        return
    with contextlib.suppress(FileNotFoundError):
        _multiprocessing.sem_unlink(name)
    resource_tracker.unregister(name, "semaphore")
    for finalizer in list(multiprocessing.util._finalizer_registry.values()):
        if getattr(finalizer, "_args", None) == (name,):
            finalizer.cancel()


class _Resources:
    """Everything that must be freed: processes, pipes, inline envs, shared memory. Does not reference the
    VecEnv, so a :func:`weakref.finalize` can free it when a vector env is dropped without ``close()``.
    Lists are indexed by worker id; the inline worker (run by the caller) has ``None`` entries."""

    def __init__(self, num_workers: int) -> None:
        self.processes: list[Any] = [None] * num_workers
        self.go: list[Any] = [None] * num_workers
        self.conns: list[Any] = [None] * num_workers
        self.inline_envs: list[Any] = []
        self.shared: SharedBuffers | None = None

    def shutdown(self, join_timeout: float = 2.0) -> None:
        processes = [(w, p) for w, p in enumerate(self.processes) if p is not None]
        shared = self.shared
        if shared is not None and shared.arrays:
            control = shared.arrays["control"]
            for w, process in processes:
                if process.is_alive():
                    control[w, CMD] = CLOSE
                    self.go[w].release()
        for env in self.inline_envs:
            _close_quietly(env)
        self.inline_envs = []
        deadline = time.monotonic() + join_timeout
        for _, process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for _, process in processes:
            if process.is_alive():  # stuck in an env's step: stop it
                process.terminate()
                process.join(1.0)
                if process.is_alive():
                    process.kill()
                    process.join()
            with contextlib.suppress(Exception):
                process.close()
        for conn in self.conns:
            if conn is not None:
                conn.close()
        n = len(self.processes)
        self.processes, self.go, self.conns = [None] * n, [None] * n, [None] * n
        if shared is not None:
            shared.close()
            self.shared = None


class Multiprocessing(VecEnv):
    """Envs stepped by ``num_workers`` workers in shared memory. Made by :func:`puffer_core.vector.make`.

    In synchronous mode (``batch_size == num_envs``) worker 0 is the calling process itself: ``send``
    wakes the worker processes, steps worker 0's envs in place while they run, then ``recv`` waits for the
    others. This hides the wake-up latency behind useful work and needs one process fewer, which matters on
    machines with few cores; with ``num_workers=1`` it amounts to the serial backend. In asynchronous mode
    every worker is a process, so the caller is free while envs step, unless ``max_processes=0``: then
    the caller steps each batch at its ``send`` and no process starts.

    Args:
        start_method: ``"spawn"`` (default) or ``"forkserver"``; ``"fork"`` is accepted but unsafe in a
            process that holds threads (torch does).
        poll_interval: seconds between liveness checks while waiting; bounds how long a dead worker goes
            unnoticed.
        spin_us: how long a waiting side polls before sleeping on its semaphore. Default: 500 µs when the
            worker processes and the caller fit on the CPUs, else 0 (spinning would only take cores from the
            workers).
        inline: step worker 0 in the calling process (default: only in synchronous mode).
        max_processes: at most this many workers (the inline one included), default the CPU count; 0 for
            none at all (every env stepped in the caller). More
            worker processes than cores cannot step envs faster, only add context switches and cache
            misses, so when ``num_workers`` is larger, neighbouring workers of the same batch are merged
            into one process. ``num_workers`` then reports the workers actually used and
            ``requested_workers`` what was asked for. Results do not depend on it.
        pin_workers: pin each worker process to its own CPU, taken from the end of the allowed set (only
            when the workers and the caller fit on the CPUs; the caller is never pinned). Off by default:
            it keeps Linux from waking a worker on its waker's CPU (the caller and its worker then take
            turns on one core while another idles), but a pinned worker cannot flee a CPU that other
            programs keep busy, which measured worse on a shared machine.
    """

    def __init__(
        self,
        creator: EnvCreator,
        probe: EnvProbe,
        num_envs: int,
        num_workers: int,
        batch_size: int,
        seed: int | None,
        start_method: str | None = None,
        poll_interval: float = 0.1,
        spin_us: float | None = None,
        inline: bool | None = None,
        max_processes: int | None = None,
        pin_workers: bool | None = None,
    ) -> None:
        _refuse_while_bootstrapping()
        self._init_common(probe, num_envs, batch_size)
        self._seed = seed
        self.requested_workers = num_workers
        #: No worker processes at all: the caller steps every env, each batch at its ``send``.
        self.in_caller = max_processes == 0
        if self.in_caller:
            if inline is False:
                raise ValueError("max_processes=0 steps every env in the caller: it contradicts inline=False")
            num_workers = self._num_batches
        else:
            num_workers = _process_count(num_workers, self._num_batches, batch_size, max_processes)
        self.num_workers = num_workers
        self.envs_per_worker = num_envs // num_workers
        self.workers_per_batch = batch_size // self.envs_per_worker
        self.poll_interval = float(poll_interval)
        self.inline = self.in_caller or (self._num_batches == 1 if inline is None else bool(inline))
        if self.inline and self._num_batches > 1 and not self.in_caller:
            raise ValueError(
                "inline=True needs batch_size == num_envs: async batches are all processes, or all stepped "
                "in the caller (max_processes=0)"
            )
        first_remote = num_workers if self.in_caller else (1 if self.inline else 0)
        self._remote = list(range(first_remote, num_workers))
        cpus = _allowed_cpus()
        fits = len(self._remote) + 1 <= len(cpus)
        if spin_us is None:
            spin_us = DEFAULT_SPIN_US if fits else 0.0
        self.spin_s = float(spin_us) * 1e-6
        self._spinner = _Spinner(self.spin_s)
        pin_workers = bool(pin_workers) and fits and hasattr(os, "sched_setaffinity")
        # Worker processes take CPUs from the end of the allowed set, leaving the first ones to the caller.
        self._worker_cpus = {w: cpus[-1 - k] for k, w in enumerate(self._remote)} if pin_workers else {}
        self.start_method = start_method or DEFAULT_START_METHOD
        if self.start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(
                f"start_method must be one of {multiprocessing.get_all_start_methods()}, got {start_method!r}"
            )
        ctx = multiprocessing.get_context(self.start_method)

        self._res = _Resources(num_workers)
        self._finalizer = weakref.finalize(self, self._res.shutdown)
        self._inline_envs: list[Any] = []
        # Per batch: infos of its envs stepped in the caller, returned by the batch's next recv.
        self._inline_infos: list[list[dict[str, float]]] = [[] for _ in range(self._num_batches)]
        self._done: list[Any] = [None] * num_workers
        try:
            layout = block_layout(
                probe.single_observation_space,
                probe.single_action_space,
                self.num_agents,
                {
                    "control": ((num_workers, CONTROL_COLUMNS), np.int64),
                    "infos": ((num_workers, INFO_CAPACITY), np.uint8),
                },
            )
            self._res.shared = SharedBuffers(layout, shared=True)
            self.buffers = self._res.shared.buffers
            self._control = self._res.shared.arrays["control"]
            self._info_area = self._res.shared.arrays["infos"]
            self._wake = ctx.Semaphore(0) if self._num_batches > 1 and self._remote else None
            for w in self._remote:
                self._done[w] = ctx.Semaphore(0)
                self._res.go[w] = ctx.Semaphore(0)
                self._start_worker(ctx, w, creator, probe, seed, layout)
            if self.inline:  # built while the worker processes start up
                ape = self.agents_per_env
                for i in range(first_remote * self.envs_per_worker):
                    buf = self.buffers.slice(i * ape, (i + 1) * ape)
                    env = creator(buf=buf, seed=None if seed is None else seed + i)
                    self._res.inline_envs.append(env)
                    probe.check_same(env, i)
                self._inline_envs = self._res.inline_envs
            # Workers report in once their envs exist (or with the error that stopped them).
            for w in self._remote:
                self._wait_worker(w)
            for w in self._remote:
                self._collect(w)
            # Everyone has opened the segment and the semaphores: their names in /dev/shm can go now, so
            # nothing is left behind even when the whole process group is SIGKILLed (no finalizer runs then).
            self._res.shared.unlink()
            for semaphore in (self._wake, *self._done, *self._res.go):
                if semaphore is not None:
                    _unlink_semaphore(semaphore)
        except BaseException:
            self.closed = True
            self._close()
            raise
        self._processes = [p for p in self._res.processes if p is not None]
        # Per batch: which workers, and views of its agent slots.
        self._batch_workers = [
            range(b * self.workers_per_batch, (b + 1) * self.workers_per_batch)
            for b in range(self._num_batches)
        ]
        # Per batch: its worker processes (the inline worker excluded).
        self._batch_remote = [[w for w in ws if self._done[w] is not None] for ws in self._batch_workers]
        self._batch_views = [
            self.buffers.slice(b * self.agents_per_batch, (b + 1) * self.agents_per_batch)
            for b in range(self._num_batches)
        ]
        # Per batch: its envs that the caller steps (worker 0's in synchronous mode, all with in_caller).
        self._batch_inline = [
            self._inline_envs[b * batch_size : (b + 1) * batch_size] for b in range(self._num_batches)
        ]
        self._in_flight = [False] * self._num_batches  # sent a command, results not yet returned by recv
        self._liveness_due = time.monotonic() + self.poll_interval
        self._worker_done = [False] * num_workers
        self._next_batch = 0

    def _start_worker(
        self, ctx: Any, w: int, creator: EnvCreator, probe: EnvProbe, seed: int | None, layout: BlockLayout
    ) -> None:
        reader, writer = ctx.Pipe(duplex=False)
        self._res.conns[w] = reader
        process = ctx.Process(
            target=_worker,
            name=f"puffer-vec-worker-{w}",
            args=(
                w,
                creator,
                w * self.envs_per_worker,
                (w + 1) * self.envs_per_worker,
                probe,
                seed,
                layout,
                self._res.shared.name,
                self._res.go[w],
                self._done[w],
                self._wake,
                writer,
                os.getpid(),
                self.spin_s,
                self._worker_cpus.get(w),
            ),
            daemon=True,
        )
        try:
            process.start()
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise TypeError(
                "the env creator and env_kwargs must be picklable for the multiprocessing backend "
                f"(a module-level function or functools.partial of one): {error}"
            ) from error
        finally:
            writer.close()  # the worker holds its end; ours closing lets recv() see EOF if it dies
        self._res.processes[w] = process

    def _describe(self, w: int) -> str:
        where = "" if w in self._remote else " (in the main process)"
        return f"worker {w}{where} (envs {w * self.envs_per_worker}..{(w + 1) * self.envs_per_worker - 1})"

    def _describe_inline(self, batch: int) -> str:
        first = batch * self.batch_size
        return f"envs {first}..{first + len(self._batch_inline[batch]) - 1} (in the main process)"

    # -- waiting -------------------------------------------------------------------------------------------
    def _check_alive(self, workers: Any = None) -> None:
        for w in self._remote if workers is None else workers:
            process = self._res.processes[w]
            if process is not None and process.exitcode is not None:
                code = process.exitcode
                if code == BOOTSTRAP_EXIT_CODE:
                    hint = BOOTSTRAP_HINT.format(method=self.start_method, main=_main_module())
                    self._fail(f"{self._describe(w)} could not start: {hint}")
                how = f"exit code {code}"
                if code < 0:
                    with contextlib.suppress(ValueError):
                        how = f"killed by signal {signal.Signals(-code).name}"
                self._fail(f"{self._describe(w)} died ({how})")

    def _wait_worker(self, w: int) -> None:
        """Block until worker ``w`` reports done, checking it is alive every ``poll_interval``."""
        done = self._done[w]
        if self._spinner.try_acquire(done):
            return
        while not done.acquire(timeout=self.poll_interval):
            self._check_alive((w,))

    def _collect(self, w: int) -> list[dict[str, float]]:
        """Status and infos of worker ``w``, which just reported done."""
        row = self._control[w]
        if row[STATUS] != STATUS_OK:
            message = self._read_pipe(w)
            if isinstance(message, InsufficientMemoryError):
                self.closed = True
                self._close()
                raise message
            self._fail(f"{self._describe(w)} failed in {message}")
        if row[INFO_COUNT]:
            size = int(row[INFO_BYTES])
            if size >= 0:
                return pickle.loads(self._info_area[w, :size])
            return pickle.loads(self._read_pipe(w, raw=True))
        return []

    def _read_pipe(self, w: int, raw: bool = False) -> Any:
        conn = self._res.conns[w]
        while not conn.poll(self.poll_interval):
            self._check_alive((w,))
        try:
            return conn.recv_bytes() if raw else conn.recv()
        except EOFError:
            self._check_alive((w,))
            self._fail(f"{self._describe(w)} closed its pipe unexpectedly")

    def _fail(self, message: str, cause: BaseException | None = None) -> None:
        """Free everything, then raise: a vector env with a failed worker cannot go on."""
        self.closed = True
        self._close()
        raise EnvWorkerError(message) from cause

    def _ready_batch(self) -> int | None:
        """A batch in flight whose workers are all done, trying batches round-robin from the last one."""
        done = self._done
        worker_done = self._worker_done
        for k in range(self._num_batches):
            b = (self._next_batch + k) % self._num_batches
            if not self._in_flight[b]:
                continue
            ready = True
            for w in self._batch_workers[b]:
                if not worker_done[w]:
                    if done[w].acquire(False):
                        worker_done[w] = True
                    else:
                        ready = False
            if ready:
                return b
        return None

    def _wait_any_batch(self) -> int:
        wake = self._wake
        # A dead worker's batch never completes, but the other batches keep waking us, so a timeout alone
        # would never come: check liveness by the clock, at most every poll_interval (one clock read per
        # recv; the check itself is a waitpid per worker).
        now = time.monotonic()
        if now >= self._liveness_due:
            self._liveness_due = now + self.poll_interval
            self._check_alive()
        while True:
            # Drop stale wake-ups first: a worker finishing after this point leaves a unit we will see.
            while wake.acquire(False):
                pass
            b = self._ready_batch()
            if b is not None:
                return b
            if self._spinner.try_acquire(wake):
                continue
            if not wake.acquire(timeout=self.poll_interval):
                self._check_alive()

    # -- envs stepped in the caller ------------------------------------------------------------------------
    def _reset_inline(self, seed: int | None) -> None:
        for b, envs in enumerate(self._batch_inline):
            try:
                self._inline_infos[b] = reset_envs(envs, seed, b * self.batch_size)
            except Exception as error:
                self._fail(f"{self._describe_inline(b)} failed in:\n{traceback.format_exc()}", error)

    def _step_inline(self, batch: int) -> None:
        try:
            self._inline_infos[batch] = step_envs(self._batch_inline[batch])
        except Exception as error:
            self._fail(f"{self._describe_inline(batch)} failed in:\n{traceback.format_exc()}", error)

    # -- the API -------------------------------------------------------------------------------------------
    def _command(self, workers: Any, command: int) -> None:
        control = self._control
        go = self._res.go
        for w in workers:
            if go[w] is None:
                continue  # the inline worker: run by the caller after waking the others
            control[w, CMD] = command
            self._worker_done[w] = False
            go[w].release()

    def _async_reset(self, seed: int | None) -> None:
        # Finish whatever is in flight first, so every worker is idle and the buffers are quiet.
        for b in range(self._num_batches):
            if self._in_flight[b]:
                for w in self._batch_workers[b]:
                    if self._done[w] is None:
                        continue
                    if not self._worker_done[w]:
                        self._wait_worker(w)
                        self._worker_done[w] = True
                    self._collect(w)
        self._control[:, SEED] = 0 if seed is None else seed
        self._control[:, HAS_SEED] = seed is not None
        self._command(range(self.num_workers), RESET)
        if self.inline:
            self._reset_inline(seed)
        self._in_flight = [True] * self._num_batches
        self._next_batch = 0

    def _recv(self) -> tuple[Any, Any, Any, Any, list[dict[str, float]], np.ndarray, Any]:
        if not any(self._in_flight):
            raise APIUsageError("recv() called before async_reset()")
        if self._num_batches == 1:
            b = 0
            for w in self._remote:
                self._wait_worker(w)
        else:
            if self.in_caller:  # every batch in flight is already stepped: the next one in turn
                b = self._next_batch
                while not self._in_flight[b]:
                    b = (b + 1) % self._num_batches
            else:
                b = self._wait_any_batch()
            self._next_batch = (b + 1) % self._num_batches
        infos: list[dict[str, float]] = []
        if self._inline_infos[b]:
            infos, self._inline_infos[b] = self._inline_infos[b], []
        control = self._control
        for w in self._batch_remote[b]:
            # STATUS and INFO_COUNT side by side: one read says whether there is anything to collect.
            if control[w, STATUS] != STATUS_OK or control[w, INFO_COUNT]:
                infos.extend(self._collect(w))
        self._in_flight[b] = False
        self._awaiting_send = b
        return self._handout(b, infos)

    def _send(self, batch: int, actions: np.ndarray) -> None:
        # The hot path of every step: kept free of per-worker checks (precomputed lists) and calls.
        np.copyto(self._batch_views[batch].actions, actions, casting="unsafe")
        self._in_flight[batch] = True
        control, go, worker_done = self._control, self._res.go, self._worker_done
        for w in self._batch_remote[batch]:
            control[w, CMD] = STEP
            worker_done[w] = False
            go[w].release()
        if self.inline:
            self._step_inline(batch)

    def _close(self) -> None:
        self._finalizer()
        # With spawn/forkserver, semaphores are named files in /dev/shm until their last reference goes.
        self._done, self._wake = [], None
