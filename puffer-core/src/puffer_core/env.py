"""The PufferEnv API: an env that steps many agents straight into preallocated buffers.

A PufferEnv owns (or is handed, by the vectorizer) six arrays whose first axis is the agent slot:

=============== ===================================== ==============================================
buffer          shape                                 dtype
=============== ===================================== ==============================================
observations    ``[num_agents, *obs_shape]``          ``single_observation_space.dtype``
actions         ``[num_agents, *act_shape]``          int32 (Discrete/MultiDiscrete/MultiBinary),
                                                      float32 (float Box)
rewards         ``[num_agents]``                      float32
terminals       ``[num_agents]``                      bool: the episode ended inside the MDP
truncations     ``[num_agents]``                      bool: the episode was cut short (time limit)
masks           ``[num_agents]``                      bool: the slot holds a live agent
=============== ===================================== ==============================================

.. warning::
    ``reset()`` and ``step()`` return **views of these reused buffers**, not fresh arrays. The next call
    overwrites them in place. Copy anything you want to keep (``obs.copy()``) before stepping again.

Episodes reset automatically: when an agent's ``terminals`` or ``truncations`` is set, the observation in
the same step is already the first one of the next episode. Finished-episode statistics come back in the
info list as flat dicts of floats, with at least ``episode_return`` and ``episode_length`` and optionally
``n`` (how many episodes the dict averages over; 1 when absent) and env-specific metrics such as ``score``.

GPU-native envs set ``device`` to something other than ``"cpu"`` and keep their buffers as tensors on that
device (for example torch CUDA tensors). puffer-core never imports torch: it only passes such envs through.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from gymnasium import spaces

from .spaces import action_buffer_layout, joint_space, observation_buffer_layout, validate_actions

__all__ = ["Buffers", "PufferEnv", "EpisodeTracker"]


@dataclass
class Buffers:
    """The six per-agent arrays an env writes into. Vectorizers hand each env a slice of one big set."""

    observations: Any
    actions: Any
    rewards: Any
    terminals: Any
    truncations: Any
    masks: Any

    @classmethod
    def allocate(
        cls, observation_space: spaces.Space, action_space: spaces.Space, num_agents: int
    ) -> Buffers:
        """Allocate zeroed numpy buffers for ``num_agents`` agents with the given per-agent spaces."""
        if not isinstance(num_agents, (int, np.integer)) or num_agents < 1:
            raise ValueError(f"num_agents must be a positive int, got {num_agents!r}")
        obs_shape, obs_dtype = observation_buffer_layout(observation_space)
        act_shape, act_dtype = action_buffer_layout(action_space)
        n = int(num_agents)
        return cls(
            observations=np.zeros((n, *obs_shape), dtype=obs_dtype),
            actions=np.zeros((n, *act_shape), dtype=act_dtype),
            rewards=np.zeros(n, dtype=np.float32),
            terminals=np.zeros(n, dtype=bool),
            truncations=np.zeros(n, dtype=bool),
            masks=np.ones(n, dtype=bool),
        )

    def slice(self, start: int, stop: int) -> Buffers:
        """Views of agent slots ``[start, stop)``: writing into them writes into this set."""
        return Buffers(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})

    def check(self, observation_space: spaces.Space, action_space: spaces.Space, num_agents: int) -> None:
        """Raise ValueError unless every buffer has the shape and dtype the spaces call for."""
        obs_shape, obs_dtype = observation_buffer_layout(observation_space)
        act_shape, act_dtype = action_buffer_layout(action_space)
        expected = {
            "observations": ((num_agents, *obs_shape), np.dtype(obs_dtype)),
            "actions": ((num_agents, *act_shape), np.dtype(act_dtype)),
            "rewards": ((num_agents,), np.dtype(np.float32)),
            "terminals": ((num_agents,), np.dtype(bool)),
            "truncations": ((num_agents,), np.dtype(bool)),
            "masks": ((num_agents,), np.dtype(bool)),
        }
        for name, (shape, dtype) in expected.items():
            array = getattr(self, name)
            if not isinstance(array, np.ndarray):
                raise ValueError(f"buffer {name!r} must be a numpy array, got {type(array).__name__}")
            if array.shape != shape or array.dtype != dtype:
                raise ValueError(
                    f"buffer {name!r} must have shape {shape} and dtype {dtype}, "
                    f"got shape {array.shape} and dtype {array.dtype}"
                )
            if not array.flags.c_contiguous:
                raise ValueError(f"buffer {name!r} must be C-contiguous (a slice along the agent axis)")


class PufferEnv:
    """Base class of native Puffer envs.

    A subclass sets ``single_observation_space``, ``single_action_space`` and ``num_agents`` *before*
    calling ``super().__init__(buf)``, then implements ``reset`` and ``step`` by writing into
    ``self.observations``, ``self.rewards``, ... in place and returning them.

    Args:
        buf: buffers to write into (the vectorizer passes a slice of its shared memory); ``None`` allocates
            private ones.
    """

    single_observation_space: spaces.Space
    single_action_space: spaces.Space
    num_agents: int
    #: ``"cpu"`` for numpy buffers; a GPU-native env names its device and keeps tensors there.
    device: str = "cpu"
    render_mode: str | None = None
    #: The original nested spaces of an emulated env (see :mod:`puffer_core.emulation`); None when native.
    structured_observation_space: spaces.Space | None = None
    structured_action_space: spaces.Space | None = None
    #: Optional: an env that keeps the last observation of an episode sets this to a private array shaped
    #: like ``observations`` and, in every step, writes the final observation of each slot whose episode
    #: ended (before the auto-reset overwrites ``observations``). Other rows are stale. ``None``: not kept.
    #: The gymnasium/SB3 adapters read it for ``final_obs``/``terminal_observation`` (serial backend).
    final_observations: np.ndarray | None = None

    def __init__(self, buf: Buffers | None = None) -> None:
        for attr in ("single_observation_space", "single_action_space", "num_agents"):
            if not hasattr(self, attr):
                raise TypeError(f"{type(self).__name__} must set {attr!r} before calling PufferEnv.__init__")
        if self.device != "cpu":
            # A GPU-native env manages its own tensors; it must have created them already.
            if buf is not None:
                raise ValueError(
                    f"{type(self).__name__} lives on {self.device!r} and cannot use host buffers"
                )
            return
        if buf is None:
            buf = Buffers.allocate(self.single_observation_space, self.single_action_space, self.num_agents)
        else:
            buf.check(self.single_observation_space, self.single_action_space, self.num_agents)
        self.buffers = buf
        self.observations = buf.observations
        self.actions = buf.actions
        self.rewards = buf.rewards
        self.terminals = buf.terminals
        self.truncations = buf.truncations
        self.masks = buf.masks
        self.masks[:] = True

    # -- the spaces of all agents together ---------------------------------------------------------------
    @property
    def observation_space(self) -> spaces.Space:
        return joint_space(self.single_observation_space, self.num_agents)

    @property
    def action_space(self) -> spaces.Space:
        return joint_space(self.single_action_space, self.num_agents)

    @property
    def emulated(self) -> bool:
        """True when observations are a flattened structured space (see :mod:`puffer_core.emulation`)."""
        return False

    # -- the API subclasses implement -------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
        """Reset every agent; returns ``(observations, infos)`` as views of the reused buffers."""
        raise NotImplementedError

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, float]]]:
        """Step every agent; returns ``(observations, rewards, terminals, truncations, infos)`` as views.

        ``actions`` may be ``self.actions`` itself (the vectorizer writes there, already validated); anything
        else is validated with :meth:`write_actions` first.
        """
        raise NotImplementedError

    def render(self) -> Any:
        """Return a frame (RGB ``uint8 [H, W, 3]`` array) or text, depending on ``render_mode``."""
        raise NotImplementedError(f"{type(self).__name__} does not render")

    def close(self) -> None:
        """Free what the env holds. Safe to call twice."""

    # -- helpers for subclasses ---------------------------------------------------------------------------
    def write_actions(self, actions: Any) -> np.ndarray:
        """Validate ``actions`` against the action space and copy them into ``self.actions``.

        Skips the work when ``actions`` already is the action buffer (the vectorizer validated it).
        Raises ValueError naming the expected and received shape, dtype or range.
        """
        if actions is self.actions:
            return self.actions
        checked = validate_actions(actions, self.single_action_space, self.num_agents)
        np.copyto(self.actions, checked, casting="unsafe")
        return self.actions

    def __enter__(self) -> PufferEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EpisodeTracker:
    """Running episode return and length per agent slot, for envs that do not track them natively.

    Call :meth:`update` after writing rewards/terminals/truncations of a step; it returns one info dict per
    episode that ended, and starts counting the next episode of those slots. Slots whose mask is False are
    not counted.
    """

    def __init__(self, num_agents: int) -> None:
        self.returns = np.zeros(num_agents, dtype=np.float64)
        self.lengths = np.zeros(num_agents, dtype=np.int64)
        self._ones = np.ones(num_agents, dtype=np.int64)

    @staticmethod
    def episode_info(episode_return: float, episode_length: int) -> dict[str, float]:
        """The info dict of one finished episode (the format every env reports)."""
        return {"episode_return": float(episode_return), "episode_length": float(episode_length)}

    def reset(self) -> None:
        self.returns[:] = 0
        self.lengths[:] = 0

    def update(
        self,
        rewards: np.ndarray,
        terminals: np.ndarray,
        truncations: np.ndarray,
        masks: np.ndarray | None = None,
    ) -> list[dict[str, float]]:
        # Few ufunc calls on purpose: this runs on every step and numpy's per-call overhead dominates.
        ended = terminals | truncations
        if masks is None:
            self.returns += rewards
            self.lengths += self._ones
        else:
            self.returns += np.where(masks, rewards, 0)
            self.lengths += masks
            ended &= masks
        done = ended.nonzero()[0]
        if not len(done):
            return []
        infos = [self.episode_info(self.returns[i], self.lengths[i]) for i in done]
        self.returns[done] = 0
        self.lengths[done] = 0
        return infos
