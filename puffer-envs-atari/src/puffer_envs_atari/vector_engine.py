"""The ``ale_vector`` engine: ale-py's multi-threaded C++ vector env steps every game of the object.

ale-py does the emulation and preprocessing (frame skip, max-pool, grayscale, area resize, stack, no-op
and FIRE resets, sticky actions) on its own threads and returns a fresh batch per step, which is copied
once into this env's buffers (the vectorizer's shared memory). Games reset in the step they end
(``SameStep``), as puffer-core's API wants; their last frames go to ``final_observations``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .env import AtariEnv
from .games import rom_path

__all__ = ["AleVectorAtari"]


class AleVectorAtari(AtariEnv):
    """``num_envs`` games stepped by one ``ale_py.ALEVectorInterface`` on ``num_threads`` threads.

    Args:
        num_threads: emulator threads (0: one per game, at most the CPU count).
        thread_affinity_offset: pin thread ``i`` to core ``offset + i`` (-1: no pinning).
        See :class:`~puffer_envs_atari.env.AtariEnv` and :class:`~puffer_envs_atari.options.AtariOptions`.
    """

    engine = "ale_vector"

    def __init__(
        self,
        game: str,
        num_envs: int = 1,
        buf: Any = None,
        seed: int | None = None,
        num_threads: int = 0,
        thread_affinity_offset: int = -1,
        **options: Any,
    ) -> None:
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
            raise ValueError(f"num_threads must be an int >= 0 (0: automatic), got {num_threads!r}")
        if isinstance(thread_affinity_offset, bool) or not isinstance(thread_affinity_offset, int):
            raise ValueError(
                f"thread_affinity_offset must be an int (-1: none), got {thread_affinity_offset!r}"
            )
        self.num_threads = num_threads or min(int(num_envs), os.cpu_count() or 1)
        self.thread_affinity_offset = thread_affinity_offset
        self._ale: Any = None
        super().__init__(game, num_envs, buf=buf, seed=seed, **options)
        self._strength = np.ones(self.num_envs, dtype=np.float32)
        self._ids = np.arange(self.num_envs, dtype=np.int32)

    def _open_games(self) -> int:
        import ale_py

        o = self.options
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
        self._ale = ale_py.ALEVectorInterface(
            rom_path=rom_path(self.game),
            num_envs=self.num_envs,
            frame_skip=o.frameskip,
            stack_num=o.frame_stack,
            img_height=o.height,
            img_width=o.width,
            grayscale=True,
            maxpool=o.max_pool,
            noop_max=o.noop_max,
            use_fire_reset=o.fire_reset,
            # Life losses are found from the lives count (AtariEnv.step): ale-py's episodic_life would
            # restart the whole game at each lost life, and its life_loss_info hides which end was real.
            episodic_life=False,
            life_loss_info=False,
            reward_clipping=False,
            max_episode_steps=o.max_episode_frames,
            repeat_action_probability=float(o.repeat_action_probability),
            full_action_space=o.full_action_space,
            batch_size=0,
            num_threads=self.num_threads,
            thread_affinity_offset=self.thread_affinity_offset,
            autoreset_mode="SameStep",
        )
        return len(self._ale.get_action_set())

    def _write(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        ids = info["env_id"]
        if np.array_equal(ids, self._ids):
            np.copyto(self.observations, obs)
            np.copyto(self.lives, info["lives"])
            return slice(None)  # type: ignore[return-value]
        self.observations[ids] = obs
        self.lives[ids] = info["lives"]
        return ids

    def _reset_games(self, seed: int | None) -> None:
        n = self.num_envs
        seeds = np.full(n, -1, dtype=np.int64) if seed is None else seed + np.arange(n, dtype=np.int64)
        obs, info = self._ale.reset(np.arange(self.num_envs), seeds)
        self._write(obs, info)
        self.game_over[:] = False
        self.truncated[:] = False

    def _step_games(self) -> None:
        self._ale.send(self.actions, self._strength)
        obs, rewards, terminated, truncated, info = self._ale.recv()
        at = self._write(obs, info)
        self.rewards[at] = rewards
        self.game_over[at] = terminated
        self.truncated[at] = truncated
        final = info.get("final_obs")
        if final is not None:
            ended = np.logical_or(terminated, truncated).nonzero()[0]
            rows = ended if isinstance(at, slice) else np.asarray(at)[ended]
            self.final_observations[rows] = final[ended]

    @property
    def closed(self) -> bool:
        return self._ale is None

    def close(self) -> None:
        self._ale = None  # its destructor stops the threads
