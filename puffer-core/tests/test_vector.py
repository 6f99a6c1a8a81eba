"""Vectorization: serial and multiprocessing backends, the gymnasium adapter, faults and cleanup.

The envs below are real PufferEnvs with seeded, deterministic dynamics; they are module-level so spawned
worker processes can import them.
"""

from __future__ import annotations

import functools
import os
import signal
import time

import gymnasium
import numpy as np
import pettingzoo
import pytest
from gymnasium import spaces

import puffer_core
from puffer_core import APIUsageError, EnvWorkerError, EpisodeTracker, PufferEnv, emulation
from puffer_core.vector import GymnasiumVectorEnv, Multiprocessing, Serial

SHM = "/dev/shm"


def shm_entries() -> set[str]:
    # Only segments made by this process: other test runs may share the machine.
    prefix = f"puffer_{os.getpid()}_"
    return {name for name in os.listdir(SHM) if name.startswith(prefix)} if os.path.isdir(SHM) else set()


@pytest.fixture(autouse=True)
def no_shm_leak():
    """Every test must leave /dev/shm as it found it."""
    before = shm_entries()
    yield
    leaked = shm_entries() - before
    assert not leaked, f"shared memory left behind: {leaked}"


class Walker(PufferEnv):
    """One agent on a line; seeded random episode lengths and observation noise.

    Actions are Discrete(3) (left, stay, right). The observation holds the position, the step count, the
    last action and a noise draw, so different seeds or actions give different trajectories.
    """

    def __init__(self, buf=None, seed=None, max_steps=20, crash_at=None, sleep_s=0.0, info_copies=1):
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.single_action_space = spaces.Discrete(3)
        self.num_agents = 1
        super().__init__(buf)
        self.rng = np.random.default_rng(seed)
        self.max_steps = max_steps
        self.crash_at = crash_at
        self.sleep_s = sleep_s
        self.info_copies = info_copies
        self.steps_total = 0
        self.tracker = EpisodeTracker(1)

    def _new_episode(self):
        self.pos = 0.0
        self.t = 0
        self.goal = int(self.rng.integers(3, 8))

    def _observe(self, action):
        self.observations[0] = (self.pos, self.t, action, self.rng.standard_normal())

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._new_episode()
        self.tracker.reset()
        self._observe(-1)
        self.rewards[:] = 0
        self.terminals[:] = False
        self.truncations[:] = False
        return self.observations, []

    def step(self, actions):
        actions = self.write_actions(actions)
        self.steps_total += 1
        if self.crash_at is not None and self.steps_total >= self.crash_at:
            raise RuntimeError(f"walker exploded at step {self.steps_total}")
        if self.sleep_s:
            time.sleep(self.sleep_s)
        action = int(actions[0])
        self.pos += action - 1
        self.t += 1
        self.rewards[0] = abs(self.pos) / 10
        self.terminals[0] = abs(self.pos) >= self.goal
        self.truncations[0] = not self.terminals[0] and self.t >= self.max_steps
        infos = self.tracker.update(self.rewards, self.terminals, self.truncations) * self.info_copies
        if self.terminals[0] or self.truncations[0]:
            self._new_episode()
        self._observe(action)
        return self.observations, self.rewards, self.terminals, self.truncations, infos


class Team(PufferEnv):
    """Three agents with MultiDiscrete actions; agent 2 is only live every other step (masks)."""

    def __init__(self, buf=None, seed=None):
        self.single_observation_space = spaces.Box(0, 255, (2, 3), np.uint8)
        self.single_action_space = spaces.MultiDiscrete([4, 2])
        self.num_agents = 3
        super().__init__(buf)
        self.rng = np.random.default_rng(seed)
        self.t = 0
        self.tracker = EpisodeTracker(3)

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t = 0
        self.tracker.reset()
        self.observations[:] = self.rng.integers(0, 256, self.observations.shape, dtype=np.uint8)
        self.masks[:] = True
        return self.observations, []

    def step(self, actions):
        actions = self.write_actions(actions)
        self.t += 1
        self.masks[2] = self.t % 2 == 0
        noise = self.rng.integers(0, 50, self.observations.shape, dtype=np.uint8)
        self.observations[:] = noise + actions.sum(axis=1, dtype=np.uint8)[:, None, None]
        self.rewards[:] = actions[:, 0] * self.masks
        self.terminals[:] = self.t % 5 == 0
        self.truncations[:] = False
        infos = self.tracker.update(self.rewards, self.terminals, self.truncations, self.masks)
        if self.t % 5 == 0:
            self.t = 0
        return self.observations, self.rewards, self.terminals, self.truncations, infos


def unpicklable_creator_factory():
    def creator(buf=None, seed=None):
        return Walker(buf, seed)

    return creator


@pytest.fixture(scope="module", autouse=True)
def fast_forkserver():
    """Most tests use forkserver with preloaded modules: workers start in milliseconds instead of the ~1 s
    a spawned interpreter needs on a busy 2-core machine. Tests marked below use the default (spawn)."""
    import multiprocessing

    multiprocessing.get_context("forkserver").set_forkserver_preload(["puffer_core.vector", __name__])
    yield


def make_vec(backend, num_envs=4, creator=Walker, **kwargs):
    if backend == "multiprocessing":
        kwargs.setdefault("num_workers", 2)
        kwargs.setdefault("start_method", "forkserver")
        # Test envs are cheap enough for make() to step them all in the caller: force worker processes,
        # which are what these tests exercise (test_cheap_envs_run_in_the_caller covers the other case).
        kwargs.setdefault("max_processes", 2)
    return puffer_core.vector.make(creator, num_envs=num_envs, backend=backend, **kwargs)


def rollout(vec, steps, seed=0):
    """Sync rollout with actions derived from the observations; returns copies of everything seen."""
    obs, _ = vec.reset(seed)
    seen = [obs.copy()]
    all_infos = []
    for t in range(steps):
        actions = (np.abs(obs.reshape(len(obs), -1)[:, :1]).astype(np.int64).sum(1) + t) % 3
        if isinstance(vec.single_action_space, spaces.MultiDiscrete):
            actions = np.stack([actions % 4, actions % 2], axis=1)
        obs, rewards, terminals, truncations, infos = vec.step(actions)
        seen.append(
            np.concatenate(
                [
                    obs.reshape(len(obs), -1).astype(np.float64),
                    rewards[:, None],
                    terminals[:, None],
                    truncations[:, None],
                ],
                axis=1,
            )
        )
        all_infos.extend(infos)
    return seen, all_infos


BACKENDS = ["serial", "multiprocessing"]


# -- basics ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_attributes_and_shapes(backend):
    with make_vec(backend, num_envs=4, creator=Team) as vec:
        assert isinstance(vec, Serial if backend == "serial" else Multiprocessing)
        assert vec.num_envs == 4 and vec.num_agents == 12 and vec.agents_per_batch == 12
        assert vec.single_action_space == spaces.MultiDiscrete([4, 2])
        assert vec.device == "cpu" and vec.structured_observation_space is None
        obs, infos = vec.reset(3)
        assert obs.shape == (12, 2, 3) and obs.dtype == np.uint8 and infos == []
        obs, rewards, terminals, truncations, infos = vec.step(np.zeros((12, 2), np.int64))
        assert rewards.dtype == np.float32 and terminals.dtype == bool and truncations.shape == (12,)


@pytest.mark.parametrize("backend", BACKENDS)
def test_recv_returns_views_of_the_shared_buffers(backend):
    with make_vec(backend, num_envs=4) as vec:
        vec.async_reset(0)
        obs, rewards, terminals, truncations, infos, env_ids, masks = vec.recv()
        for name, array in zip(
            ("observations", "rewards", "terminals", "truncations", "masks"),
            (obs, rewards, terminals, truncations, masks),
        ):
            assert np.shares_memory(array, getattr(vec.buffers, name)), name
        np.testing.assert_array_equal(env_ids, np.arange(4))
        vec.send(np.ones(4, np.int64))
        obs2 = vec.recv()[0]
        assert obs2 is obs or np.shares_memory(obs2, obs)
        # The workers wrote these values into the very memory we hold: stepped once with "stay".
        np.testing.assert_array_equal(obs[:, 1], 1)


def test_multiprocessing_buffers_live_in_shared_memory():
    with make_vec("multiprocessing", num_envs=4) as vec:
        name = vec._res.shared.name
        # Mapped from /dev/shm; the name itself is already unlinked, since every worker has attached.
        with open("/proc/self/maps") as maps:
            assert f"{SHM}/{name} (deleted)" in maps.read()
        assert vec.buffers.observations.base is not None
    assert not os.path.exists(os.path.join(SHM, name))


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_trajectories_and_different_seed_differs(backend):
    with make_vec(backend, seed=7) as a, make_vec(backend, seed=7) as b, make_vec(backend, seed=8) as c:
        ra, ia = rollout(a, 30, seed=None)
        rb, ib = rollout(b, 30, seed=None)
        rc, _ = rollout(c, 30, seed=None)
    np.testing.assert_array_equal(np.stack(ra[1:]), np.stack(rb[1:]))
    assert ia == ib and len(ia) > 0
    assert not np.array_equal(np.stack(ra[1:]), np.stack(rc[1:]))


def test_env_i_gets_seed_plus_i():
    with make_vec("serial", num_envs=3, seed=10) as vec:
        obs, _ = vec.reset()
        for i in range(3):
            single = Walker(seed=10 + i)
            np.testing.assert_array_equal(single.reset()[0][0], obs[i])
        obs, _ = vec.reset(seed=100)
        np.testing.assert_array_equal(Walker().reset(seed=102)[0][0], obs[2])


@pytest.mark.parametrize(
    ("creator", "start_method", "inline"), [(Walker, None, None), (Team, "forkserver", False)]
)
def test_serial_and_multiprocessing_identical(creator, start_method, inline):
    """Also with more worker processes than this machine may have cores (max_processes=4)."""
    with make_vec("serial", num_envs=4, creator=creator, seed=1) as s:
        rs, is_ = rollout(s, 40, seed=5)
    # start_method=None is the default (spawn), as users get it.
    with make_vec(
        "multiprocessing",
        num_envs=4,
        creator=creator,
        seed=1,
        num_workers=4,
        start_method=start_method,
        inline=inline,
        max_processes=4,
    ) as m:
        assert m.inline == (inline is None) and m.num_workers == 4
        rm, im = rollout(m, 40, seed=5)
    for x, y in zip(rs, rm):
        np.testing.assert_array_equal(x, y)
    assert sorted(map(str, is_)) == sorted(map(str, im)) and len(is_) > 0


def test_workers_beyond_max_processes_are_merged():
    with make_vec("serial", num_envs=16, seed=2) as s:
        expected, expected_infos = rollout(s, 25)
    with make_vec("multiprocessing", num_envs=16, num_workers=8, max_processes=2, seed=2) as m:
        assert (m.requested_workers, m.num_workers, m.envs_per_worker, len(m._processes)) == (8, 2, 8, 1)
        got, infos = rollout(m, 25)
    for x, y in zip(expected, got):
        np.testing.assert_array_equal(x, y)
    assert sorted(map(str, infos)) == sorted(map(str, expected_infos))
    # Async batches keep their shape: 4 batches of 4 envs need at least one worker each.
    with make_vec("multiprocessing", num_envs=16, num_workers=8, batch_size=4, max_processes=2) as m:
        assert m.num_workers == 4 and m.agents_per_batch == 4


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs CPU affinity")
def test_pinned_workers_run_on_their_own_cpu():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    with make_vec("multiprocessing", num_envs=4, num_workers=2, pin_workers=True) as vec:
        (worker,) = vec._processes
        assert os.sched_getaffinity(worker.pid) == {cpus[-1]}
        assert os.sched_getaffinity(0) == set(cpus)  # the caller is left alone
        vec.reset(0)
        vec.step(np.ones(4, np.int64))


def test_masks_come_back_from_workers():
    with make_vec("multiprocessing", num_envs=2, creator=Team) as vec:
        vec.reset(0)
        _, _, _, _, _ = vec.step(np.zeros((6, 2), np.int64))
        masks = vec.buffers.masks
        np.testing.assert_array_equal(masks, [True, True, False] * 2)
        vec.step(np.zeros((6, 2), np.int64))
        assert masks.all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_infos_report_finished_episodes(backend):
    with make_vec(backend, num_envs=2, env_kwargs={"max_steps": 4}) as vec:
        _, infos = rollout(vec, 12)
    assert infos, "episodes of at most 4 steps must finish within 12 steps"
    for info in infos:
        assert set(info) >= {"episode_return", "episode_length"} and 1 <= info["episode_length"] <= 4


def test_large_infos_take_the_pipe_without_deadlock():
    """Infos larger than the shared slot (and than a pipe's 64 KiB buffer) still arrive, complete."""
    kwargs = {"max_steps": 3, "info_copies": 3000}
    with make_vec("serial", env_kwargs=kwargs) as s, make_vec("multiprocessing", env_kwargs=kwargs) as m:
        _, serial_infos = rollout(s, 7)
        _, mp_infos = rollout(m, 7)
    assert len(serial_infos) >= 4 * 3000
    assert sorted(map(str, serial_infos)) == sorted(map(str, mp_infos))


# -- async batches ------------------------------------------------------------------------------------------
def test_async_batches_are_contiguous_views_and_cover_all_envs():
    with make_vec("multiprocessing", num_envs=8, num_workers=4, batch_size=2, seed=0) as vec:
        assert vec.agents_per_batch == 2
        vec.async_reset(0)
        steps = np.zeros(8, dtype=int)
        deadline = time.perf_counter() + 20
        # On a busy machine some workers lag behind the others: that is the point of async batches.
        while not (steps >= 3).all() and time.perf_counter() < deadline:
            obs, rewards, terminals, truncations, infos, env_ids, masks = vec.recv()
            assert obs.shape == (2, 4) and len(env_ids) == 2 and env_ids[1] == env_ids[0] + 1
            assert env_ids[0] % 2 == 0
            assert np.shares_memory(obs, vec.buffers.observations)
            np.testing.assert_array_equal(obs, vec.buffers.observations[env_ids])
            # Each env saw exactly as many steps as the batches we got back for it, minus the reset.
            np.testing.assert_array_equal(obs[:, 1], [steps[env_ids[0]] % 20] * 2)
            steps[env_ids] += 1
            vec.send(np.full(2, 1))
        assert (steps >= 3).all(), steps


def test_async_returns_first_ready_batch():
    # Env 0 sleeps 0.5 s per step, the others are fast: while env 0 steps, recv() keeps returning the others.
    slow_first = functools.partial(_sleepy_walker, slow_env=0)
    with make_vec("multiprocessing", num_envs=4, num_workers=4, batch_size=1, creator=slow_first) as vec:
        vec.async_reset(0)
        while True:
            _, _, _, _, _, env_ids, _ = vec.recv()
            # Read the clock before the send: the worker may start its 0.5 s sleep before send() returns.
            sent_slow = time.perf_counter()
            vec.send(np.ones(1, np.int64))
            if env_ids[0] == 0:
                break
        order = []
        while not order or order[-1] != 0:
            obs, _, _, _, _, env_ids, _ = vec.recv()
            order.append(int(env_ids[0]))
            if env_ids[0] == 0:
                assert time.perf_counter() - sent_slow >= 0.5
                assert obs[0, 1] == 1  # it really finished its (slow) step
            vec.send(np.ones(1, np.int64))
        assert len(order) >= 4 and set(order[:-1]) <= {1, 2, 3}, order


def _sleepy_walker(buf=None, seed=None, slow_env=0):
    return Walker(buf, seed, sleep_s=0.5 if seed == slow_env else 0.0)


def test_serial_async_batches_round_robin():
    with make_vec("serial", num_envs=4, batch_size=2) as vec:
        vec.async_reset(0)
        ids = []
        for _ in range(4):
            *_, env_ids, _ = vec.recv()
            ids.append(tuple(env_ids))
            vec.send(np.zeros(2, np.int64))
        assert ids == [(0, 1), (2, 3), (0, 1), (2, 3)]
        with pytest.raises(APIUsageError, match="batch_size == num_envs"):
            vec.step(np.zeros(2, np.int64))


@pytest.mark.parametrize("max_processes", [None, 4], ids=["cheap-in-caller", "processes"])
def test_async_serial_matches_multiprocessing_per_env(max_processes):
    """Batches may come back in another order, but each env sees the same trajectory."""

    def run(backend):
        kwargs = {}
        if backend == "multiprocessing":
            kwargs = {"num_workers": 4, "start_method": "forkserver", "max_processes": max_processes}
        with puffer_core.vector.make(
            Walker, num_envs=4, batch_size=2, backend=backend, seed=3, **kwargs
        ) as vec:
            vec.async_reset()
            traj = {i: [] for i in range(4)}
            deadline = time.monotonic() + 30
            # Batches come back in any order, and a lagging worker may return rarely: go on until every
            # env has been seen five times.
            while min(len(v) for v in traj.values()) < 5 and time.monotonic() < deadline:
                obs, _, _, _, _, env_ids, _ = vec.recv()
                for k, i in enumerate(env_ids):
                    traj[int(i)].append(obs[k].copy())
                vec.send((obs[:, 0].astype(np.int64) + env_ids) % 3)
            return {i: np.stack(v[:5]) for i, v in traj.items()}

    serial, mp = run("serial"), run("multiprocessing")
    for i in range(4):
        np.testing.assert_array_equal(serial[i], mp[i])


class SlowWalker(Walker):
    """A Walker whose step costs about 200 µs: worth worker processes."""

    def step(self, actions):
        end = time.perf_counter() + 200e-6
        while time.perf_counter() < end:
            pass
        return super().step(actions)


def test_cheap_envs_run_in_the_caller(monkeypatch):
    """Synchronous multiprocessing with envs too cheap to pay for a hand-off steps them all in the caller
    (no process), with results identical to serial; costly envs, or an explicit max_processes, get worker
    processes."""
    # make() times the probe env: pin the cheap env's time, so a preempted timing on a busy machine cannot
    # flip the decision (SlowWalker's 200 µs busy-wait is costly under any noise).
    real_step_seconds = puffer_core.vector._step_seconds
    monkeypatch.setattr(
        puffer_core.vector,
        "_step_seconds",
        lambda env, probe: 1e-6 if type(env) is Walker else real_step_seconds(env, probe),
    )
    with puffer_core.vector.make(Walker, num_envs=4, backend="multiprocessing", num_workers=2, seed=3) as m:
        assert m.num_workers == 1 and m.requested_workers == 2 and m._processes == []
        with make_vec("serial", seed=3) as s:
            (got, got_infos), (want, want_infos) = rollout(m, 30), rollout(s, 30)
        assert len(got) == len(want) and got_infos == want_infos
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    with puffer_core.vector.make(SlowWalker, num_envs=4, backend="multiprocessing", num_workers=2) as m:
        assert m.num_workers == 2 and len(m._processes) == 1
    with make_vec("multiprocessing", seed=3) as m:  # max_processes=2 given
        assert m.num_workers == 2 and len(m._processes) == 1
    # Asynchronous batches of cheap envs: each batch is stepped in the caller at its send, and recv hands
    # the batches out in turn, exactly like the serial backend's async mode.
    with puffer_core.vector.make(
        Walker, num_envs=4, backend="multiprocessing", num_workers=2, batch_size=2, seed=3
    ) as m, make_vec("serial", batch_size=2, seed=3) as s:
        assert m.in_caller and m._processes == []
        for vec in (m, s):
            vec.async_reset(3)
        for t in range(40):
            got, want = m.recv(), s.recv()
            for a, b in zip(got, want):
                if isinstance(a, np.ndarray):
                    np.testing.assert_array_equal(a, b)
                else:
                    assert a == b  # infos
            actions = (got[0][:, 0].astype(np.int64) + t) % 3
            m.send(actions)
            s.send(actions)
    # Costly envs in async batches get one process per worker (the caller is free while they step).
    with puffer_core.vector.make(
        SlowWalker, num_envs=4, backend="multiprocessing", num_workers=2, batch_size=2
    ) as m:
        assert not m.in_caller and len(m._processes) == 2
    with pytest.raises(ValueError, match="contradicts inline=False"):
        puffer_core.vector.make(Walker, num_envs=4, backend="multiprocessing", max_processes=0, inline=False)
    with pytest.raises(ValueError, match="max_processes must be a positive int, or 0 .* got -1"):
        puffer_core.vector.make(Walker, num_envs=4, backend="multiprocessing", max_processes=-1)


def test_in_caller_async_env_error_names_the_envs():
    creator = functools.partial(_crashing_walker, crash_env=3)
    with puffer_core.vector.make(
        creator, num_envs=4, backend="multiprocessing", num_workers=2, batch_size=2, max_processes=0
    ) as vec:
        vec.async_reset(0)
        with pytest.raises(EnvWorkerError, match=r"envs 2\.\.3 \(in the main process\) failed") as info:
            for _ in range(20):
                vec.recv()
                vec.send(np.ones(2, np.int64))
        assert "walker exploded at step 3" in str(info.value) and "Traceback" in str(info.value)
        assert vec.closed


def test_spinner_backs_off_when_spinning_does_not_pay():
    import threading

    from puffer_core.vector.multiprocess import _Spinner

    spinner = _Spinner(0.002)
    spinner._PREEMPTED_S = 10.0  # this test is about the time bound, even on a busy machine
    never = threading.Semaphore(0)
    start = time.perf_counter()
    assert not spinner.try_acquire(never)  # spins 2 ms in vain...
    assert time.perf_counter() - start >= 0.002
    assert (spinner.misses, spinner.skip) == (1, 1)  # ...so the next wait sleeps at once
    start = time.perf_counter()
    assert not spinner.try_acquire(never)
    assert time.perf_counter() - start < 0.002 and spinner.skip == 0
    assert not spinner.try_acquire(never)  # spins again, in vain: the back-off doubles
    assert (spinner.misses, spinner.skip) == (2, 3)
    for _ in range(3):
        assert not spinner.try_acquire(never)
    spinner.misses = 10
    assert not spinner.try_acquire(never)
    assert spinner.skip == _Spinner._MAX_SKIP  # bounded: a spin is retried every so often
    ready = threading.Semaphore(1)
    assert spinner.try_acquire(ready)  # immediate success, even while backing off
    patient = _Spinner(1.0)
    # The releasing thread needs the GIL: a poll gap that long would read as preemption.
    patient._PREEMPTED_S = 10.0
    patient.misses = 3
    threading.Timer(0.001, ready.release).start()
    start = time.perf_counter()
    assert patient.try_acquire(ready) and patient.misses == 0  # caught by the spin: re-armed
    assert time.perf_counter() - start < 0.5
    assert not _Spinner(0.0).try_acquire(never)


def test_spinner_stops_when_it_loses_its_cpu(monkeypatch):
    import threading

    from puffer_core.vector import multiprocess

    # Each yield hands the CPU to another process for 1 ms: an oversubscribed machine. The spin must give
    # up at once rather than run out its (here 1 s) budget, and back off.
    monkeypatch.setattr(multiprocess.os, "sched_yield", lambda: time.sleep(0.001))
    spinner = multiprocess._Spinner(1.0)
    start = time.perf_counter()
    assert not spinner.try_acquire(threading.Semaphore(0))
    assert time.perf_counter() - start < 0.5
    assert spinner.skip == 1


# -- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_actions_name_expected_and_received(backend):
    with make_vec(backend, num_envs=4) as vec:
        vec.reset(0)
        with pytest.raises(ValueError, match=r"shape \(4,\), got \(3,\)"):
            vec.step(np.zeros(3, np.int64))
        with pytest.raises(ValueError, match="must be integers, got dtype float"):
            vec.step(np.zeros(4, np.float32))
        with pytest.raises(ValueError, match=r"out of range: expected 0 <= action <= 2"):
            vec.step(np.array([0, 1, 3, 0]))
        # Nothing was sent: the env still steps normally afterwards.
        obs, *_ = vec.step(np.array([2, 2, 2, 2]))
        np.testing.assert_array_equal(obs[:, 0], 1)


@pytest.mark.parametrize(
    "space",
    [
        spaces.Discrete(3),
        spaces.Discrete(3, start=1),
        spaces.MultiDiscrete([3, 4]),
        spaces.MultiDiscrete([3, 4], start=[1, 0]),
        spaces.MultiBinary(3),
        spaces.Box(-1, 1, (2,)),
    ],
)
def test_fast_action_check_agrees_with_validate_actions(space):
    """The vectorizer's fast path accepts exactly what puffer_core.spaces.validate_actions accepts."""
    from puffer_core.spaces import validate_actions
    from puffer_core.vector.base import ActionCheck

    check = ActionCheck(space, 4)
    rng = np.random.default_rng(0)
    for dtype in (np.int8, np.uint8, np.int32, np.int64, np.uint64, np.float32, np.float64, bool):
        for trial in range(40):
            shape = check.shape if trial % 10 else (3, *check.shape[1:])
            values = rng.integers(-3, 6, shape).astype(dtype)
            if values.dtype.kind == "f" and trial % 5 == 0:
                values.flat[0] = np.nan
            try:
                validate_actions(values, space, 4)
                expected = None
            except ValueError as error:
                expected = str(error)
            if expected is None:
                assert check(values) is not None
            else:
                with pytest.raises(ValueError) as error:
                    check(values)
                assert str(error.value) == expected


def test_bad_sizes_and_arguments():
    with pytest.raises(ValueError, match="multiple of num_workers"):
        puffer_core.vector.make(Walker, num_envs=5, backend="multiprocessing", num_workers=2)
    with pytest.raises(ValueError, match="must divide num_envs"):
        puffer_core.vector.make(Walker, num_envs=4, batch_size=3)
    with pytest.raises(ValueError, match="multiple of the envs per worker"):
        puffer_core.vector.make(Walker, num_envs=8, backend="multiprocessing", num_workers=2, batch_size=2)
    with pytest.raises(ValueError, match="backend must be one of"):
        puffer_core.vector.make(Walker, backend="threads")
    with pytest.raises(TypeError, match="env id"):
        puffer_core.vector.make(42)
    with pytest.raises(puffer_core.UnknownEnvError):
        puffer_core.vector.make("nope/missing")


def _mismatched_creator(buf=None, seed=None):
    env = Walker(buf, seed)
    if seed != 0:  # same buffer layout, different action space: only the vectorizer can tell
        env.single_action_space = spaces.Discrete(5)
    return env


@pytest.mark.parametrize("backend", BACKENDS)
def test_envs_that_disagree_on_spaces_are_refused(backend):
    error = ValueError if backend == "serial" else EnvWorkerError
    with pytest.raises(error, match="every env of a vector env must match"):
        make_vec(
            backend,
            num_envs=2,
            creator=_mismatched_creator,
            **({"num_workers": 2} if backend != "serial" else {}),
        )


def test_async_reset_while_batches_are_in_flight_reseeds_every_env():
    with (
        make_vec("multiprocessing", num_envs=4, num_workers=4, batch_size=1) as vec,
        make_vec("serial") as ref,
    ):
        vec.async_reset(0)
        for _ in range(6):
            vec.recv()
            vec.send(np.full(1, 2))
        vec.async_reset(5)  # three batches are still stepping: they are drained first
        got = {}
        while len(got) < 4:  # fast workers may come back several times before a lagging one
            obs, _, _, _, _, env_ids, _ = vec.recv()
            got.setdefault(int(env_ids[0]), obs[0].copy())
            vec.send(np.full(1, 1))
        expected, _ = ref.reset(5)
        for i in range(4):
            np.testing.assert_array_equal(got[i], expected[i])


def test_api_misuse():
    with make_vec("serial") as vec:
        with pytest.raises(APIUsageError, match="before async_reset"):
            vec.recv()
        with pytest.raises(APIUsageError, match="before recv"):
            vec.send(np.zeros(4, np.int64))
        vec.async_reset(0)
        vec.recv()
        with pytest.raises(APIUsageError, match="twice"):
            vec.recv()
    with pytest.raises(APIUsageError, match="closed"):
        vec.reset()


def test_unpicklable_creator_is_a_clear_error():
    with pytest.raises(TypeError, match="picklable"):
        make_vec("multiprocessing", creator=unpicklable_creator_factory())


# -- faults ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("crash_env", "inline"), [(None, True), (3, True), (None, False)])
def test_worker_exception_carries_traceback(crash_env, inline):
    """An env that raises, in the main process's inline worker or in a worker process."""
    creator = functools.partial(_crashing_walker, crash_env=crash_env)
    vec = make_vec("multiprocessing", num_envs=4, creator=creator, inline=inline)
    vec.reset(0)
    vec.step(np.ones(4, np.int64))
    vec.step(np.ones(4, np.int64))
    with pytest.raises(EnvWorkerError) as error:
        vec.step(np.ones(4, np.int64))
    message = str(error.value)
    assert "walker exploded at step 3" in message and "Traceback" in message and "in step" in message
    assert ("in the main process" in message) == (inline and crash_env is None)
    assert vec.closed
    vec.close()  # idempotent after a failure


def _crashing_walker(buf=None, seed=None, crash_env=None):
    crash = crash_env is None or seed == crash_env
    return Walker(buf, seed, crash_at=3 if crash else None)


def test_worker_failing_to_create_env_is_reported():
    with pytest.raises(EnvWorkerError, match="ZeroDivisionError"):
        make_vec("multiprocessing", creator=functools.partial(_creator_failing_in_worker, fail_seed=3))


def _creator_failing_in_worker(buf=None, seed=None, fail_seed=3):
    if seed == fail_seed:
        1 / 0  # noqa: B018
    return Walker(buf, seed)


def test_sigkilled_worker_is_an_error_within_seconds():
    vec = make_vec("multiprocessing", num_envs=4, start_method=None)
    vec.reset(0)
    os.kill(vec._res.processes[1].pid, signal.SIGKILL)
    start = time.perf_counter()
    with pytest.raises(EnvWorkerError, match="worker 1 .*died.*SIGKILL"):
        for _ in range(100):
            vec.step(np.ones(4, np.int64))
    assert time.perf_counter() - start < 3
    assert vec.closed


def test_sigkilled_worker_while_waiting_async():
    vec = make_vec(
        "multiprocessing",
        num_envs=4,
        num_workers=4,
        batch_size=1,
        creator=functools.partial(_sleepy_walker, slow_env=-1),
    )
    vec.async_reset(0)
    for _ in range(4):
        vec.recv()
        vec.send(np.ones(1, np.int64))
    for process in vec._processes:
        os.kill(process.pid, signal.SIGKILL)
    start = time.perf_counter()
    with pytest.raises(EnvWorkerError, match="died"):
        for _ in range(8):
            vec.recv()
            vec.send(np.ones(1, np.int64))
    assert time.perf_counter() - start < 3


def test_dead_worker_is_an_error_while_another_batch_keeps_running():
    # The other batch's worker keeps waking recv(), so only a clock-based liveness check notices.
    vec = make_vec("multiprocessing", num_envs=8, num_workers=4, batch_size=4, max_processes=4)
    vec.async_reset(0)
    for _ in range(4):
        vec.recv()
        vec.send(np.ones(4, np.int64))
    victim = vec._res.processes[vec._batch_remote[0][0]]
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(5)
    start = time.perf_counter()
    with pytest.raises(EnvWorkerError, match="died.*SIGKILL"):
        for _ in range(100_000):
            vec.recv()
            vec.send(np.ones(4, np.int64))
    assert time.perf_counter() - start < 1.0
    assert vec.closed


def test_close_is_idempotent_and_stops_workers():
    vec = make_vec("multiprocessing", num_envs=4)
    processes = list(vec._processes)
    vec.reset(0)
    vec.close()
    vec.close()
    assert all(p._closed for p in processes)
    with pytest.raises(APIUsageError):
        vec.step(np.ones(4, np.int64))


def test_close_while_batches_are_in_flight():
    vec = make_vec("multiprocessing", num_envs=4, num_workers=4, batch_size=1)
    vec.async_reset(0)
    vec.recv()
    vec.close()


def test_views_held_after_close_stay_valid():
    vec = make_vec("multiprocessing", num_envs=4)
    obs, _ = vec.reset(0)
    expected = obs.copy()
    vec.close()
    np.testing.assert_array_equal(obs, expected)  # still mapped: no segfault, and /dev/shm is clean


def test_dropped_without_close_is_freed():
    vec = make_vec("multiprocessing", num_envs=2)
    vec.reset(0)
    name = vec._res.shared.name
    del vec
    import gc

    gc.collect()
    assert not os.path.exists(os.path.join(SHM, name))


def test_names_leave_dev_shm_once_workers_have_attached():
    # Nothing named is left for a SIGKILL of the whole process group to leak, yet the workers keep working.
    vec = make_vec("multiprocessing", num_envs=4, num_workers=4, batch_size=2, max_processes=4)
    semaphores = [sem for sem in [*vec._done, *vec._res.go, vec._wake] if sem is not None]
    names = [sem._semlock.name.lstrip("/") for sem in semaphores]
    assert len(names) == 9
    assert not [n for n in names if os.path.exists(os.path.join(SHM, "sem." + n))]
    assert not os.path.exists(os.path.join(SHM, vec._res.shared.name))
    vec.async_reset(0)
    for _ in range(20):
        vec.recv()
        vec.send(np.ones(2, np.int64))
    vec.close()


ORPHAN_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
import puffer_core.vector
from test_vector import Walker
if __name__ == "__main__":
    vec = puffer_core.vector.make(
        Walker, num_envs=4, backend="multiprocessing", num_workers=2, batch_size=2, max_processes=2
    )
    vec.async_reset(0)
    print(" ".join(str(p.pid) for p in vec._processes), vec._res.shared.name, flush=True)
    time.sleep(60)
"""


def test_workers_and_shared_memory_go_away_when_the_main_process_is_killed(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT.format(tests=os.path.dirname(__file__)))
    main = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        *pids, name = main.stdout.readline().split()
        assert len(pids) == 2
    finally:
        main.kill()
        main.wait()
    deadline = time.monotonic() + 10
    alive = lambda: [p for p in pids if os.path.exists(f"/proc/{p}") and "Z" not in _proc_state(p)]  # noqa: E731
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(), "orphaned workers must exit"
    assert not os.path.exists(os.path.join(SHM, name)), "the segment's name must be gone"


def test_a_sigkilled_process_group_leaves_nothing_in_dev_shm(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "group.py"
    script.write_text(ORPHAN_SCRIPT.format(tests=os.path.dirname(__file__)))
    before = set(os.listdir(SHM))
    main = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )
    try:
        *pids, name = main.stdout.readline().split()
        assert len(pids) == 2
    finally:
        os.killpg(main.pid, signal.SIGKILL)  # workers and the resource tracker too: no finalizer runs
        main.wait()
    ours = {n for n in set(os.listdir(SHM)) - before if name in n or n.startswith("sem.mp-")}
    assert not ours, f"left in /dev/shm: {ours}"


UNGUARDED_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import numpy as np
import puffer_core.vector
from test_vector import Walker
vec = puffer_core.vector.make(Walker, num_envs=4, backend="multiprocessing", num_workers=2, max_processes=2)
vec.reset(0)
vec.close()
print("finished")
"""


def test_a_script_without_a_main_guard_is_told_what_to_do(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT.format(tests=os.path.dirname(__file__)))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "finished" not in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert "EnvWorkerError" in last and "could not start" in last
    assert "unguarded.py" in last and 'if __name__ == "__main__":' in last
    # The guarded script works.
    guarded = UNGUARDED_SCRIPT.replace("vec = ", "if __name__ == '__main__':\n    vec = ")
    for line in ("\nvec.", '\nprint("finished")'):
        guarded = guarded.replace(line, line.replace("\n", "\n    "))
    script.write_text(guarded.format(tests=os.path.dirname(__file__)))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "finished" in result.stdout, result.stderr


def _proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


# -- GPU-native envs ---------------------------------------------------------------------------------------
class FakeDeviceEnv(PufferEnv):
    """Stands in for a GPU-native env: declares a device and keeps its own (here: list) buffers."""

    device = "cuda:0"

    def __init__(self, buf=None, seed=None):
        self.single_observation_space = spaces.Box(0, 1, (2,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.num_agents = 5
        self.rewards, self.terminals, self.truncations, self.masks = "r", "d", "t", "m"
        super().__init__(buf)
        self.seed = seed

    def reset(self, seed=None):
        return ("obs", seed), []

    def step(self, actions):
        return ("obs", actions), self.rewards, self.terminals, self.truncations, [{"episode_return": 1.0}]


def test_gpu_native_env_passes_through_serial():
    with puffer_core.vector.make(FakeDeviceEnv, seed=4) as vec:
        assert vec.device == "cuda:0" and vec.num_agents == 5
        obs, _ = vec.reset()
        assert obs == ("obs", 4)
        sentinel = object()
        obs, rewards, terminals, truncations, infos = vec.step(sentinel)
        assert obs[1] is sentinel and rewards == "r" and infos == [{"episode_return": 1.0}]


def test_gpu_native_env_refused_by_multiprocessing():
    with pytest.raises(ValueError, match="GPU-native.*serial"):
        puffer_core.vector.make(FakeDeviceEnv, backend="multiprocessing", num_workers=1)
    with pytest.raises(ValueError, match="num_envs=1"):
        puffer_core.vector.make(FakeDeviceEnv, num_envs=2)


# -- gymnasium adapter -----------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_gymnasium_adapter(backend):
    vec = make_vec(backend, num_envs=4, env_kwargs={"max_steps": 5})
    env = gymnasium.wrappers.vector.RecordEpisodeStatistics(
        GymnasiumVectorEnv(vec, autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    )
    assert isinstance(env.unwrapped, gymnasium.vector.VectorEnv)
    assert env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
    assert env.num_envs == 4 and env.action_space == spaces.MultiDiscrete([3, 3, 3, 3])
    obs, infos = env.reset(seed=0)
    assert obs in env.observation_space and infos == {}
    env.action_space.seed(0)
    returns, puffer_returns = [], []
    previous = obs
    for _ in range(30):
        obs, rewards, terminations, truncations, infos = env.step(env.action_space.sample())
        assert obs.shape == (4, 4) and rewards.shape == (4,) and terminations.dtype == bool
        assert not np.shares_memory(obs, previous)  # copies by default, as gymnasium users expect
        previous = obs
        if "episode" in infos:
            returns.extend(infos["episode"]["r"][infos["_episode"]].tolist())
        if "episode_return" in infos:  # the adapter's own statistics, in gymnasium's dict-of-arrays form
            puffer_returns.extend(infos["episode_return"][infos["_episode_return"]].tolist())
    assert len(returns) > 0
    np.testing.assert_allclose(sorted(returns), sorted(puffer_returns), rtol=1e-6)
    env.close()
    assert vec.closed


def test_gymnasium_adapter_refuses_async_vec():
    with make_vec("serial", num_envs=4, batch_size=2) as vec:
        with pytest.raises(ValueError, match="batch_size == num_envs"):
            GymnasiumVectorEnv(vec)


# -- emulated gymnasium envs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_gym_cartpole_matches_gymnasium_sync_vector_env(backend):
    """Puffer (through the adapter) and gymnasium's own SyncVectorEnv in SAME_STEP autoreset mode produce
    bit-identical trajectories for the same seeds and actions, episode ends included."""
    vec = puffer_core.vector.make(
        "gym/CartPole-v1", num_envs=4, backend=backend, seed=10, **_mp_kwargs(backend, num_workers=2)
    )
    ours = GymnasiumVectorEnv(vec, autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    reference = gymnasium.vector.SyncVectorEnv(
        [lambda: gymnasium.make("CartPole-v1")] * 4, autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP
    )
    try:
        np.testing.assert_array_equal(ours.reset(seed=10)[0], reference.reset(seed=10)[0])
        rng = np.random.default_rng(0)
        episodes = 0
        for _ in range(150):
            actions = rng.integers(0, 2, 4)
            got, want = ours.step(actions), reference.step(actions)
            for x, y in zip(got[:4], want[:4]):
                np.testing.assert_array_equal(x, y)
            episodes += int(got[4].get("_episode_return", np.zeros(4, bool)).sum())
        assert episodes >= 5  # random CartPole episodes last ~20 steps: resets were exercised
    finally:
        ours.close()
        reference.close()


def _mp_kwargs(backend, **kwargs):
    if backend != "multiprocessing":
        return {}
    return {"start_method": "forkserver", "max_processes": 2, **kwargs}


@pytest.mark.parametrize("backend", BACKENDS)
def test_gym_structured_spaces_pass_through(backend):
    with puffer_core.vector.make(
        "gym/Blackjack-v1", num_envs=2, backend=backend, seed=1, **_mp_kwargs(backend, num_workers=2)
    ) as vec:
        assert vec.emulated
        assert vec.structured_observation_space == spaces.Tuple(
            (spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2))
        )
        obs, _ = vec.reset()
        reference = gymnasium.make("Blackjack-v1").reset(seed=2)[0]
        unflattened = emulation.unflatten(obs[1], vec.structured_observation_space)
        assert tuple(int(x) for x in unflattened) == tuple(int(x) for x in reference)


class Duel(pettingzoo.ParallelEnv):
    """Two agents with Dict observations; agent "b" leaves at step 2 and the episode ends at step 4."""

    metadata = {"name": "duel_v0"}
    possible_agents = ["a", "b"]

    def __init__(self):
        self.agents = []

    def observation_space(self, agent):
        return spaces.Dict({"pos": spaces.Box(-100, 100, (2,), np.float32), "turn": spaces.Discrete(5)})

    def action_space(self, agent):
        return spaces.Discrete(3)

    def reset(self, seed=None, options=None):
        self.rng = np.random.default_rng(seed) if seed is not None else getattr(self, "rng", None)
        self.rng = self.rng if self.rng is not None else np.random.default_rng()
        self.t = 0
        self.agents = list(self.possible_agents)
        self.pos = {a: self.rng.normal(size=2).astype(np.float32) for a in self.agents}
        return {a: self._obs(a) for a in self.agents}, {a: {} for a in self.agents}

    def _obs(self, agent):
        return {"pos": self.pos[agent], "turn": self.t}

    def step(self, actions):
        self.t += 1
        for agent, action in actions.items():
            self.pos[agent] = self.pos[agent] + (int(action) - 1)
        rewards = {a: float(self.pos[a][0]) for a in self.agents}
        terminations = {a: self.t >= 4 or (a == "b" and self.t >= 2) for a in self.agents}
        truncations = {a: False for a in self.agents}
        obs = {a: self._obs(a) for a in self.agents}
        infos = {a: {} for a in self.agents}
        self.agents = [a for a in self.agents if not terminations[a]]
        return obs, rewards, terminations, truncations, infos


def _duel(buf=None, seed=None):
    return emulation.PettingZooPufferEnv(Duel, buf=buf, seed=seed)


def test_pettingzoo_env_serial_equals_multiprocessing():
    with (
        make_vec("serial", num_envs=4, creator=_duel, seed=3) as s,
        make_vec("multiprocessing", num_envs=4, creator=_duel, seed=3) as m,
    ):
        assert m.num_agents == 8 and m.structured_observation_space is not None
        rs, serial_infos = rollout(s, 12)
        rm, mp_infos = rollout(m, 12)
        for vec in (s, m):
            vec.reset(0)
            for _ in range(3):  # agent "b" finished at step 2: its slots are dead in step 3
                vec.step(np.ones(8, np.int64))
            np.testing.assert_array_equal(vec.buffers.masks, [True, False] * 4)
    for x, y in zip(rs, rm):
        np.testing.assert_array_equal(x, y)
    assert sorted(map(str, serial_infos)) == sorted(map(str, mp_infos)) and serial_infos


# -- sizes that cannot fit ----------------------------------------------------------------------------------
def test_buffers_larger_than_memory_are_refused_before_anything_is_made(monkeypatch):
    from puffer_core.vector import memory

    made = []
    monkeypatch.setattr(memory, "available_bytes", lambda: 10_000)
    creator = functools.partial(_counting_walker, made)
    message = r"1,000 envs .*need .* of buffers.*9\.8 KB"
    with pytest.raises(puffer_core.InsufficientMemoryError, match=message):
        puffer_core.vector.make(creator, num_envs=1000)
    assert len(made) == 1  # the probe only


@pytest.mark.parametrize("backend", ["serial", "multiprocessing"])
def test_envs_that_will_not_fit_are_stopped_early_in_one_line(backend, monkeypatch):
    # 100 KB of memory per env, 40 MB "available": 10,000 envs cannot fit; found after 64 envs, not 10,000.
    monkeypatch.setenv("PUFFER_TEST_FAKE_AVAILABLE", str(40 << 20))
    kwargs = {"num_workers": 2, "max_processes": 2} if backend == "multiprocessing" else {}
    start = time.perf_counter()
    with pytest.raises(puffer_core.InsufficientMemoryError, match=r"10,000 envs would need about .* per env"):
        puffer_core.vector.make(_fat_walker, num_envs=10_000, backend=backend, **kwargs)
    assert time.perf_counter() - start < 20


def _counting_walker(made, buf=None, seed=None):
    made.append(seed)
    return Walker(buf, seed)


def _fat_walker(buf=None, seed=None):
    import puffer_core.vector.memory as memory

    fake = os.environ.get("PUFFER_TEST_FAKE_AVAILABLE")
    if fake:  # in workers too: spawn does not carry the test's monkeypatch
        memory.available_bytes = lambda: int(fake)
    env = Walker(buf, seed)
    env.ballast = np.ones(100_000, np.uint8)  # touched, so it is resident
    return env
