"""``gpudrive/...``: the real GPUDrive simulator (built from source by the user) behind the same interface.

GPUDrive's torch env (``gpudrive.env.env_torch.GPUDriveTorchEnv``) works on ``[num_worlds, max_agents]``
tensors on its device; its documented API, which this adapter uses and nothing else:

* ``GPUDriveTorchEnv(config=EnvConfig(...), data_loader=SceneDataLoader(root, batch_size, dataset_size, ...),
  max_cont_agents=..., device=..., action_type=...)``
* ``cont_agent_mask``: ``bool [W, A]``, the agents the policy controls (a varying number per world);
* ``reset(mask=None, env_idx_list=None)``; ``get_obs(mask=None)``: ``[W, A, F]``;
* ``step_dynamics(actions [W, A])``; ``get_rewards(collision_weight=, off_road_weight=,
  goal_achieved_weight=)``: ``[W, A]``; ``get_dones()``: ``[W, A]``; ``get_infos()``: an object with
  ``off_road``, ``collided``, ``goal_achieved`` ``[W, A]``;
* ``single_observation_space``, ``action_space`` (gymnasium spaces), ``config.episode_len``.

Slots, masks and episodes follow :class:`~puffer_envs_gpudrive.env.DriveEnv`: slots are
``num_worlds x max_agents``, ``masks`` = controlled and not yet done; a world resets (``reset(env_idx_list=
...)``) once all its controlled agents are done; an agent still driving at ``episode_len`` steps is truncated,
not terminated.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch

from puffer_core import PufferEnv

from .availability import BUILD_HINT
from .env import _STAT_NAMES, resolve_device

__all__ = ["GPUDriveEnv", "gpudrive_unavailable_reason"]


def gpudrive_unavailable_reason() -> str | None:
    """None when GPUDrive's torch env can be imported, else why not (one line)."""
    try:
        importlib.import_module("gpudrive.env.env_torch")
    except Exception as exc:  # ImportError, or a broken build that fails while importing
        return (
            f"GPUDrive is not importable ({type(exc).__name__}: {exc}); {BUILD_HINT}"
        )
    return None


class GPUDriveEnv(PufferEnv):
    """A GPUDrive ``GPUDriveTorchEnv`` as a GPU-native PufferEnv.

    Args:
        buf: must be None (tensors stay on GPUDrive's device).
        seed: recorded; GPUDrive's scene order comes from its data loader.
        data_dir: folder of GPUDrive JSON scenarios for ``SceneDataLoader``.
        num_worlds, max_controlled_agents, dataset_size: sizes for GPUDrive.
        device: ``"auto"``, ``"cuda"``, ``"cpu"``...
        action_type: ``"discrete"`` or ``"continuous"`` (GPUDrive's).
        collision_weight, off_road_weight, goal_achieved_weight: reward weights for ``get_rewards``.
        log_interval: steps between info dicts.
        env_config: extra ``EnvConfig`` fields.
    """

    def __init__(
        self,
        buf: Any = None,
        seed: int | None = None,
        data_dir: str = "data/processed/examples",
        num_worlds: int = 64,
        max_controlled_agents: int = 64,
        dataset_size: int = 1000,
        device: str | None = "auto",
        action_type: str = "discrete",
        collision_weight: float = -0.5,
        off_road_weight: float = -0.5,
        goal_achieved_weight: float = 1.0,
        log_interval: int = 16,
        env_config: dict[str, Any] | None = None,
    ) -> None:
        if buf is not None:
            raise ValueError("GPUDriveEnv keeps its buffers on GPUDrive's device: pass buf=None")
        reason = gpudrive_unavailable_reason()
        if reason is not None:
            raise RuntimeError(reason)
        config_mod = importlib.import_module("gpudrive.env.config")
        dataset_mod = importlib.import_module("gpudrive.env.dataset")
        torch_mod = importlib.import_module("gpudrive.env.env_torch")
        dev = resolve_device(device)
        config = config_mod.EnvConfig(**(env_config or {}))
        loader = dataset_mod.SceneDataLoader(root=data_dir, batch_size=num_worlds, dataset_size=dataset_size)
        self.env = torch_mod.GPUDriveTorchEnv(
            config=config, data_loader=loader, max_cont_agents=max_controlled_agents, device=str(dev),
            action_type=action_type,
        )  # fmt: skip
        self.weights = dict(collision_weight=collision_weight, off_road_weight=off_road_weight,
                            goal_achieved_weight=goal_achieved_weight)  # fmt: skip
        self.torch_device = dev
        self.device = "cpu:0" if dev.type == "cpu" else str(dev)
        control = self.env.cont_agent_mask.to(dev).bool()
        self.num_worlds, self.max_agents = int(control.shape[0]), int(control.shape[1])
        self.num_agents = self.num_worlds * self.max_agents
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.action_space
        self.episode_len = int(getattr(config, "episode_len", 91))
        self.log_interval = int(log_interval)
        self._seed = seed
        n, f = self.num_agents, int(np.prod(self.single_observation_space.shape))
        self.observations = torch.zeros(n, f, device=dev)
        self.actions = torch.zeros(n, dtype=torch.int64, device=dev)
        self.rewards = torch.zeros(n, device=dev)
        self.terminals = torch.zeros(n, dtype=torch.bool, device=dev)
        self.truncations = torch.zeros(n, dtype=torch.bool, device=dev)
        self.masks = torch.zeros(n, dtype=torch.bool, device=dev)
        self._control = control
        self._alive = control.clone()
        self._t = torch.zeros(self.num_worlds, dtype=torch.long, device=dev)
        self._ret = torch.zeros(self.num_worlds, self.max_agents, device=dev)
        self._len = torch.zeros(self.num_worlds, self.max_agents, device=dev)
        self._coll = torch.zeros(self.num_worlds, self.max_agents, dtype=torch.bool, device=dev)
        self._off = torch.zeros(self.num_worlds, self.max_agents, dtype=torch.bool, device=dev)
        self._stats = torch.zeros(7, dtype=torch.float64, device=dev)
        self._steps = 0
        super().__init__(None)

    def _obs(self) -> None:
        obs = self.env.get_obs().to(self.torch_device).float()
        self.observations.copy_(obs.reshape(self.num_agents, -1) * self._alive.reshape(-1, 1))
        self.masks.copy_(self._alive.reshape(-1))

    def reset(self, seed: int | None = None) -> tuple[torch.Tensor, list[dict[str, float]]]:
        if seed is not None:
            self._seed = seed
        self.env.reset()
        self._control = self.env.cont_agent_mask.to(self.torch_device).bool()
        self._alive = self._control.clone()
        for t in (self._t, self._ret, self._len, self._stats):
            t.zero_()
        self._coll.zero_()
        self._off.zero_()
        self._steps = 0
        self._obs()
        return self.observations, []

    def step(self, actions: Any) -> tuple[torch.Tensor, ...]:
        acts = torch.as_tensor(actions, device=self.torch_device)
        if acts.shape[0] != self.num_agents:
            raise ValueError(
                f"actions must have {self.num_agents} rows (one per slot), got {tuple(acts.shape)}"
            )
        acted = self._alive
        self.env.step_dynamics(acts.reshape(self.num_worlds, self.max_agents, *acts.shape[1:]))
        self._t += 1
        rewards = self.env.get_rewards(**self.weights).to(self.torch_device).float() * acted
        done = self.env.get_dones().to(self.torch_device).bool()
        info = self.env.get_infos()
        goal = info.goal_achieved.to(self.torch_device).bool()
        coll = info.collided.to(self.torch_device).bool()
        off = info.off_road.to(self.torch_device).bool()
        time_up = (self._t >= self.episode_len)[:, None]
        terminals = acted & (goal | coll | off | (done & ~time_up))
        truncations = acted & ~terminals & (done | time_up)
        self._ret += rewards
        self._len += acted.float()
        self._coll |= coll & acted
        self._off |= off & acted
        ended = (terminals | truncations).float()
        sums = [
            ended.sum(), (self._ret * ended).sum(), (self._len * ended).sum(), (goal.float() * ended).sum(),
            (self._coll.float() * ended).sum(), (self._off.float() * ended).sum(), truncations.float().sum(),
        ]  # fmt: skip
        self._stats += torch.stack(sums).double()
        self._alive = acted & ~(terminals | truncations)
        self.rewards.copy_(rewards.reshape(-1))
        self.terminals.copy_(terminals.reshape(-1))
        self.truncations.copy_(truncations.reshape(-1))
        world_done = ~self._alive.any(1) | time_up[:, 0]
        done_worlds = world_done.nonzero().flatten().tolist()  # GPUDrive takes a host list of worlds
        if done_worlds:
            self.env.reset(env_idx_list=done_worlds)
            self._control = self.env.cont_agent_mask.to(self.torch_device).bool()
            sel = world_done[:, None]
            self._alive = torch.where(sel, self._control, self._alive)
            self._t[world_done] = 0
            self._ret[world_done] = 0
            self._len[world_done] = 0
            self._coll &= ~sel
            self._off &= ~sel
        self._obs()
        self._steps += 1
        infos: list[dict[str, float]] = []
        if self._steps % self.log_interval == 0:
            count, *sums = self._stats.tolist()
            self._stats.zero_()
            if count:
                info = {name: total / count for name, total in zip(_STAT_NAMES, sums)}
                info["score"], info["n"] = info["goal_rate"], count
                infos = [info]
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def close(self) -> None:
        close = getattr(self.env, "close", None)
        if close is not None:
            close()
