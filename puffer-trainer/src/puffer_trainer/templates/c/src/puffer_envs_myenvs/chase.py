"""``Chase``: agents walk a square grid to a target cell; the game is in C (``csrc/chase.c``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from gymnasium import spaces

from puffer_core import Buffers, PufferEnv

from ._binding import ffi, lib

_ERR_LEN = 256


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
    ``final_observations``. Infos: after a step in which episodes finished, one dict with the mean
    ``episode_return``, ``episode_length`` and ``score`` (1 if the target was reached) over them, and ``n``,
    their number.

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
        self.rng = np.random.default_rng(seed)  # draws the C side's seed at every reset
        self._lib = lib()
        self._log = ffi.new("double[4]")
        # The C side keeps pointers into these arrays: they live as long as this object (self holds them).
        self._memory = ffi.new("char[]", self._lib.chase_bytes(self.num_agents))
        self._state = ffi.cast("Chase *", self._memory)
        err = ffi.new("char[]", _ERR_LEN)
        failed = self._lib.chase_init(
            self._state, self.num_agents, self.size, self.max_steps,
            ffi.cast("float *", self.observations.ctypes.data),
            ffi.cast("int32_t *", self.actions.ctypes.data),
            ffi.cast("float *", self.rewards.ctypes.data),
            ffi.cast("uint8_t *", self.terminals.ctypes.data),
            ffi.cast("uint8_t *", self.truncations.ctypes.data),
            ffi.cast("float *", self.final_observations.ctypes.data),
            err, _ERR_LEN,
        )  # fmt: skip
        if failed:
            raise ValueError(ffi.string(err).decode())

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._lib.chase_reset(self._state, int(self.rng.integers(0, 2**63)))
        return self.observations, []

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, float]]]:
        self.write_actions(actions)
        bad = self._lib.chase_step(self._state)  # C checks every action before it steps any agent
        if bad >= 0:
            raise ValueError(f"action of agent {bad} is {int(self.actions[bad])}, expected one in [0, 5)")
        infos: list[dict[str, float]] = []
        if self.terminals.any() or self.truncations.any():
            self._lib.chase_drain_log(self._state, self._log)
            total_return, total_length, total_score, n = (self._log[k] for k in range(4))
            infos.append(
                {
                    "episode_return": total_return / n,
                    "episode_length": total_length / n,
                    "score": total_score / n,
                    "n": n,
                }
            )
        return self.observations, self.rewards, self.terminals, self.truncations, infos
