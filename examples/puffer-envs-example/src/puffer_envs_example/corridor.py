"""A 1-D corridor: the smallest useful native PufferEnv."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from puffer_core import Buffers, EpisodeTracker, PufferEnv


class Corridor(PufferEnv):
    """``num_agents`` independent walkers on a corridor of ``length`` cells; reaching the right end pays 1.

    Args:
        buf: buffers from a vectorizer, or ``None`` to allocate.
        seed: seeds the start cells of the first ``reset()`` that does not pass a seed.
        num_agents: number of independent walkers.
        length: number of cells (at least 2).
        max_steps: episodes are truncated after this many steps.
    """

    def __init__(
        self,
        buf: Buffers | None = None,
        seed: int | None = None,
        num_agents: int = 4,
        length: int = 8,
        max_steps: int = 64,
    ) -> None:
        if length < 2:
            raise ValueError(f"length must be at least 2, got {length}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        self.single_observation_space = spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.num_agents = num_agents
        super().__init__(buf)
        self.length = length
        self.max_steps = max_steps
        self.position = np.zeros(num_agents, dtype=np.int64)
        self.tick = np.zeros(num_agents, dtype=np.int64)
        self.tracker = EpisodeTracker(num_agents)
        self.rng = np.random.default_rng(seed)

    def _start(self, agents: np.ndarray) -> None:
        # Never start on the goal cell, so every episode takes at least one step.
        self.position[agents] = self.rng.integers(0, self.length - 1, size=int(agents.sum()))
        self.tick[agents] = 0

    def _observe(self) -> None:
        self.observations[:, 0] = self.position / (self.length - 1)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._start(np.ones(self.num_agents, dtype=bool))
        self.rewards[:] = 0
        self.terminals[:] = False
        self.truncations[:] = False
        self.tracker.reset()
        self._observe()
        return self.observations, []

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, float]]]:
        actions = self.write_actions(actions)
        self.position += np.where(actions == 1, 1, -1)
        np.maximum(self.position, 0, out=self.position)  # the left wall
        self.tick += 1
        np.equal(self.position, self.length - 1, out=self.terminals)
        self.truncations[:] = (self.tick >= self.max_steps) & ~self.terminals
        self.rewards[:] = self.terminals
        infos = self.tracker.update(self.rewards, self.terminals, self.truncations)
        self._start(self.terminals | self.truncations)
        self._observe()
        return self.observations, self.rewards, self.terminals, self.truncations, infos
