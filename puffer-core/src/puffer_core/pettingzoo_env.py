"""``as_parallel_env``: one multi-agent PufferEnv as a pettingzoo ``ParallelEnv``.

Agent slot ``i`` is the agent ``"agent_i"``. Puffer envs restart an agent inside the step that ends its
episode; pettingzoo agents, once done, stay out until the next ``reset()``. The view reconciles the two:

* ``agents`` holds the slots that are live (``masks`` True) and whose episode has not ended since the last
  ``reset()``. A slot that turns live later (e.g. a snake that found room to spawn) joins ``agents``.
* An agent whose episode ends is reported done once (``terminations``/``truncations``) and then leaves
  ``agents``. Its slot goes on being stepped in the underlying env (the env restarted it), with action 0,
  until ``reset()``; its observations and rewards are no longer reported.
* A live agent that leaves without an end flag (its slot turns dead) is reported truncated.
* The episode is over when ``agents`` is empty; call ``reset()``.

Observations returned with an end are the final ones when the env keeps them
(:attr:`PufferEnv.final_observations`); otherwise the slot's current observation.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium
import numpy as np
from pettingzoo.utils.env import ParallelEnv

from ._single import check_cpu, make_one_copy
from .env import PufferEnv

__all__ = ["PufferParallelEnv", "as_parallel_env"]


class PufferParallelEnv(ParallelEnv):
    """A pettingzoo ``ParallelEnv`` over a PufferEnv; see the module docstring.

    Args:
        env: the PufferEnv (CPU). Closing the view closes it.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "ansi"], "name": "puffer_parallel_v0"}

    def __init__(self, env: PufferEnv) -> None:
        check_cpu(env, "pettingzoo ParallelEnv")
        self.env = env
        self.possible_agents = [f"agent_{i}" for i in range(env.num_agents)]
        self.agents: list[str] = []
        self.render_mode = env.render_mode
        self._slots = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._finished = np.zeros(env.num_agents, dtype=bool)
        self._keeps_final = getattr(env, "final_observations", None) is not None

    @functools.cache  # noqa: B019 - pettingzoo requires the same object every call
    def observation_space(self, agent: str) -> gymnasium.Space:
        return self.env.single_observation_space

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> gymnasium.Space:
        return self.env.single_action_space

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Reset every agent; ``seed`` reseeds the env. ``options`` are accepted and ignored."""
        obs, _ = self.env.reset(seed=seed)
        self._finished[:] = False
        live = self.env.masks
        self.agents = [agent for agent, slot in self._slots.items() if live[slot]]
        return {a: obs[self._slots[a]].copy() for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Step the agents in ``agents`` with ``actions``; agents without an action do action 0."""
        env = self.env
        buffer = np.zeros_like(env.actions)
        for agent, action in actions.items():
            if agent not in self._slots:
                raise ValueError(f"unknown agent {agent!r}; possible agents are {self.possible_agents}")
            buffer[self._slots[agent]] = action
        reporting = list(self.agents)
        obs, rewards, terminals, truncations, puffer_infos = env.step(buffer)
        live = env.masks
        finals = env.final_observations if self._keeps_final else obs
        observations, rew, term, trunc, infos = {}, {}, {}, {}, {}
        for agent in reporting:
            slot = self._slots[agent]
            ended = bool(terminals[slot] or truncations[slot])
            left = not ended and not live[slot]
            observations[agent] = (finals[slot] if ended else obs[slot]).copy()
            rew[agent] = float(rewards[slot])
            term[agent] = bool(terminals[slot])
            trunc[agent] = bool(truncations[slot]) or left
            infos[agent] = {}
            if ended or left:
                self._finished[slot] = True
        # Slots that turned live since the last step, and have not finished, join the episode.
        self.agents = [a for a, slot in self._slots.items() if live[slot] and not self._finished[slot]]
        for agent in self.agents:
            if agent not in observations:
                slot = self._slots[agent]
                observations[agent], rew[agent] = obs[slot].copy(), 0.0
                term[agent] = trunc[agent] = False
                infos[agent] = {}
        return observations, rew, term, trunc, infos

    def render(self) -> Any:
        return None if self.render_mode is None else self.env.render()

    def close(self) -> None:
        self.env.close()


def as_parallel_env(env_id_or_env: str | PufferEnv, **kwargs: Any) -> PufferParallelEnv:
    """A multi-agent PufferEnv as a pettingzoo ``ParallelEnv``: ``as_parallel_env("ocean/snake", seed=0)``.

    Args:
        env_id_or_env: a registered env id, or a PufferEnv.
        **kwargs: env kwargs (with an id), ``seed`` included; envs that batch copies get ``num_envs=1``.
    """
    return PufferParallelEnv(make_one_copy(env_id_or_env, kwargs))
