"""A ``gymnasium.vector.VectorEnv`` view of a Puffer vector env, for libraries that consume gymnasium.

Each agent slot is one gymnasium sub-env, so ``num_envs`` of the adapter is the Puffer ``num_agents``.

**Autoreset modes** (``metadata["autoreset_mode"]``, see https://farama.org/Vector-Autoreset-Mode):

* ``NEXT_STEP`` (gymnasium's default, and this adapter's): the step that ends an episode returns its final
  observation; the next step ignores that sub-env's action and returns the first observation of the next
  episode with reward 0. It needs the serial backend, one agent per env object and an env that keeps final
  observations (:attr:`PufferEnv.final_observations`: every emulated gymnasium env does), because the
  sub-env must sit out one step while the others move.
* ``SAME_STEP``: Puffer's native mode, for every backend and env. The observation returned with an
  episode's end is already the first of the next episode; ``infos["final_obs"]`` (an object array, with
  ``infos["_final_obs"]``) holds the final observations when the env keeps them, and
  ``infos["final_info"]`` (with ``_final_info``) the infos of the sub-envs that ended.

**Infos** follow gymnasium's dict-of-arrays convention: each key maps to an array over sub-envs, and
``_key`` is the boolean mask of sub-envs that have it. When episodes end, ``episode_return`` and
``episode_length`` hold their statistics, counted over the steps in which the slot held a live agent
(``masks``), so agents that leave a multi-agent env are not counted while they are away. Gymnasium's
``RecordEpisodeStatistics`` wrapper still works, with its own semantics: it counts every step of every
sub-env, dead slots included. Per-episode env metrics (``score``, ...) come under ``infos["log"]`` when
they can be attributed to the sub-envs that ended (one info dict per ended episode, as emulated envs
report); envs that aggregate their logs (ocean's, with ``n``) leave them in :attr:`puffer_infos` instead.
For multi-agent envs, ``infos["masks"]`` says which slots hold a live agent.

``reset(seed=...)`` takes ``None``, an int (env object ``k`` gets ``seed + k``, as in
:func:`puffer_core.vector.make`) or a list with one seed per sub-env; ``options={"reset_mask": mask}``
resets only the masked sub-envs. Lists and masks need the serial backend, and the slots of one
multi-agent env object are reset together.

Observations, rewards, terminations and truncations are copied by default (``copy=True``), as gymnasium
users expect to keep them; ``copy=False`` returns the reused buffers themselves (SAME_STEP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from .base import VecEnv
from .serial import Serial

__all__ = ["GymnasiumVectorEnv"]


class GymnasiumVectorEnv(gymnasium.vector.VectorEnv):
    """Adapt a synchronous Puffer vector env (``batch_size == num_envs``, CPU) to gymnasium's VectorEnv.

    Args:
        vec: the Puffer vector env, from :func:`puffer_core.vector.make`. Closing the adapter closes it.
        copy: return fresh arrays (default) instead of views of the reused buffers.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (default) or ``AutoresetMode.SAME_STEP`` (or their
            string values); see the module docstring for what each needs.

    Raises:
        ValueError: an async or GPU vector env, or NEXT_STEP where it cannot be provided (the message
            says why and suggests SAME_STEP).
    """

    metadata: dict[str, Any] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": ["rgb_array", "ansi"],
    }

    def __init__(
        self,
        vec: VecEnv,
        copy: bool = True,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
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
        mode = AutoresetMode(autoreset_mode)
        # The serial backend lets the adapter step or reset single env objects (NEXT_STEP, reset_mask,
        # per-env seeds) and read their final observations; other backends are driven as a whole.
        self._envs: list[Any] | None = list(vec.envs) if isinstance(vec, Serial) else None
        self.has_final_obs = self._envs is not None and all(
            getattr(env, "final_observations", None) is not None for env in self._envs
        )
        if mode == AutoresetMode.NEXT_STEP:
            why = None
            if self._envs is None:
                why = f"the {type(vec).__name__} backend steps every env together (use backend='serial')"
            elif vec.agents_per_env != 1:
                why = (
                    f"each env object holds {vec.agents_per_env} agent slots, which cannot sit out a step "
                    "one at a time"
                )
            elif not self.has_final_obs:
                why = f"{type(self._envs[0]).__name__} does not keep final observations (final_observations)"
            if why:
                raise ValueError(
                    f"AutoresetMode.NEXT_STEP is not available: {why}. "
                    "Pass autoreset_mode=AutoresetMode.SAME_STEP (Puffer's native mode)."
                )
        elif mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"Puffer envs always reset automatically: {mode} is not supported")
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.vec = vec
        self.copy = bool(copy)
        self.num_envs = vec.num_agents
        self.single_observation_space = vec.single_observation_space
        self.single_action_space = vec.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = getattr(self._envs[0], "render_mode", None) if self._envs else None
        self._agents_per_env = vec.agents_per_env
        self._multi_agent = vec.agents_per_env > 1
        #: The Puffer info dicts of the last step, as the envs returned them (aggregated logs included).
        self.puffer_infos: list[dict[str, float]] = []
        # Episode statistics per slot, counted over the steps a live agent acted in (mask before the step).
        self._returns = np.zeros(self.num_envs, dtype=np.float64)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._acting = np.ones(self.num_envs, dtype=bool)
        # NEXT_STEP: sub-envs whose episode ended in the last step and sit out the next one.
        self._autoreset = np.zeros(self.num_envs, dtype=bool)

    # -- reset ---------------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-envs (or those in ``options["reset_mask"]``); see the module docstring for seeds."""
        options = dict(options or {})
        reset_mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"Puffer envs take no reset options besides 'reset_mask', got {sorted(options)}")
        env_seeds = self._env_seeds(seed)
        env_mask = self._env_mask(reset_mask)
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            super().reset(seed=int(seed))  # seeds self.np_random, as gymnasium's vector envs do
        elif env_mask is None and self._envs is None and _consecutive(env_seeds):
            seed = env_seeds[0]  # the seeds Puffer's own rule gives (object k: seed + k): any backend does it
        if env_mask is None and not isinstance(seed, (list, tuple, np.ndarray)):
            self.vec.reset(None if seed is None else int(seed))
            slots = np.ones(self.num_envs, dtype=bool)
        else:
            if self._envs is None:
                raise ValueError(
                    "per-env seeds and reset_mask need backend='serial': the "
                    f"{type(self.vec).__name__} backend resets every env together"
                )
            # Resetting single env objects bypasses the vector env's first-reset seed: mark it used.
            self.vec._first_reset = False
            mask = np.ones(len(self._envs), dtype=bool) if env_mask is None else env_mask
            for k in np.flatnonzero(mask):
                self._envs[k].reset(seed=env_seeds[k])
            slots = np.repeat(mask, self._agents_per_env)
        buffers = self.vec.buffers
        buffers.rewards[slots] = 0
        buffers.terminals[slots] = False
        buffers.truncations[slots] = False
        self._returns[slots] = 0
        self._lengths[slots] = 0
        self._autoreset[slots] = False
        self._acting = buffers.masks.copy()
        self.puffer_infos = []
        infos: dict[str, Any] = {}
        if self._multi_agent:
            self._add(infos, "masks", buffers.masks.copy(), np.ones(self.num_envs, dtype=bool))
        return self._out(buffers.observations), infos

    def _env_seeds(self, seed: Any) -> list[int | None]:
        """One seed per env object from ``None``, an int or a list of one seed per sub-env (slot)."""
        num_objects = self.vec.num_envs
        if seed is None:
            return [None] * num_objects
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            return [int(seed) + k for k in range(num_objects)]
        if not isinstance(seed, (list, tuple, np.ndarray)):
            raise TypeError(f"seed must be None, an int or a list of ints, got {type(seed).__name__}")
        seeds = [None if s is None else int(s) for s in seed]
        if len(seeds) != self.num_envs:
            raise ValueError(f"seed must have one entry per sub-env ({self.num_envs}), got {len(seeds)}")
        ape = self._agents_per_env
        for k in range(num_objects):
            group = seeds[k * ape : (k + 1) * ape]
            if len(set(group)) != 1:
                raise ValueError(
                    f"sub-envs {k * ape}..{(k + 1) * ape - 1} are the agents of one env object and share "
                    f"one seed; got {group}"
                )
        return seeds[::ape]

    def _env_mask(self, reset_mask: Any) -> np.ndarray | None:
        """The env objects to reset from a mask over sub-envs; None when every one is."""
        if reset_mask is None:
            return None
        mask = np.asarray(reset_mask)
        if mask.dtype != bool or mask.shape != (self.num_envs,):
            raise ValueError(
                f"reset_mask must be a bool array of shape ({self.num_envs},), got {mask.dtype} {mask.shape}"
            )
        groups = mask.reshape(self.vec.num_envs, self._agents_per_env)
        if (groups.any(axis=1) != groups.all(axis=1)).any():
            raise ValueError("reset_mask must select every agent slot of an env object, or none of them")
        env_mask = groups[:, 0]
        if not env_mask.any():
            raise ValueError("reset_mask selects no sub-env")
        return None if env_mask.all() else env_mask

    # -- step ----------------------------------------------------------------------------------------------
    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; see the module docstring for autoreset and infos."""
        buffers = self.vec.buffers
        skip = self._autoreset if self.autoreset_mode == AutoresetMode.NEXT_STEP else None
        puffer_infos = self._step_envs(actions, skip) if self._envs is not None else self._step_vec(actions)
        if skip is not None and skip.any():
            # These sub-envs began their next episode in the last step: this step only shows it.
            buffers.rewards[skip] = 0
            buffers.terminals[skip] = False
            buffers.truncations[skip] = False
        self.puffer_infos = puffer_infos

        acted = self._acting if skip is None else self._acting & ~skip
        rewards, terminals, truncations = buffers.rewards, buffers.terminals, buffers.truncations
        self._returns += np.where(acted, rewards, 0.0)
        self._lengths += acted
        ended = (terminals | truncations) & acted
        self._acting = buffers.masks.copy()

        infos: dict[str, Any] = {}
        obs = self._out(buffers.observations)
        if ended.any():
            self._add(infos, "episode_return", np.where(ended, self._returns, 0.0), ended)
            self._add(infos, "episode_length", np.where(ended, self._lengths, 0), ended)
            self._returns[ended] = 0
            self._lengths[ended] = 0
            self._add_logs(infos, puffer_infos, ended)
            if self.autoreset_mode == AutoresetMode.NEXT_STEP:
                obs = obs if obs is not buffers.observations else obs.copy()
                obs[ended] = self._final_observations()[ended]
                self._autoreset = ended.copy()
            else:
                final_info = dict(infos)
                infos["final_info"], infos["_final_info"] = final_info, ended
                if self.has_final_obs:
                    final_obs = np.full(self.num_envs, None, dtype=object)
                    finals = self._final_observations()
                    for i in np.flatnonzero(ended):
                        final_obs[i] = finals[i].copy()
                    infos["final_obs"], infos["_final_obs"] = final_obs, ended
        elif skip is not None:
            self._autoreset = np.zeros(self.num_envs, dtype=bool)
        if self._multi_agent:
            self._add(infos, "masks", buffers.masks.copy(), np.ones(self.num_envs, dtype=bool))
        return obs, self._out(rewards), self._out(terminals), self._out(truncations), infos

    def _step_envs(self, actions: Any, skip: np.ndarray | None) -> list[dict[str, float]]:
        """Serial backend: validate the actions, then step each env object not sitting out this step."""
        assert self._envs is not None
        checked = self.vec._check_actions(actions)
        np.copyto(self.vec.buffers.actions, checked, casting="unsafe")
        infos: list[dict[str, float]] = []
        for k, env in enumerate(self._envs):
            if skip is not None and skip[k]:  # NEXT_STEP implies one agent per env object: slot k is env k
                continue
            env_infos = env.step(env.actions)[4]
            if env_infos:
                infos.extend(env_infos)
        return infos

    def _step_vec(self, actions: Any) -> list[dict[str, float]]:
        return list(self.vec.step(actions)[4])

    def _final_observations(self) -> np.ndarray:
        assert self._envs is not None
        return np.concatenate([env.final_observations for env in self._envs])

    # -- infos ---------------------------------------------------------------------------------------------
    def _add(self, infos: dict[str, Any], key: str, values: np.ndarray, mask: np.ndarray) -> None:
        infos[key] = values
        infos[f"_{key}"] = mask

    def _add_logs(
        self, infos: dict[str, Any], puffer_infos: list[dict[str, float]], ended: np.ndarray
    ) -> None:
        """Env metrics under ``infos["log"]`` when each info dict is one ended sub-env's episode, in order."""
        slots = np.flatnonzero(ended)
        if len(puffer_infos) != len(slots) or any(info.get("n", 1) != 1 for info in puffer_infos):
            return  # aggregated logs: they belong to no single sub-env (see puffer_infos)
        log: dict[str, Any] = {}
        for slot, info in zip(slots, puffer_infos):
            for key, value in info.items():
                if key in ("episode_return", "episode_length", "n"):
                    continue
                if key not in log:
                    log[key] = np.zeros(self.num_envs, dtype=np.float64)
                    log[f"_{key}"] = np.zeros(self.num_envs, dtype=bool)
                log[key][slot] = value
                log[f"_{key}"][slot] = True
        if log:
            self._add(infos, "log", log, ended.copy())

    # -- the rest of gymnasium's API -----------------------------------------------------------------------
    def render(self) -> tuple[Any, ...] | None:
        """One frame (or text) per env object, as each env renders in its ``render_mode``."""
        if self._envs is None:
            raise NotImplementedError(
                f"render() needs backend='serial': the {type(self.vec).__name__} backend's envs live in "
                "worker processes"
            )
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self._envs)

    def close_extras(self, **kwargs: Any) -> None:
        self.vec.close()

    def _out(self, array: np.ndarray) -> np.ndarray:
        return array.copy() if self.copy else array

    def __repr__(self) -> str:
        return f"GymnasiumVectorEnv({self.vec!r}, autoreset_mode={self.autoreset_mode.name})"


def _consecutive(seeds: list[int | None]) -> bool:
    first = seeds[0]
    return first is not None and seeds == [first + k for k in range(len(seeds))]
