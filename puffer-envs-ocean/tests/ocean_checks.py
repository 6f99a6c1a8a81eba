"""Checks every Ocean env must pass; env test files call :func:`check_all` and add their own rule tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

import puffer_core
from puffer_core import Buffers, EpisodeTracker


def random_actions(env: Any, rng: np.random.Generator) -> np.ndarray:
    space = env.single_action_space
    if isinstance(space, spaces.Discrete):
        return rng.integers(0, space.n, size=env.num_agents, dtype=np.int32)
    return rng.integers(0, space.nvec, size=(env.num_agents, *space.shape), dtype=np.int32)


def check_spaces_and_dtypes(env_id: str, **kwargs: Any) -> None:
    env = puffer_core.make(env_id, seed=0, **kwargs)
    obs_space = env.single_observation_space
    assert isinstance(obs_space, spaces.Box)
    assert obs_space.dtype in (np.uint8, np.float32)
    assert env.num_agents == env.num_envs * env.agents_per_env
    obs, infos = env.reset(seed=1)
    assert infos == []
    assert obs is env.observations
    assert obs.shape == (env.num_agents, *obs_space.shape) and obs.dtype == obs_space.dtype
    assert np.all(obs >= obs_space.low) and np.all(obs <= obs_space.high)
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs, rewards, terminals, truncations, infos = env.step(random_actions(env, rng))
        assert obs.shape == (env.num_agents, *obs_space.shape) and obs.dtype == obs_space.dtype
        assert np.all(obs >= obs_space.low) and np.all(obs <= obs_space.high), "observation out of its Box"
        assert rewards.shape == (env.num_agents,) and rewards.dtype == np.float32
        assert terminals.dtype == bool and truncations.dtype == bool
        assert np.all(np.isfinite(rewards))
        assert not np.any(terminals & truncations), "an episode ends either by termination or truncation"
        assert isinstance(infos, list)
    env.close()
    env.close()  # twice is fine


def check_determinism(env_id: str, steps: int = 200, **kwargs: Any) -> None:
    def rollout(seed: int) -> list[np.ndarray]:
        env = puffer_core.make(env_id, seed=seed, **kwargs)
        obs, _ = env.reset()
        rng = np.random.default_rng(123)
        trace = [obs.copy()]
        for _ in range(steps):
            obs, rewards, terminals, truncations, _ = env.step(random_actions(env, rng))
            trace += [obs.copy(), rewards.copy(), terminals.copy(), truncations.copy()]
        env.close()
        return trace

    first, again, other = rollout(7), rollout(7), rollout(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True)), "same seed, different result"
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True)), "seed has no effect"

    # reset(seed) repeats the run of a fresh env with that seed
    env = puffer_core.make(env_id, seed=99, **kwargs)
    rng = np.random.default_rng(5)
    for _ in range(20):
        env.step(random_actions(env, rng))
    obs, _ = env.reset(seed=7)
    assert np.array_equal(obs, first[0])
    env.close()


def check_autoreset_and_stats(env_id: str, steps: int = 2000, **kwargs: Any) -> int:
    """Episode statistics from C match a Python tracker over the same rewards; returns episodes seen."""
    env = puffer_core.make(env_id, seed=3, log_interval=1, **kwargs)
    env.reset()
    tracker = EpisodeTracker(env.num_agents)
    rng = np.random.default_rng(3)
    episodes = 0
    for _ in range(steps):
        _, rewards, terminals, truncations, infos = env.step(random_actions(env, rng))
        expected = tracker.update(rewards, terminals, truncations, env.masks.copy())
        if not expected:
            assert infos == []
            continue
        assert len(infos) == 1
        info = infos[0]
        assert info["n"] == len(expected)
        for key in ("episode_return", "episode_length"):
            mean = np.mean([e[key] for e in expected])
            assert info[key] == pytest.approx(mean, rel=1e-4, abs=1e-4), key
        assert all(isinstance(v, float) for v in info.values())
        episodes += len(expected)
    assert episodes > 0, "no episode finished: the test proves nothing"
    env.close()
    return episodes


def check_bad_input(env_id: str, **kwargs: Any) -> None:
    env = puffer_core.make(env_id, seed=0, **kwargs)
    env.reset()
    space = env.single_action_space
    high = space.n if isinstance(space, spaces.Discrete) else space.nvec
    bad = np.zeros(env.actions.shape, dtype=np.int32)
    bad.reshape(-1)[-1] = np.asarray(high).reshape(-1)[-1]
    before = env.observations.copy()
    with pytest.raises(ValueError, match="out of range"):
        env.step(bad)  # int32: C finds it
    assert np.array_equal(env.observations, before), "a rejected batch must not step"
    with pytest.raises(ValueError, match="out of range"):
        env.step(bad.astype(np.int64))  # other dtype: Python finds it
    negative = np.zeros(env.actions.shape, dtype=np.int32)
    negative.reshape(-1)[0] = -1
    with pytest.raises(ValueError, match="out of range"):
        env.step(negative)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(env.num_agents + 1, dtype=np.int32))
    with pytest.raises(ValueError, match="integers"):
        env.step(np.zeros(env.actions.shape, dtype=np.float32))
    env.step(np.zeros(env.actions.shape, dtype=np.int32))  # still usable
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.step(np.zeros(env.actions.shape, dtype=np.int32))

    cls = type(env)
    with pytest.raises(TypeError, match="unknown parameter"):
        cls(num_envs=1, not_a_param=1)
    for name, spec in cls.param_specs().items():
        with pytest.raises(ValueError, match=name):
            cls(num_envs=1, **{name: spec.max + 1})
        with pytest.raises(ValueError, match=name):
            cls(num_envs=1, **{name: float("nan")})
    with pytest.raises(ValueError, match="num_envs"):
        cls(num_envs=0)


def check_external_buffers(env_id: str, **kwargs: Any) -> None:
    """Stepping into a slice of a bigger buffer set writes that slice only."""
    probe = puffer_core.make(env_id, seed=0, **kwargs)
    n = probe.num_agents
    big = Buffers.allocate(probe.single_observation_space, probe.single_action_space, 3 * n)
    probe.close()
    sentinel = big.observations.copy()
    env = puffer_core.make(env_id, buf=big.slice(n, 2 * n), seed=0, **kwargs)
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(30):
        big.actions[n : 2 * n] = random_actions(env, rng)
        env.step(env.actions)
    assert np.array_equal(big.observations[:n], sentinel[:n])
    assert np.array_equal(big.observations[2 * n :], sentinel[2 * n :])
    assert not np.array_equal(big.observations[n : 2 * n], sentinel[n : 2 * n]) or env.observations.max() == 0
    env.close()


def check_final_observations(env_id: str, steps: int = 2000, **kwargs: Any) -> int:
    """``final_observations`` holds, for exactly the agents whose episode ended in a step, an observation
    inside the Box that is not the next episode's first one; returns the episodes checked.

    Before every step the buffer is filled with a sentinel no observation can take (NaN, or a byte above
    ``obs_high``), so a row the env forgot to write, or wrote without an episode end, is seen. An env that
    copied the observation after its reset would give ``final == observations`` on every end; a final
    observation can equal the reset one by chance (e.g. same board), so a few equal rows are tolerated.
    Env test files check what the final observation shows (``test_*_final_observation``)."""
    env = puffer_core.make(env_id, seed=11, **kwargs)
    env.reset()
    final = env.final_observations
    assert final is not None, "ocean envs keep final observations"
    assert final.shape == env.observations.shape and final.dtype == env.observations.dtype
    assert not np.shares_memory(final, env.observations)
    space = env.single_observation_space
    if final.dtype == np.float32:
        sentinel = np.nan
    else:
        assert space.high.max() < 255, "needs a byte value outside the Box as a sentinel"
        sentinel = 255
    rng = np.random.default_rng(11)
    episodes = same_as_reset = 0
    for _ in range(steps):
        final[...] = sentinel
        obs, _, terminals, truncations, _ = env.step(random_actions(env, rng))
        done = terminals | truncations
        unwritten = np.isnan(final) if final.dtype == np.float32 else final == sentinel
        unwritten = unwritten.reshape(env.num_agents, -1)
        assert unwritten[~done].all(), "final observation written for an agent whose episode did not end"
        assert not unwritten[done].any(), "episode ended without its final observation"
        ended = final[done]
        assert np.all(ended >= space.low) and np.all(ended <= space.high), "final observation out of its Box"
        episodes += int(done.sum())
        same_as_reset += int(sum(np.array_equal(f, o) for f, o in zip(ended, obs[done], strict=True)))
    assert episodes > 0, "no episode finished: the test proves nothing"
    assert same_as_reset <= 0.05 * episodes, (
        f"{same_as_reset} of {episodes} final observations are the next episode's first one"
    )
    env.close()
    return episodes


def check_render(env_id: str, **kwargs: Any) -> None:
    env = puffer_core.make(env_id, seed=0, **kwargs)
    env.reset()
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[:2] == env.render_size
    assert frame.max() > 0, "render drew nothing"
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 2
    with pytest.raises(ValueError, match="env_index"):
        env.render(env_index=env.num_envs)
    env.close()


def check_all(env_id: str, **kwargs: Any) -> None:
    check_spaces_and_dtypes(env_id, **kwargs)
    check_determinism(env_id, **kwargs)
    check_autoreset_and_stats(env_id, **kwargs)
    check_bad_input(env_id, **kwargs)
    check_external_buffers(env_id, **kwargs)
    check_final_observations(env_id, **kwargs)
    check_render(env_id, **kwargs)
