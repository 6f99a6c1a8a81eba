"""Vectorization: many envs stepped as one batch, writing into one set of buffers with no copies.

``make`` builds a vector env from an env id (``"gym/CartPole-v1"``, ``"ocean/breakout"``) or a creator
callable ``creator(buf=..., seed=..., **env_kwargs)``:

* ``backend="serial"``: every env in this process, each writing into its slice of one big set of buffers.
* ``backend="multiprocessing"``: worker processes own contiguous groups of envs and step them in place in
  shared memory; the main process reads the same memory as numpy arrays (see :mod:`.multiprocess`).

Both give identical results for the same seed: env ``i`` is created with seed ``seed + i``.
:class:`~puffer_core.vector.gymnasium.GymnasiumVectorEnv` adapts a vector env to
``gymnasium.vector.VectorEnv``.

.. warning::
    Arrays returned by ``recv``/``reset``/``step`` are views of reused buffers: copy what you keep.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Any

import numpy as np

from .base import EnvCreator, VecEnv, _close_quietly, check_sizes, probe_env, resolve_creator
from .gymnasium import GymnasiumVectorEnv
from .memory import check_buffers
from .multiprocess import Multiprocessing, _refuse_while_bootstrapping
from .serial import Passthrough, Serial
from .shared import block_layout

__all__ = ["make", "VecEnv", "Serial", "Multiprocessing", "Passthrough", "GymnasiumVectorEnv", "BACKENDS"]

BACKENDS = ("serial", "multiprocessing")


#: Below this much work taken off the caller per synchronous step, worker processes cannot pay for the
#: hand-off (waking them, waiting for them, their cache misses): measured 5-10 µs per step when both sides
#: spin and 55-60 µs when one sleeps, on a 2-vCPU VM. See :func:`make`'s ``max_processes``.
INLINE_BELOW_S = 50e-6


def _step_seconds(env: Any, probe: Any, budget_s: float = 0.002) -> float:
    """Median seconds per ``step`` of ``env`` (the probe env, thrown away afterwards), sampled actions.

    Stops after 21 steps or ``budget_s``; ``inf`` when it cannot be measured (then nothing is decided from
    it: the real envs report their own errors).
    """
    try:
        space = copy.deepcopy(probe.single_action_space)  # never move the caller's space's random stream
        space.seed(0)
        env.reset(seed=0)
        env.actions[:] = np.stack([np.asarray(space.sample()) for _ in range(probe.agents_per_env)])
        env.step(env.actions)  # first steps can be slow (lazy setup): not counted
        times: list[float] = []
        start = time.perf_counter()
        while len(times) < 21 and time.perf_counter() - start < budget_s:
            t = time.perf_counter()
            env.step(env.actions)
            times.append(time.perf_counter() - t)
        # The median: a step during which another process took our CPU must not decide.
        return float(np.median(times))
    except Exception:
        return float("inf")


def _default_workers(num_envs: int) -> int:
    cores = os.cpu_count() or 1
    return max(d for d in range(1, min(cores, num_envs) + 1) if num_envs % d == 0)


def make(
    env_creator_or_id: str | EnvCreator,
    num_envs: int = 1,
    backend: str = "serial",
    num_workers: int | None = None,
    batch_size: int | None = None,
    seed: int | None = 0,
    env_kwargs: dict[str, Any] | None = None,
    start_method: str | None = None,
    spin_us: float | None = None,
    inline: bool | None = None,
    max_processes: int | None = None,
    pin_workers: bool | None = None,
) -> VecEnv:
    """Make a vector env of ``num_envs`` copies of an env.

    Args:
        env_creator_or_id: a registered env id, or ``creator(buf=..., seed=..., **env_kwargs)`` returning a
            :class:`~puffer_core.env.PufferEnv` (picklable for ``multiprocessing``: a module-level function
            or a ``functools.partial`` of one).
        num_envs: how many envs. A multi-agent env contributes ``env.num_agents`` agent slots each.
        backend: ``"serial"`` or ``"multiprocessing"``.
        num_workers: workers (multiprocessing); must divide ``num_envs``. Default: the largest divisor of
            ``num_envs`` not above the CPU count. At most ``max_processes`` of them run (see below).
        batch_size: envs returned by one ``recv``; must divide ``num_envs`` and be a multiple of the envs per
            worker. Default ``num_envs`` (synchronous); smaller gives the async "first ready batch" mode.
        seed: env ``i`` is created with seed ``seed + i`` and first reset with it. ``None``: unseeded.
            An env object holding several copies (ocean's ``num_envs``) seeds them itself from its seed,
            so trajectories depend on how copies are grouped into objects: keep the grouping to replay.
        env_kwargs: extra keyword arguments for the creator.
        start_method: multiprocessing start method, ``"spawn"`` by default (``"forkserver"`` also works;
            ``"fork"`` is unsafe once torch threads exist).
        spin_us: multiprocessing: how long a waiting side polls before it sleeps on a
            semaphore (default 500 µs when the worker processes and the caller fit on the CPUs, else 0).
        inline: multiprocessing: step worker 0's envs in the calling process while the worker processes
            step theirs (default: in synchronous mode only; see :class:`Multiprocessing`).
        max_processes: multiprocessing: run at most this many workers (default: the CPU count); extra
            requested workers are merged with their neighbours of the same batch, since more processes
            than cores only add context switches. ``0`` starts no process: the caller steps every env,
            each batch at its ``send``. Results are identical either way. When it is not given, ``make``
            times a few steps of one env and, if the work the worker processes would take off the caller
            is below :data:`INLINE_BELOW_S` (50 µs, about a hand-off's cost), starts no process: in
            synchronous mode when ``num_envs * step_time * (1 - 1/processes)`` is below it (the caller
            steps worker 0's envs anyway), in async mode when one batch's ``batch_size * step_time`` is.
            So a cheap env is never slower than serial. Pass it to force worker processes (e.g. to
            isolate crashing envs).
        pin_workers: multiprocessing: pin each worker process to its own CPU (off by default; the caller
            itself is never pinned). See :class:`Multiprocessing`.

    Raises:
        ValueError: sizes that do not fit together, or a GPU-native env with the multiprocessing backend.
        puffer_core.UnknownEnvError: an unknown env id (the message lists the closest ones).
        puffer_core.EnvWorkerError: a worker failed to create its envs (with the worker's traceback).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    num_envs = int(num_envs)
    batch = num_envs if batch_size is None else batch_size
    if backend == "serial":
        if num_workers not in (None, 1):
            raise ValueError(
                f"the serial backend runs in this process: num_workers must be None, got {num_workers}"
            )
        check_sizes(num_envs, num_envs, batch)
    else:
        # Before anything else: in a worker still importing the main module, go no further (see there).
        _refuse_while_bootstrapping()
        workers = _default_workers(num_envs) if num_workers is None else num_workers
        num_envs, workers, batch = check_sizes(num_envs, workers, batch)
    creator = resolve_creator(env_creator_or_id, env_kwargs)

    probe, env = probe_env(creator, seed)
    if probe.device != "cpu":
        if backend != "serial":
            _close_quietly(env)
            raise ValueError(
                f"the env lives on {probe.device!r} (GPU-native): use backend='serial', which passes it "
                "through without host buffers; the multiprocessing backend only handles CPU envs"
            )
        if num_envs != 1:
            _close_quietly(env)
            raise ValueError(
                f"a GPU-native env on {probe.device!r} batches its own agents: use num_envs=1 "
                f"(got {num_envs}) and set the number of worlds in env_kwargs"
            )
        return Passthrough(env, probe, seed)
    if backend != "serial" and max_processes is None and inline is not False:
        # Cheap envs: worker processes would take less work off the caller than handing it to them costs,
        # so the caller steps every env itself (never slower than serial, same results).
        step_s = _step_seconds(env, probe)
        if batch == num_envs:
            processes = min(workers, os.cpu_count() or 1)
            if num_envs * step_s * (1 - 1 / processes) < INLINE_BELOW_S:
                max_processes = 1
        elif batch * step_s < INLINE_BELOW_S:
            # Asynchronous: stepping a batch at its send costs the caller less than one hand-off. The
            # overlap given up is at most that step time, while processes cost ~3x serial when the caller
            # does little between recv and send (measured with a 1 µs env, 2 batches of 8).
            max_processes = 0
    # The probe has private buffers; the real envs are built on slices of the shared ones.
    _close_quietly(env)
    num_agents = num_envs * probe.agents_per_env
    layout = block_layout(probe.single_observation_space, probe.single_action_space, num_agents)
    check_buffers(layout.nbytes, f"{num_envs:,} envs ({num_agents:,} agents)")
    if backend == "serial":
        return Serial(creator, probe, num_envs, batch, seed)
    return Multiprocessing(
        creator,
        probe,
        num_envs,
        workers,
        batch,
        seed,
        start_method=start_method,
        spin_us=spin_us,
        inline=inline,
        max_processes=max_processes,
        pin_workers=pin_workers,
    )
