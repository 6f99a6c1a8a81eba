"""Stable-Baselines3 over Puffer envs: SB3's own env checker, its VecEnv wrappers, and PPO learning.

Needs torch and puffer-core[sb3]: runs in the puffer-trainer nox session, where torch is installed.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.vec_env import VecCheckNan, VecMonitor, VecNormalize  # noqa: E402

import puffer_core  # noqa: E402
from puffer_core.sb3 import SB3VecEnv  # noqa: E402


@pytest.mark.parametrize("env_id", ["ocean/cartpole", "ocean/squared", "gym/CartPole-v1"])
def test_sb3_check_env(env_id):
    check_env(puffer_core.as_gymnasium_env(env_id, seed=0), warn=False)


def test_vec_env_has_sb3_semantics_and_terminal_observation():
    """SB3VecEnv steps like SB3's DummyVecEnv over the same gymnasium envs: same observations, rewards,
    dones, ``TimeLimit.truncated`` and ``terminal_observation``; and it takes SB3's VecEnv wrappers."""
    import gymnasium
    from stable_baselines3.common.vec_env import DummyVecEnv

    vec = puffer_core.vector.make("gym/CartPole-v1", num_envs=3, env_kwargs={"max_episode_steps": 12})
    ours = SB3VecEnv(vec)
    reference = DummyVecEnv([lambda: gymnasium.make("CartPole-v1", max_episode_steps=12)] * 3)
    ours.seed(4)
    reference.seed(4)
    np.testing.assert_array_equal(ours.reset(), reference.reset())
    rng = np.random.default_rng(0)
    truncated = 0
    for _ in range(80):
        actions = rng.integers(0, 2, 3)
        got, want = ours.step(actions), reference.step(actions)
        for x, y in zip(got[:3], want[:3]):
            np.testing.assert_array_equal(x, y)
        for i in np.flatnonzero(want[2]):
            assert got[3][i]["TimeLimit.truncated"] == want[3][i]["TimeLimit.truncated"]
            final, want_final = got[3][i]["terminal_observation"], want[3][i]["terminal_observation"]
            np.testing.assert_array_equal(final, want_final)
            truncated += got[3][i]["TimeLimit.truncated"]
            assert got[3][i]["episode"]["l"] >= 1
    assert truncated > 0
    reference.close()

    wrapped = VecNormalize(VecMonitor(VecCheckNan(ours, raise_exception=True)))
    wrapped.reset()
    for _ in range(20):
        wrapped.step(rng.integers(0, 2, 3))
    assert ours.get_attr("render_mode") == [None] * 3
    wrapped.close()


@pytest.mark.parametrize("env_id, kwargs", [("ocean/cartpole", {"max_steps": 20}), ("ocean/squared", {})])
def test_terminal_observation_over_ocean_is_the_envs_final_observation(env_id, kwargs):
    """Over ocean envs (serial backend), SB3's ``terminal_observation`` is the env's final observation and
    the returned observation the next episode's first, as in SB3's own VecEnvs."""
    vec = puffer_core.vector.make(env_id, num_envs=2, seed=6, env_kwargs={"num_envs": 4, **kwargs})
    ours = SB3VecEnv(vec)
    direct = [puffer_core.make(env_id, num_envs=4, seed=6 + k, **kwargs) for k in range(2)]
    obs = ours.reset()
    np.testing.assert_array_equal(obs, np.concatenate([env.reset()[0] for env in direct]))
    rng = np.random.default_rng(6)
    ends = truncated = 0
    for _ in range(300):
        actions = rng.integers(0, ours.action_space.n, 8)
        obs, _, dones, infos = ours.step(actions)
        for k, env in enumerate(direct):
            env.step(actions[4 * k : 4 * k + 4].astype(np.int32))
        np.testing.assert_array_equal(obs, np.concatenate([env.observations for env in direct]))
        finals = np.concatenate([env.final_observations for env in direct])
        for i in range(8):
            assert ("terminal_observation" in infos[i]) == dones[i]
            if dones[i]:
                np.testing.assert_array_equal(infos[i]["terminal_observation"], finals[i])
                assert not np.array_equal(infos[i]["terminal_observation"], obs[i])
                truncated += infos[i]["TimeLimit.truncated"]
                ends += 1
    assert ends > 20 and (truncated > 0) == (env_id == "ocean/cartpole")
    ours.close()


class StopAtReturn(BaseCallback):
    """Stops training once the mean of the last 20 training episodes reaches ``target``."""

    def __init__(self, target: float) -> None:
        super().__init__()
        self.target = target

    def _on_step(self) -> bool:
        episodes = list(self.model.ep_info_buffer)[-20:]
        return not (len(episodes) == 20 and np.mean([e["r"] for e in episodes]) >= self.target)


def test_sb3_ppo_solves_ocean_cartpole(monkeypatch, tmp_path):
    """``PPO("MlpPolicy", ...)`` on ocean/cartpole through SB3VecEnv reaches CartPole's 475 (about 30-50k
    steps, ~30 s of CPU). Episode returns reach SB3's logger through the infos' ``episode``."""
    torch.set_num_threads(1)
    venv = SB3VecEnv(puffer_core.vector.make("ocean/cartpole", seed=0, env_kwargs={"num_envs": 32}))
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path))  # SB3's logger otherwise leaves a folder in /tmp
    model = PPO(
        "MlpPolicy", venv, n_steps=16, batch_size=256, n_epochs=10, gamma=0.98, gae_lambda=0.8,
        learning_rate=0.003, ent_coef=0.0, seed=0, device="cpu",
    )
    model.learn(80_000, callback=StopAtReturn(475))
    assert len(model.ep_info_buffer) > 0
    evaluation = SB3VecEnv(puffer_core.vector.make("ocean/cartpole", seed=100, env_kwargs={"num_envs": 8}))
    mean_return, _ = evaluate_policy(model, evaluation, n_eval_episodes=8, deterministic=True)
    assert mean_return >= 475
    venv.close()
    evaluation.close()
