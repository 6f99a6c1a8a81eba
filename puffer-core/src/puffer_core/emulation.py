"""Run gymnasium and pettingzoo envs as PufferEnvs.

:class:`GymnasiumPufferEnv` wraps any ``gymnasium.Env`` as a one-agent PufferEnv;
:class:`PettingZooPufferEnv` wraps a pettingzoo ``ParallelEnv`` (or an ``AECEnv``, converted with
pettingzoo's ``aec_to_parallel``, or ``turn_based_aec_to_parallel`` for turn-based games) as a PufferEnv
with one slot per possible agent.

What the wrappers do:

* Structured observation and action spaces are flattened into one fixed-size buffer per agent (see
  :mod:`puffer_core.flatten`). The original spaces stay available as ``structured_observation_space`` and
  ``structured_action_space``; ``unflatten(obs, env.structured_observation_space)`` gives back the nested
  observations, and :func:`layout` the per-leaf table for torch models. Mixed (not all discrete) structured
  action spaces become a float32 ``Box``; discrete leaves in it are rounded and range-checked.
* Episodes reset automatically: the observation returned with ``terminals``/``truncations`` set is already
  the first one of the next episode. The final observation of the episode is kept in
  ``final_observations`` (written only at episode ends, so it costs nothing on the hot path).
  ``terminated`` goes to ``terminals`` and ``truncated`` to ``truncations``; they are never merged.
* Episode return and length are tracked for every agent and come back in ``infos`` when an episode ends,
  together with the numeric scalar entries of the env's own info at that step (e.g. ``score``).
* ``reset(seed)`` seeds the wrapped env once; later automatic resets continue its random stream, so the
  same seed gives the same trajectory. The ``seed`` given to the constructor is used by the first
  ``reset()`` that does not name one.
* Observations are cast explicitly to the declared dtype (float64 values of a float32 Box are stored as
  float32). A value that the cast would change on its way into an integer or bool dtype (300 into uint8,
  1.5 into a Discrete), a non-numeric value, or a shape that does not match the declared space raises
  ValueError naming the leaf.

Pettingzoo agents that come and go are padded to ``num_agents = len(possible_agents)`` slots: an absent
or dead agent's slot has ``masks`` False, zero observation and zero reward. An agent's slot is live (mask
True) in every step in which the env returns an observation for it, including the step in which it ends.
Episode return and length count the steps in which the agent acted (its slot was live before the step).
When every agent is done the env resets: that step's rewards and flags stay, while observations and masks
are already those of the next episode.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from .env import Buffers, EpisodeTracker, PufferEnv
from .errors import APIUsageError
from .flatten import (
    ActionReader,
    Leaf,
    ObservationWriter,
    flatten,
    flatten_action_space,
    flatten_space,
    layout,
    structured_dtype,
    unflatten,
    unflatten_action,
)

__all__ = [
    "GymnasiumPufferEnv",
    "PettingZooPufferEnv",
    "Leaf",
    "layout",
    "flatten",
    "unflatten",
    "flatten_space",
    "flatten_action_space",
    "unflatten_action",
    "structured_dtype",
]

#: Keys the tracker writes; an env's own info entries never overwrite them.
RESERVED_INFO_KEYS = frozenset({"episode_return", "episode_length", "n"})


def _episode_metrics(info: Any) -> dict[str, float]:
    """Numeric scalar entries of an env's episode-end info, as floats (cheap: only at episode end)."""
    if not isinstance(info, dict):
        return {}
    out = {}
    for key, value in info.items():
        if not isinstance(key, str) or key in RESERVED_INFO_KEYS or key.startswith("_"):
            continue
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_)):
            out[key] = float(value)
    return out


class GymnasiumPufferEnv(PufferEnv):
    """A ``gymnasium.Env`` as a one-agent PufferEnv.

    Args:
        env_creator_or_env: a ``gymnasium.Env``, or a function of no arguments that returns one (pass a
            function when the env is made inside a worker process).
        buf: buffers to write into (from a vectorizer); ``None`` allocates them.
        seed: seed for the first ``reset()`` that does not pass one.
    """

    def __init__(
        self,
        env_creator_or_env: Callable[[], Any] | Any,
        buf: Buffers | None = None,
        seed: int | None = None,
    ) -> None:
        import gymnasium

        env = env_creator_or_env
        if not isinstance(env, gymnasium.Env):
            if not callable(env):
                raise TypeError(f"expected a gymnasium.Env or a function returning one, got {env!r}")
            env = env()
            if not isinstance(env, gymnasium.Env):
                raise TypeError(f"the env creator must return a gymnasium.Env, got {type(env).__name__}")
        self.env = env
        self.structured_observation_space = env.observation_space
        self.structured_action_space = env.action_space
        self._writer = ObservationWriter(env.observation_space)
        self._reader = ActionReader(env.action_space)
        self.single_observation_space = self._writer.flat_space
        self.single_action_space = self._reader.flat_space
        self.num_agents = 1
        self.render_mode = getattr(env, "render_mode", None)
        super().__init__(buf)
        self._write_obs = self._writer.bind(self.observations[0])
        self.final_observations = np.zeros_like(self.observations)
        self._write_final_obs = self._writer.bind(self.final_observations[0])
        self._read_action = self._reader.bind(self.actions, 0)
        # Running sums of the current episode as Python numbers: a numpy EpisodeTracker costs ~5 us a step
        # for one agent, more than the wrapper's whole overhead. Infos use EpisodeTracker's format.
        self._episode_return = 0.0
        self._episode_length = 0
        self._seed = seed
        self._needs_reset = True
        self._closed = False

    @property
    def emulated(self) -> bool:
        return True

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
        if seed is None:
            seed, self._seed = self._seed, None
        else:
            self._seed = None
        if seed is not None:
            self.single_action_space.seed(seed)
        obs, _ = self.env.reset(seed=seed)
        self._write_obs(obs)
        self.rewards[0] = 0
        self.terminals[0] = False
        self.truncations[0] = False
        self.masks[0] = True
        self._episode_return, self._episode_length = 0.0, 0
        self._needs_reset = False
        return self.observations, []

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, float]]]:
        if self._needs_reset:
            raise APIUsageError(f"{type(self).__name__}.step() called before reset()")
        if actions is not self.actions:
            self.write_actions(actions)
        obs, reward, terminated, truncated, info = self.env.step(self._read_action())
        self.rewards[0] = reward
        self.terminals[0] = terminated
        self.truncations[0] = truncated
        if terminated or truncated:
            info_out = EpisodeTracker.episode_info(
                self._episode_return + float(reward), self._episode_length + 1
            )
            info_out.update(_episode_metrics(info))
            infos = [info_out]
            self._episode_return, self._episode_length = 0.0, 0
            self._write_final_obs(obs)
            obs, _ = self.env.reset()
        else:
            self._episode_return += float(reward)
            self._episode_length += 1
            infos = []
        self._write_obs(obs)
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.env.close()


class PettingZooPufferEnv(PufferEnv):
    """A pettingzoo ``ParallelEnv`` (or ``AECEnv``) as a PufferEnv with one slot per possible agent.

    Every agent must have the same observation space and the same action space. Slots follow the order
    of ``possible_agents``.

    Args:
        env_creator_or_env: a ``ParallelEnv`` or ``AECEnv``, or a function of no arguments returning one.
        buf: buffers to write into (from a vectorizer); ``None`` allocates them.
        seed: seed for the first ``reset()`` that does not pass one.
    """

    def __init__(
        self,
        env_creator_or_env: Callable[[], Any] | Any,
        buf: Buffers | None = None,
        seed: int | None = None,
    ) -> None:
        from pettingzoo.utils.conversions import aec_to_parallel, turn_based_aec_to_parallel
        from pettingzoo.utils.env import AECEnv, ParallelEnv

        env = env_creator_or_env
        if not isinstance(env, (AECEnv, ParallelEnv)):
            if not callable(env):
                raise TypeError(
                    f"expected a pettingzoo ParallelEnv/AECEnv or a function returning one, got {env!r}"
                )
            env = env()
        if isinstance(env, AECEnv):
            # Envs that update once per cycle convert exactly; turn-based games (chess, tictactoe_v3) step
            # one agent at a time: every agent observes every step, the action of the agent whose turn it
            # is is applied and the others' are ignored. Such games say whose turn it is in their
            # observation's action mask (all zeros for the agents that wait), which is passed through.
            if env.metadata.get("is_parallelizable", False):
                env = aec_to_parallel(env)
            else:
                env = turn_based_aec_to_parallel(env)
        if not isinstance(env, ParallelEnv):
            raise TypeError(f"expected a pettingzoo ParallelEnv or AECEnv, got {type(env).__name__}")
        self.env = env
        self.possible_agents = list(env.possible_agents)
        if not self.possible_agents:
            raise ValueError("the pettingzoo env has no possible_agents")
        first = self.possible_agents[0]
        obs_space, act_space = env.observation_space(first), env.action_space(first)
        for agent in self.possible_agents[1:]:
            if env.observation_space(agent) != obs_space or env.action_space(agent) != act_space:
                raise ValueError(
                    f"every agent must have the same spaces: {agent!r} has {env.observation_space(agent)} / "
                    f"{env.action_space(agent)}, {first!r} has {obs_space} / {act_space}"
                )
        self.agent_slots = {agent: i for i, agent in enumerate(self.possible_agents)}
        self.structured_observation_space = obs_space
        self.structured_action_space = act_space
        self._writer = ObservationWriter(obs_space)
        self._reader = ActionReader(act_space)
        self.single_observation_space = self._writer.flat_space
        self.single_action_space = self._reader.flat_space
        self.num_agents = len(self.possible_agents)
        self.render_mode = getattr(env, "render_mode", None)
        super().__init__(buf)
        self._write_obs = [self._writer.bind(self.observations[i]) for i in range(self.num_agents)]
        self.final_observations = np.zeros_like(self.observations)
        self._tracker = EpisodeTracker(self.num_agents)
        self._seed = seed
        self._needs_reset = True
        self._closed = False

    @property
    def emulated(self) -> bool:
        return True

    def _write_observations(self, observations: dict[Any, Any]) -> None:
        self.observations[...] = 0
        self.masks[:] = False
        for agent, obs in observations.items():
            slot = self.agent_slots.get(agent)
            if slot is None:
                raise ValueError(f"the env returned an observation for {agent!r}, not one of possible_agents")
            self._write_obs[slot](obs)
            self.masks[slot] = True

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
        if seed is None:
            seed, self._seed = self._seed, None
        else:
            self._seed = None
        if seed is not None:
            self.single_action_space.seed(seed)
        observations, _ = self.env.reset(seed=seed)
        self._write_observations(observations)
        self.rewards[:] = 0
        self.terminals[:] = False
        self.truncations[:] = False
        self._tracker.reset()
        self._needs_reset = False
        return self.observations, []

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, float]]]:
        if self._needs_reset:
            raise APIUsageError(f"{type(self).__name__}.step() called before reset()")
        self.write_actions(actions)
        slots = self.agent_slots
        acted = self.masks.copy()
        action_dict = {agent: self._reader(self.actions[slots[agent]]) for agent in self.env.agents}
        observations, rewards, terminations, truncations, env_infos = self.env.step(action_dict)

        self._write_observations(observations)
        self.rewards[:] = 0
        self.terminals[:] = False
        self.truncations[:] = False
        for agent, reward in rewards.items():
            self.rewards[slots[agent]] = reward
        for agent, flag in terminations.items():
            self.terminals[slots[agent]] = flag
        for agent, flag in truncations.items():
            self.truncations[slots[agent]] = flag
        # Episodes count the steps an agent acted in (its slot was live before the step).
        infos = self._tracker.update(self.rewards, self.terminals, self.truncations, acted)
        if infos:
            done = np.flatnonzero((self.terminals | self.truncations) & acted)
            for info, slot in zip(infos, done):
                info.update(_episode_metrics(env_infos.get(self.possible_agents[slot])))
        ended = (self.terminals | self.truncations) & self.masks
        if ended.any():  # the observation returned with the end is the final one (kept across a reset)
            self.final_observations[ended] = self.observations[ended]
        # A slot whose agent left without ending its episode starts from zero when it comes back.
        absent = ~self.masks
        self._tracker.returns[absent] = 0
        self._tracker.lengths[absent] = 0
        if not self.env.agents:
            # Every agent is done: start the next episode. Slots keep this step's rewards and flags.
            observations, _ = self.env.reset()
            self._write_observations(observations)
            self._tracker.reset()
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.env.close()
