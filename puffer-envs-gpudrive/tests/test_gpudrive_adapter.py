"""The GPUDrive adapter against a fake ``gpudrive`` package that mimics GPUDriveTorchEnv's documented API."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest
import torch
from gymnasium import spaces

import puffer_core
from puffer_envs_gpudrive.gpudrive_adapter import GPUDriveEnv, gpudrive_unavailable_reason

W, A, F = 3, 4, 5


@dataclass
class EnvConfig:
    episode_len: int = 6
    collision_weight: float = 0.0


class SceneDataLoader:
    def __init__(self, root, batch_size, dataset_size, **kwargs):
        self.root, self.batch_size, self.dataset_size = root, batch_size, dataset_size


@dataclass
class Info:
    off_road: torch.Tensor
    collided: torch.Tensor
    goal_achieved: torch.Tensor


class FakeTorchEnv:
    """Agent (w, a) is controlled when a < w + 1 (1, 2, 3 controlled agents); its observation is its
    world's step count; agent (w, 0) reaches its goal at step 2, agent (2, 1) collides at step 1."""

    def __init__(self, config, data_loader, max_cont_agents, device="cuda", action_type="discrete"):
        self.config, self.device = config, device
        self.num_worlds = data_loader.batch_size
        self.cont_agent_mask = torch.arange(A)[None, :] < torch.arange(1, W + 1)[:, None]
        self.single_observation_space = spaces.Box(-1, 1, (F,))
        self.action_space = spaces.Discrete(91)
        self.t = torch.zeros(W, dtype=torch.long)
        self.resets: list[list[int]] = []
        self.last_actions = None

    def reset(self, mask=None, env_idx_list=None):
        if env_idx_list is None:
            self.t[:] = 0
        else:
            self.resets.append(list(env_idx_list))
            self.t[env_idx_list] = 0
        return self.get_obs(mask)

    def get_obs(self, mask=None):
        obs = self.t[:, None, None].float().expand(W, A, F).clone()
        return obs if mask is None else obs[mask]

    def step_dynamics(self, actions):
        assert actions.shape == (W, A)
        self.last_actions = actions
        self.t += 1

    def _events(self):
        goal = torch.zeros(W, A, dtype=torch.bool)
        goal[:, 0] = self.t == 2
        coll = torch.zeros(W, A, dtype=torch.bool)
        coll[2, 1] = bool(self.t[2] == 1)
        return goal, coll

    def get_rewards(self, collision_weight=0.0, off_road_weight=0.0, goal_achieved_weight=1.0):
        goal, coll = self._events()
        return goal_achieved_weight * goal.float() + collision_weight * coll.float()

    def get_dones(self):
        goal, coll = self._events()
        return goal | coll | (self.t >= self.config.episode_len)[:, None]

    def get_infos(self):
        goal, coll = self._events()
        return Info(torch.zeros(W, A), coll.float(), goal.float())


@pytest.fixture
def fake_gpudrive(monkeypatch):
    root = types.ModuleType("gpudrive")
    env_pkg = types.ModuleType("gpudrive.env")
    modules = {
        "gpudrive": root,
        "gpudrive.env": env_pkg,
        "gpudrive.env.config": types.SimpleNamespace(EnvConfig=EnvConfig),
        "gpudrive.env.dataset": types.SimpleNamespace(SceneDataLoader=SceneDataLoader),
        "gpudrive.env.env_torch": types.SimpleNamespace(GPUDriveTorchEnv=FakeTorchEnv),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    yield


def make(**kwargs):
    return GPUDriveEnv(num_worlds=W, device="cpu", log_interval=1, collision_weight=-0.5, **kwargs)


def test_unavailable_without_gpudrive():
    reason = gpudrive_unavailable_reason()
    assert reason is not None and "gpudrive" in reason.lower()
    spec = puffer_core.spec("gpudrive/womd")
    assert "unavailable: the gpudrive package is not installed" in spec.description
    assert "build it from source" in spec.description
    with pytest.raises(RuntimeError, match="not importable"):
        puffer_core.make("gpudrive/womd")


def test_adapter_masks_rewards_and_world_resets(fake_gpudrive):
    assert gpudrive_unavailable_reason() is None
    env = make(env_config={"episode_len": 6})
    assert env.num_agents == W * A and env.device == "cpu:0"
    obs, _ = env.reset(seed=0)
    control = [[True, False, False, False], [True, True, False, False], [True, True, True, False]]
    assert env.masks.view(W, A).tolist() == control
    actions = torch.arange(W * A) % 91
    obs, rew, term, trunc, infos = env.step(actions)
    assert torch.equal(env.env.last_actions, actions.view(W, A))  # actions reach GPUDrive as a tensor
    assert rew.view(W, A)[2, 1].item() == -0.5 and term.view(W, A)[2, 1]
    assert not env.masks.view(W, A)[2, 1]
    assert infos == [{"episode_return": -0.5, "episode_length": 1.0, "goal_rate": 0.0, "collision_rate": 1.0,
                      "offroad_rate": 0.0, "truncation_rate": 0.0, "score": 0.0, "n": 1.0}]  # fmt: skip
    obs, rew, term, trunc, infos = env.step(actions)
    # Step 2: every agent (w, 0) reaches its goal; world 0 (its only agent) resets, the others run on.
    assert rew.view(W, A)[:, 0].tolist() == [1.0, 1.0, 1.0] and term.view(W, A)[:, 0].all()
    assert env.env.resets == [[0]]
    after = [control[0], [False, True, False, False], [False, False, True, False]]
    assert env.masks.view(W, A).tolist() == after
    assert obs.view(W, A, F)[0, 0, 0].item() == 0.0  # world 0's new episode
    assert obs.view(W, A, F)[1, 0].abs().sum() == 0  # finished agents observe zeros
    assert infos and infos[0]["n"] == 3 and infos[0]["goal_rate"] == 1.0
    for _ in range(4):
        obs, rew, term, trunc, infos = env.step(actions)
    # Step 6 = episode_len: agents still driving are truncated, not terminated.
    assert trunc.view(W, A)[1, 1] and not term.view(W, A)[1, 1]
    assert trunc.view(W, A)[2, 2] and not term.view(W, A)[2, 2]


def test_adapter_registered_id_makes_it(fake_gpudrive):
    env = puffer_core.make("gpudrive/womd", num_worlds=W, device="cpu")
    assert isinstance(env, GPUDriveEnv)
    vec = puffer_core.vector.make("gpudrive/womd", env_kwargs={"num_worlds": W, "device": "cpu"})
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (W * A, F)
    vec.close()
