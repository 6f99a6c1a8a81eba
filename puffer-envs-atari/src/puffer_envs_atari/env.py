"""``AtariEnv``: the base both engines share: spaces, seeding checks, life-loss and game statistics."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from puffer_core.env import Buffers, PufferEnv

from .games import check_game
from .options import AtariOptions

__all__ = ["AtariEnv"]


class AtariEnv(PufferEnv):
    """``num_envs`` copies of one Atari game with the standard preprocessing (see :class:`AtariOptions`).

    Observations are ``uint8 [frame_stack, height, width]`` grayscale frames, oldest first. Actions are
    ``Discrete(n)`` indices into the game's minimal action set (or all 18 with ``full_action_space``).
    Rewards are the game's own score changes, unclipped (the trainer's ``train.reward_clip`` clips them).

    ``terminals`` is set when the game is over and, with ``episodic_life``, when a life is lost (the game
    goes on from there, it is not reset). ``truncations`` is set when a game reaches
    ``max_episode_frames``. A finished *game* adds one info dict ``{"episode_return", "episode_length",
    "score"}``: its whole score and its length in agent steps, never those of one life.

    Subclasses (the engines) implement ``_reset_games(seed)`` and ``_step_games()``, which step every game
    with ``self.actions`` and fill ``observations``, ``rewards`` (raw score), ``lives``, ``game_over`` and
    ``truncated`` arrays.
    """

    engine: str = ""

    def __init__(
        self,
        game: str,
        num_envs: int = 1,
        buf: Buffers | None = None,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self.game = check_game(game)
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.options = AtariOptions(**options)
        self.num_envs = self.num_agents = int(num_envs)
        self._seed = self._check_seed(seed)
        o = self.options
        self.single_observation_space = spaces.Box(
            0, 255, (o.frame_stack, o.height, o.width), dtype=np.uint8
        )
        self.num_actions = self._open_games()
        self.single_action_space = spaces.Discrete(self.num_actions)
        super().__init__(buf)
        n = self.num_agents
        self.lives = np.zeros(n, dtype=np.int32)
        self.game_over = np.zeros(n, dtype=bool)
        self.truncated = np.zeros(n, dtype=bool)
        self._prev_lives = np.zeros(n, dtype=np.int32)
        self._returns = np.zeros(n, dtype=np.float64)
        self._lengths = np.zeros(n, dtype=np.int64)
        self.final_observations = np.zeros_like(self.observations)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` freed the emulators."""
        raise NotImplementedError

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"{self!r} is closed: make a new env")

    def _check_seed(self, seed: Any) -> int | None:
        if seed is None:
            return None
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        if seed + self.num_envs > 2**31:
            raise ValueError(f"seed + num_envs must stay below 2**31 (ALE seeds are int32), got seed {seed}")
        return int(seed)

    # -- engine hooks ------------------------------------------------------------------------------------
    def _open_games(self) -> int:
        """Create the emulators; return the size of the action set."""
        raise NotImplementedError

    def _reset_games(self, seed: int | None) -> None:
        raise NotImplementedError

    def _step_games(self) -> None:
        raise NotImplementedError

    # -- the PufferEnv API ---------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
        """Start a new game in every slot. ``seed``: game ``i`` is seeded with ``seed + i``."""
        self._check_open()
        if seed is None:
            seed, self._seed = self._seed, None  # the creator's seed applies to the first reset only
        self._reset_games(self._check_seed(seed))
        self._prev_lives[:] = self.lives
        self._returns[:] = 0
        self._lengths[:] = 0
        self.rewards[:] = 0
        self.terminals[:] = False
        self.truncations[:] = False
        return self.observations, []

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, float]]]:
        self._check_open()
        self.write_actions(actions)
        self._step_games()
        ended = self.game_over | self.truncated
        # A life lost in a game that goes on; in a game that ended, lives already count the new game's.
        life_lost = (self.lives < self._prev_lives) & ~ended
        self._prev_lives[:] = self.lives
        np.logical_or(self.game_over, life_lost if self.options.episodic_life else False, out=self.terminals)
        np.logical_and(self.truncated, ~self.game_over, out=self.truncations)
        self._returns += self.rewards
        self._lengths += 1
        done = ended.nonzero()[0]
        if not len(done):
            return self.observations, self.rewards, self.terminals, self.truncations, []
        infos = [
            {"episode_return": r, "episode_length": float(n), "score": r}
            for r, n in zip(self._returns[done].tolist(), self._lengths[done].tolist())
        ]
        self._returns[done] = 0
        self._lengths[done] = 0
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def __repr__(self) -> str:
        return f"{type(self).__name__}(game={self.game!r}, num_envs={self.num_envs}, engine={self.engine!r})"
