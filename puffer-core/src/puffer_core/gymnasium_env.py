"""``as_gymnasium_env``: one single-agent PufferEnv as a plain ``gymnasium.Env``.

Puffer envs reset automatically inside the step that ends an episode; this view hides that:

* The step that ends an episode returns the episode's final observation when the env keeps it
  (:attr:`PufferEnv.final_observations`, as every emulated gymnasium env and ocean env does). Envs that do
  not keep it return the first observation of the next episode instead, and say so with
  ``info["final_observation_kept"] = False``.
* The ``reset()`` that follows does not reset again: the next episode has already begun inside that step,
  and resetting once more would cost a step of the env's random stream. ``reset(seed=s)`` always reseeds.
* Finished-episode statistics that the env reports (``episode_return``, ``score``, ...) are merged into the
  ``info`` of the step they come with.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from ._single import check_cpu, make_one_copy
from .env import PufferEnv

__all__ = ["PufferGymnasiumEnv", "as_gymnasium_env"]


class PufferGymnasiumEnv(gymnasium.Env):
    """A ``gymnasium.Env`` over a PufferEnv with exactly one agent slot. See the module docstring.

    Args:
        env: the PufferEnv (``num_agents == 1``, CPU). Closing the view closes it.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 30}

    def __init__(self, env: PufferEnv) -> None:
        check_cpu(env, "gymnasium.Env")
        if env.num_agents != 1:
            raise ValueError(
                f"{type(env).__name__} has {env.num_agents} agent slots; a gymnasium.Env has one agent. "
                "Use num_envs=1 for batched envs, puffer_core.as_parallel_env for multi-agent envs, or "
                "puffer_core.vector.GymnasiumVectorEnv for many copies"
            )
        self.env = env
        self.observation_space = env.single_observation_space
        self.action_space = env.single_action_space
        self.render_mode = env.render_mode
        self._action_shape = env.actions.shape
        self._keeps_final = getattr(env, "final_observations", None) is not None
        # True after a step that ended an episode: the Puffer env has already begun the next one.
        self._next_episode_started = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: reseed with ``seed``; otherwise continue the env's random stream."""
        super().reset(seed=seed)
        if options:
            raise ValueError(f"Puffer envs take no reset options, got {sorted(options)}")
        if seed is not None or not self._next_episode_started:
            self.env.reset(seed=seed)
        self._next_episode_started = False
        return self.env.observations[0].copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Step the env; the returned arrays are copies, safe to keep."""
        self.env.write_actions(np.asarray(action).reshape(self._action_shape))
        obs, rewards, terminals, truncations, puffer_infos = self.env.step(self.env.actions)
        terminated, truncated = bool(terminals[0]), bool(truncations[0])
        info: dict[str, Any] = {}
        for puffer_info in puffer_infos:
            info.update(puffer_info)
        if terminated or truncated:
            self._next_episode_started = True
            info["final_observation_kept"] = self._keeps_final
            if self._keeps_final:
                return self.env.final_observations[0].copy(), float(rewards[0]), terminated, truncated, info
        return obs[0].copy(), float(rewards[0]), terminated, truncated, info

    def render(self) -> Any:
        return None if self.render_mode is None else self.env.render()

    def close(self) -> None:
        self.env.close()


def as_gymnasium_env(env_id_or_env: str | PufferEnv, **kwargs: Any) -> PufferGymnasiumEnv:
    """A single-agent PufferEnv as a ``gymnasium.Env``: ``as_gymnasium_env("ocean/cartpole", seed=0)``.

    Args:
        env_id_or_env: a registered env id, or a PufferEnv with one agent slot.
        **kwargs: env kwargs (with an id), ``seed`` included; envs that batch copies get ``num_envs=1``.
    """
    return PufferGymnasiumEnv(make_one_copy(env_id_or_env, kwargs))
