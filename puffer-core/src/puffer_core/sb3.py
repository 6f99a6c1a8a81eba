"""``SB3VecEnv``: a Puffer vector env as a Stable-Baselines3 ``VecEnv`` (optional extra ``sb3``).

Importing this module imports stable-baselines3 (and so torch); ``import puffer_core`` never does.

::

    from stable_baselines3 import PPO
    import puffer_core
    from puffer_core.sb3 import SB3VecEnv

    venv = SB3VecEnv(puffer_core.vector.make("ocean/cartpole", env_kwargs={"num_envs": 8}))
    PPO("MlpPolicy", venv).learn(10_000)

Each agent slot is one SB3 env. Episodes reset automatically, as SB3 expects. At an episode's end the
slot's info holds ``TimeLimit.truncated`` (truncated and not terminated), ``terminal_observation`` when the
env keeps final observations (:attr:`PufferEnv.final_observations`, serial backend: every emulated
gymnasium env and ocean env) so PPO bootstraps truncated episodes, and ``episode`` (``r``, ``l``, ``t``, as
SB3's ``Monitor`` writes it) so SB3 logs ``ep_rew_mean``/``ep_len_mean`` without a ``VecMonitor``. Dead slots
of multi-agent envs report zero observations and rewards; SB3 has no notion of masks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from .vector.base import VecEnv as PufferVecEnv
from .vector.gymnasium import GymnasiumVectorEnv

__all__ = ["SB3VecEnv"]


class SB3VecEnv(VecEnv):
    """Stable-Baselines3 ``VecEnv`` over a synchronous Puffer vector env; see the module docstring.

    Args:
        vecenv: from :func:`puffer_core.vector.make` (``batch_size == num_envs``, CPU). Closing the SB3 env
            closes it.
    """

    def __init__(self, vecenv: PufferVecEnv) -> None:
        # The gymnasium adapter in SAME_STEP mode already has SB3's semantics (reset inside the step, final
        # observations aside); this class only reshapes its outputs.
        self.gym = GymnasiumVectorEnv(vecenv, autoreset_mode=AutoresetMode.SAME_STEP)
        self.vecenv = vecenv
        self._actions: np.ndarray | None = None
        self._start = time.perf_counter()
        super().__init__(self.gym.num_envs, vecenv.single_observation_space, vecenv.single_action_space)

    # -- the VecEnv API ------------------------------------------------------------------------------------
    def reset(self) -> np.ndarray:
        """Reset every env with the seeds of the last :meth:`seed` call (if any) and return observations."""
        obs, _ = self.gym.reset(seed=self._gymnasium_seed(self._seeds))
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        obs, rewards, terminals, truncations, infos = self.gym.step(self._actions)
        self._actions = None
        dones = terminals | truncations
        sb3_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        elapsed = round(time.perf_counter() - self._start, 6)
        for i in np.flatnonzero(dones):
            info = sb3_infos[i]
            info["TimeLimit.truncated"] = bool(truncations[i] and not terminals[i])
            if "final_obs" in infos:
                info["terminal_observation"] = infos["final_obs"][i]
            if infos.get("_episode_return", np.zeros(0, dtype=bool))[i:i + 1].any():
                info["episode"] = {
                    "r": float(infos["episode_return"][i]),
                    "l": int(infos["episode_length"][i]),
                    "t": elapsed,
                }
            log = infos.get("log", {})
            for key, values in log.items():
                if not key.startswith("_") and log[f"_{key}"][i]:
                    info[key] = float(values[i])
        return obs, rewards.astype(np.float32), dones, sb3_infos

    def close(self) -> None:
        self.gym.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One frame per SB3 env (the frame of the env object its slot belongs to)."""
        frames = self.gym.render() or ()
        ape = self.vecenv.agents_per_env
        return [frames[i // ape] if frames else None for i in range(self.num_envs)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """``attr_name`` of the env object each slot belongs to (serial backend), else of the vector env."""
        return [getattr(self._owner(i), attr_name) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for i in self._get_indices(indices):
            setattr(self._owner(i), attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        return [
            getattr(self._owner(i), method_name)(*method_args, **method_kwargs)
            for i in self._get_indices(indices)
        ]

    def env_is_wrapped(
        self, wrapper_class: type[gymnasium.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """Puffer envs are never gymnasium-wrapped (emulated envs wrap, rather than are, gymnasium envs)."""
        return [False for _ in self._get_indices(indices)]

    # -- helpers -------------------------------------------------------------------------------------------
    def _owner(self, slot: int) -> Any:
        if self.gym._envs is None:
            return self.vecenv
        return self.gym._envs[slot // self.vecenv.agents_per_env]

    def _gymnasium_seed(self, seeds: Iterable[int | None]) -> int | list[int | None] | None:
        """SB3 seeds slot ``i`` with ``seed + i``: with one agent per env object that is Puffer's own rule
        (env object ``k`` gets ``seed + k``), so an int seed does, on every backend."""
        seeds = list(seeds)
        if all(s is None for s in seeds):
            return None
        ape = self.vecenv.agents_per_env
        first = seeds[0]
        if first is not None and seeds == [first + i for i in range(len(seeds))]:
            # An int seeds env object k with first + k (Puffer's rule): SB3's own rule when ape == 1.
            return first
        return seeds if ape == 1 else [seeds[(i // ape) * ape] for i in range(len(seeds))]
