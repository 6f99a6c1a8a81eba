"""A ``gymnasium.vector.VectorEnv`` view of a Puffer vector env, for libraries that consume gymnasium.

Each agent slot is one gymnasium sub-env, so ``num_envs`` of the adapter is the Puffer ``num_agents``.
Differences from gymnasium's own vector envs, all declared through the standard API:

* ``metadata["autoreset_mode"]`` is :attr:`gymnasium.vector.AutoresetMode.SAME_STEP`: an episode that ends
  in a step is reset inside that same step, and the returned observation is already the first one of the
  next episode. Puffer envs do not keep the final observation, so ``infos`` has no ``final_obs``.
* ``infos`` is ``{}`` unless episodes finished: then ``infos["puffer_infos"]`` is Puffer's list of
  finished-episode dicts (``episode_return``, ``episode_length``, ...). Gymnasium's
  ``RecordEpisodeStatistics`` vector wrapper works on top of this adapter as usual.
* For multi-agent envs, ``infos["masks"]`` says which agent slots hold a live agent.
* Observations, rewards, terminations and truncations are copied by default (``copy=True``), as gymnasium
  users expect to keep them; ``copy=False`` returns the reused buffers themselves.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from .base import VecEnv

__all__ = ["GymnasiumVectorEnv"]


class GymnasiumVectorEnv(gymnasium.vector.VectorEnv):
    """Adapt a synchronous Puffer vector env (``batch_size == num_envs``, CPU) to gymnasium's VectorEnv.

    Args:
        vec: the Puffer vector env, from :func:`puffer_core.vector.make`. Closing the adapter closes it.
        copy: return fresh arrays (default) instead of views of the reused buffers.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, vec: VecEnv, copy: bool = True) -> None:
        if not isinstance(vec, VecEnv):
            raise TypeError(
                f"vec must be a Puffer vector env from puffer_core.vector.make, got {type(vec).__name__}"
            )
        if vec.batch_size != vec.num_envs:
            raise ValueError(
                "gymnasium's VectorEnv is synchronous: make the Puffer vec env with batch_size == num_envs "
                f"(got batch_size={vec.batch_size}, num_envs={vec.num_envs})"
            )
        if vec.device != "cpu":
            raise ValueError(f"the adapter needs numpy buffers; this vector env lives on {vec.device!r}")
        self.vec = vec
        self.copy = bool(copy)
        self.num_envs = vec.num_agents
        self.single_observation_space = vec.single_observation_space
        self.single_action_space = vec.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._multi_agent = vec.agents_per_env > 1

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every env; Puffer env ``i`` gets seed ``seed + i``. ``options`` are not supported."""
        if options:
            raise ValueError(f"Puffer envs take no reset options, got {options!r}")
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int (env i gets seed + i) or None, got {type(seed).__name__}")
        super().reset(seed=None if seed is None else int(seed))
        obs, infos = self.vec.reset(None if seed is None else int(seed))
        return self._out(obs), self._infos(infos)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env; see the module docstring for the SAME_STEP autoreset and the infos."""
        obs, rewards, terminals, truncations, infos = self.vec.step(actions)
        return (
            self._out(obs),
            self._out(rewards),
            self._out(terminals),
            self._out(truncations),
            self._infos(infos),
        )

    def close_extras(self, **kwargs: Any) -> None:
        self.vec.close()

    def _out(self, array: np.ndarray) -> np.ndarray:
        return array.copy() if self.copy else array

    def _infos(self, infos: list[dict[str, float]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if infos:
            out["puffer_infos"] = list(infos)
        if self._multi_agent:
            out["masks"] = self.vec.buffers.masks.copy()
            out["_masks"] = np.ones(self.num_envs, dtype=bool)
        return out

    def __repr__(self) -> str:
        return f"GymnasiumVectorEnv({self.vec!r})"
