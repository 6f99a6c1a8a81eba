"""The interop views and adapters with emulated gymnasium envs (the full suite with ocean envs and SB3 lives
in tests/interop at the repository root)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import puffer_core
from puffer_core.vector import GymnasiumVectorEnv


def test_importing_puffer_core_imports_no_optional_integration():
    code = (
        "import sys, puffer_core, puffer_core.vector; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'stable_baselines3', 'pettingzoo', 'pygame'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_gymnasium_view_of_an_emulated_env_passes_check_env():
    env = puffer_core.as_gymnasium_env("gym/CartPole-v1", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env)
    assert env.observation_space == gymnasium.make("CartPole-v1").observation_space


def test_gymnasium_view_takes_env_objects_without_kwargs():
    env = puffer_core.make("gym/CartPole-v1")
    with pytest.raises(TypeError, match="only used with an env id"):
        puffer_core.as_gymnasium_env(env, seed=1)
    assert isinstance(puffer_core.as_gymnasium_env(env), gymnasium.Env)


def test_next_step_needs_the_serial_backend():
    vec = puffer_core.vector.make(
        "gym/CartPole-v1", num_envs=2, backend="multiprocessing", num_workers=2, max_processes=2,
        start_method="forkserver",
    )
    with pytest.raises(ValueError, match="backend='serial'.*SAME_STEP"):
        GymnasiumVectorEnv(vec)
    env = GymnasiumVectorEnv(vec, autoreset_mode="SameStep")
    first = env.reset(seed=0)[0]
    np.testing.assert_array_equal(env.reset(seed=[0, 1])[0], first)  # seed + k: what reset(seed=0) does
    with pytest.raises(ValueError, match="backend='serial'"):
        env.reset(seed=[1, 3])
    with pytest.raises(NotImplementedError, match="serial"):
        env.render()
    env.close()


@pytest.mark.parametrize(
    "options, match",
    [
        ({"reset_mask": np.array([1, 0, 1])}, "bool array of shape"),
        ({"reset_mask": np.zeros(3, dtype=bool)}, "selects no sub-env"),
        ({"other": 1}, "besides 'reset_mask'"),
    ],
)
def test_reset_refuses_bad_options(options, match):
    env = GymnasiumVectorEnv(puffer_core.vector.make("gym/CartPole-v1", num_envs=3))
    with pytest.raises(ValueError, match=match):
        env.reset(options=options)
    with pytest.raises(ValueError, match="one entry per sub-env"):
        env.reset(seed=[1, 2])
    env.close()


def test_next_step_sits_out_one_step_after_an_episode_ends():
    """NEXT_STEP: the ending step shows the final observation, the next one shows the reset observation
    with reward 0 and no flags, whatever the action."""
    vec = puffer_core.vector.make("gym/CartPole-v1", num_envs=2, env_kwargs={"max_episode_steps": 3})
    env = GymnasiumVectorEnv(vec)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    env.reset(seed=0)
    for _ in range(2):
        env.step(np.array([0, 1]))
    final, rewards, _, truncations, infos = env.step(np.array([0, 1]))
    assert truncations.all() and infos["_episode_length"].all()
    first, rewards, terminations, truncations, infos = env.step(np.array([1, 0]))
    assert not (rewards.any() or terminations.any() or truncations.any())
    assert not np.array_equal(first, final) and "episode_length" not in infos
    env.close()
