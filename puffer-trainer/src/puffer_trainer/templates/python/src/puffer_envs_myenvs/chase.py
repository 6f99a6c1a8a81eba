"""``Chase``: agents walk a square grid to a target cell, every agent in one numpy call per step."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from gymnasium import spaces

from puffer_core import Buffers, EpisodeTracker, PufferEnv

#: (dx, dy) of each action: stay, up, down, left, right.
MOVES = np.array([[0, 0], [0, -1], [0, 1], [-1, 0], [1, 0]], dtype=np.int64)


def _int_arg(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


class Chase(PufferEnv):
    """``num_agents`` independent agents, each walking a ``size`` x ``size`` grid to its own target cell.

    Observation per agent: 4 float32 in [0, 1]: agent x, agent y, target x, target y, divided by
    ``size - 1``. Actions: ``Discrete(5)``: 0 stay, 1 up, 2 down, 3 left, 4 right; a move into a wall leaves
    the agent where it is. Reward 1 and a terminal on reaching the target; a truncation (not a terminal)
    after ``max_steps`` steps. A finished episode restarts in the same step; its last observation is kept in
    ``final_observations``. Infos: one dict per finished episode with ``episode_return``, ``episode_length``
    and ``score`` (1 if the target was reached).

    Args:
        buf: buffers from a vectorizer, or ``None`` to allocate.
        seed: seeds the first ``reset()`` that does not pass a seed.
        num_agents: independent agents stepped per call.
        size: grid side, 2 to 4096 cells.
        max_steps: steps before an episode is truncated.
    """

    def __init__(
        self,
        buf: Buffers | None = None,
        seed: int | None = None,
        num_agents: int = 64,
        size: int = 8,
        max_steps: int = 64,
    ) -> None:
        self.num_agents = _int_arg("num_agents", num_agents, 1, 1 << 24)
        self.size = _int_arg("size", size, 2, 4096)
        self.max_steps = _int_arg("max_steps", max_steps, 1, 2**31 - 1)
        self.single_observation_space = spaces.Box(0.0, 1.0, (4,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(5)
        super().__init__(buf)
        self.final_observations = np.zeros_like(self.observations)
        self.position = np.zeros((self.num_agents, 2), dtype=np.int64)
        self.target = np.zeros((self.num_agents, 2), dtype=np.int64)
        self.tick = np.zeros(self.num_agents, dtype=np.int64)
        self.tracker = EpisodeTracker(self.num_agents)
        self.rng = np.random.default_rng(seed)

    def _start(self, agents: np.ndarray) -> None:
        count = len(agents)
        cells = self.size * self.size
        here = self.rng.integers(0, cells, count)
        there = self.rng.integers(0, cells - 1, count)
        there += there >= here  # any other cell: the target is never where the agent starts
        self.position[agents] = np.stack([here % self.size, here // self.size], axis=1)
        self.target[agents] = np.stack([there % self.size, there // self.size], axis=1)
        self.tick[agents] = 0

    def _observe(self, out: np.ndarray, agents: Any = slice(None)) -> None:
        scale = np.float32(1.0 / (self.size - 1))
        out[agents, :2] = self.position[agents] * scale
        out[agents, 2:] = self.target[agents] * scale

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._start(np.arange(self.num_agents))
        self.rewards[:] = 0
        self.terminals[:] = False
        self.truncations[:] = False
        self.tracker.reset()
        self._observe(self.observations)
        return self.observations, []

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, float]]]:
        actions = self.write_actions(actions)
        # The vectorizer hands its own (validated) buffer, which skips write_actions' check: check the range
        # here too, as numpy would silently wrap a negative index.
        bad = np.flatnonzero((actions < 0) | (actions >= len(MOVES)))
        if len(bad):
            agent = int(bad[0])
            raise ValueError(f"action of agent {agent} is {int(actions[agent])}, expected one in [0, 5)")
        np.add(self.position, MOVES[actions], out=self.position)
        np.clip(self.position, 0, self.size - 1, out=self.position)  # walls: a move off the grid is no move
        self.tick += 1
        np.equal(self.position, self.target).all(axis=1, out=self.terminals)
        self.truncations[:] = (self.tick >= self.max_steps) & ~self.terminals
        self.rewards[:] = self.terminals
        infos = self.tracker.update(self.rewards, self.terminals, self.truncations)
        ended = np.flatnonzero(self.terminals | self.truncations)
        if len(ended):
            self._observe(self.final_observations, ended)
            for info, agent in zip(infos, ended):
                info["score"] = float(self.terminals[agent])
            self._start(ended)
        self._observe(self.observations)
        return self.observations, self.rewards, self.terminals, self.truncations, infos
