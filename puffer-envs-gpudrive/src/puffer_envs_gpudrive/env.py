"""``drive/...``: Puffer's batched driving simulator as a GPU-native PufferEnv.

One env object holds every world; its agent slots are ``num_worlds x max_agents`` (world-major), and
``masks`` marks the slots whose agent is alive and controlled. Buffers are torch tensors on ``device`` and
never leave it: the serial backend passes them through (``puffer_core.vector.make(..., num_envs=1)``) and
the trainer feeds them to the policy where they are.

Episodes and masks
------------------
Each controlled agent's episode ends on reaching its goal (``terminals``), on a collision or going off-road
(``terminals``, when configured to end it), or at ``episode_length`` steps (``truncations``). Worlds reset
as a whole once all their controlled agents are done or time is up: an agent that finished earlier waits
with ``masks`` False (reward 0, flags False) until its world resets. The step in which a world resets returns
the first observation of the new episode, as every Puffer env does, with ``masks`` True again.

Episode statistics come back as one info dict every ``log_interval`` steps (fewer host syncs), averaged over
the ``n`` agent episodes that finished: ``episode_return``, ``episode_length``, ``goal_rate``,
``collision_rate``, ``offroad_rate``, ``truncation_rate`` and ``score`` (= ``goal_rate``).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from puffer_core import PufferEnv

from . import generator
from .scenario import Scenario, load_folder
from .sim import DriveSim, SimConfig
from .tensors import pack_scenarios

__all__ = ["DriveEnv", "BUNDLED_DIR", "resolve_device", "load_scenarios"]

#: The small scenario set shipped with the package (made by :mod:`.generator`, seed 0).
BUNDLED_DIR = Path(__file__).parent / "data" / "synthetic"
_STAT_NAMES = ("episode_return", "episode_length", "goal_rate", "collision_rate", "offroad_rate",
               "truncation_rate")  # fmt: skip


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None: CUDA when available, else the CPU. Raises ValueError for CUDA without CUDA."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r} ({exc})"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but this torch build has no CUDA device")
    return dev


def load_scenarios(
    scenarios: str | Path | list[Scenario],
    num_scenarios: int,
    scenario_seed: int,
    synthetic_kinds: tuple[str, ...] | list[str] = generator.KINDS,
    synthetic_vehicles: int | None = None,
) -> list[Scenario]:
    """The scenario pool: ``"synthetic"`` (``num_scenarios`` of ``synthetic_kinds`` generated from
    ``scenario_seed``, with ``synthetic_vehicles`` each or a random count), ``"bundled"`` (the shipped set),
    a folder of GPUDrive JSON files, or a list of :class:`Scenario`."""
    if isinstance(scenarios, list):
        if not scenarios or not all(isinstance(s, Scenario) for s in scenarios):
            raise ValueError("a scenario list must be a non-empty list of Scenario objects")
        return scenarios
    if scenarios == "synthetic":
        kinds = tuple(synthetic_kinds)
        return generator.generate_set(num_scenarios, scenario_seed, kinds, synthetic_vehicles)
    if scenarios == "bundled":
        return load_folder(BUNDLED_DIR, limit=num_scenarios)
    if isinstance(scenarios, (str, Path)):
        return load_folder(scenarios, limit=num_scenarios)
    raise ValueError(
        "scenarios must be 'synthetic', 'bundled', a folder of GPUDrive JSON files or a list of Scenario, "
        f"got {type(scenarios).__name__}"
    )


class DriveEnv(PufferEnv):
    """Multi-agent driving over synthetic or GPUDrive scenarios, every world stepped at once with torch.

    Args:
        buf: must be None: the env keeps its own tensors on ``device``.
        seed: seeds scenario resampling (None: 0).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        scenarios, num_scenarios, scenario_seed, synthetic_kinds, synthetic_vehicles: the scenario pool
            (see :func:`load_scenarios`).
        log_interval: steps between info dicts (each costs one device-to-host copy).
        check_actions: validate action range every step (one tiny host sync); off for the last percent.
        **sim: any :class:`~puffer_envs_gpudrive.sim.SimConfig` field (``num_worlds``, ``max_agents``,
            ``action_type``, reward weights, ``end_on_collision``, observation sizes, ...).

    Observations: ``float32 [obs_size]`` per slot, layout in :meth:`DriveSim.observe`. Actions:
    ``Discrete(len(steer_values) * len(accel_values))`` (index ``steer * n_accel + accel``) or
    ``Box([-max_steer, -max_accel], [max_steer, max_accel])``.

    On the CPU the env names its device ``"cpu:0"``: to puffer-core, ``"cpu"`` means numpy host buffers,
    while any other device name means tensors that the serial backend passes through untouched.
    """

    def __init__(
        self,
        buf: Any = None,
        seed: int | None = None,
        device: str | torch.device | None = "auto",
        scenarios: str | Path | list[Scenario] = "synthetic",
        num_scenarios: int = 256,
        scenario_seed: int = 0,
        synthetic_kinds: tuple[str, ...] | list[str] = generator.KINDS,
        synthetic_vehicles: int | None = None,
        log_interval: int = 16,
        check_actions: bool = True,
        **sim: Any,
    ) -> None:
        if buf is not None:
            raise ValueError("DriveEnv keeps its buffers on its torch device: pass buf=None (serial backend)")
        known = {f.name for f in fields(SimConfig)}
        unknown = sorted(set(sim) - known)
        if unknown:
            raise TypeError(f"unknown DriveEnv argument(s) {unknown}; SimConfig fields are {sorted(known)}")
        if not isinstance(log_interval, int) or log_interval < 1:
            raise ValueError(f"log_interval must be a positive int, got {log_interval!r}")
        self.config = SimConfig(**sim)
        self.config.validate()
        dev = resolve_device(device)
        pool = load_scenarios(scenarios, num_scenarios, scenario_seed, synthetic_kinds, synthetic_vehicles)
        packed = pack_scenarios(pool, self.config.max_agents, self.config.max_controlled, dev)
        self.sim = DriveSim(self.config, packed)
        self.torch_device = dev
        self.device = "cpu:0" if dev.type == "cpu" else str(dev)
        self.num_worlds, self.max_agents = self.config.num_worlds, self.config.max_agents
        self.num_agents = self.num_worlds * self.max_agents
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (self.config.obs_size,), np.float32)
        if self.config.action_type == "discrete":
            self.single_action_space = spaces.Discrete(
                len(self.config.steer_values) * len(self.config.accel_values)
            )
        else:
            high = np.array([self.config.max_steer, self.config.max_accel], np.float32)
            self.single_action_space = spaces.Box(-high, high, dtype=np.float32)
        self.log_interval, self.check_actions = log_interval, check_actions
        self._seed = 0 if seed is None else int(seed)
        n = self.num_agents
        self.observations = torch.zeros(n, self.config.obs_size, device=dev)
        act_shape = (n,) if self.config.action_type == "discrete" else (n, 2)
        act_dtype = torch.int32 if self.config.action_type == "discrete" else torch.float32
        self.actions = torch.zeros(act_shape, dtype=act_dtype, device=dev)
        self.rewards = torch.zeros(n, device=dev)
        self.terminals = torch.zeros(n, dtype=torch.bool, device=dev)
        self.truncations = torch.zeros(n, dtype=torch.bool, device=dev)
        self.masks = torch.zeros(n, dtype=torch.bool, device=dev)
        self._steps = 0
        super().__init__(None)

    # -- the PufferEnv API ----------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> tuple[torch.Tensor, list[dict[str, float]]]:
        if seed is not None:
            self._seed = int(seed)
        self.sim.seed(self._seed)
        self.sim.reset_all()
        self._steps = 0
        self.rewards.zero_()
        self.terminals.zero_()
        self.truncations.zero_()
        self._publish()
        return self.observations, []

    def step(
        self, actions: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[dict[str, float]]]:
        acts = self._check(actions)
        shape = (self.num_worlds, self.max_agents, *acts.shape[1:])
        rewards, terminals, truncations, _ = self.sim.step(acts.view(shape))
        self.rewards.copy_(rewards.view(-1))
        self.terminals.copy_(terminals.view(-1))
        self.truncations.copy_(truncations.view(-1))
        self._publish()
        self._steps += 1
        infos: list[dict[str, float]] = []
        if self._steps % self.log_interval == 0:
            infos = self.episode_infos()
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def episode_infos(self) -> list[dict[str, float]]:
        """One dict of mean statistics over the agent episodes finished since the last call ([] if none)."""
        count, ret, length, goal, coll, off, trunc = self.sim.take_stats().tolist()
        if count == 0:
            return []
        info = dict(zip(_STAT_NAMES, (ret / count, length / count, goal / count, coll / count, off / count,
                                      trunc / count)))  # fmt: skip
        info["score"] = info["goal_rate"]
        info["n"] = count
        return [info]

    def _publish(self) -> None:
        self.observations.copy_(self.sim.observe().view(self.num_agents, -1))
        self.masks.copy_(self.sim.alive.view(-1))

    def _check(self, actions: Any) -> torch.Tensor:
        if actions is self.actions:
            acts = actions
        else:
            acts = torch.as_tensor(actions, device=self.torch_device)
        discrete = self.config.action_type == "discrete"
        expected = (self.num_agents,) if discrete else (self.num_agents, 2)
        if tuple(acts.shape) != expected:
            raise ValueError(f"actions must have shape {expected}, got {tuple(acts.shape)}")
        if discrete:
            if acts.dtype.is_floating_point or acts.dtype == torch.bool or acts.is_complex():
                raise ValueError(f"discrete actions must be an integer tensor, got {acts.dtype}")
            if self.check_actions:
                n = self.single_action_space.n
                bad = ((acts < 0) | (acts >= n)).any()
                if bool(bad):
                    lo, hi = int(acts.min()), int(acts.max())
                    raise ValueError(f"discrete actions must lie in [0, {n}), got values in [{lo}, {hi}]")
        else:
            if not acts.dtype.is_floating_point:
                acts = acts.float()
            if self.check_actions:
                bad = ~torch.isfinite(acts).all()
                if not self.config.clip_continuous:
                    limit = torch.tensor([self.config.max_steer, self.config.max_accel], device=acts.device)
                    bad = bad | (acts.abs() > limit).any()
                if bool(bad):
                    raise ValueError(
                        "continuous actions must be finite"
                        + ("" if self.config.clip_continuous else
                           f" and within [-{self.config.max_steer}, {self.config.max_steer}] x "
                           f"[-{self.config.max_accel}, {self.config.max_accel}] (clip_continuous=False)")
                    )  # fmt: skip
        return acts

    def render(self, world: int = 0, size: int = 512) -> np.ndarray:
        """A top-down RGB frame (``uint8 [size, size, 3]``) of world ``world``; see :mod:`.render`."""
        from .render import render_world

        return render_world(self.sim, world, size)

    def close(self) -> None:
        pass
