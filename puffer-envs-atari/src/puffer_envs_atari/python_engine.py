"""The ``python`` engine: one ``ale_py.ALEInterface`` per game, preprocessed with numpy in this process.

It writes every frame straight into its slice of the buffers, so under puffer-core's multiprocessing
backend observations land in shared memory with no copy. Its preprocessing follows ale-py's vector engine
step for step (frame skip with a max over the last two frames, area resize, FIRE then no-op frames at
reset), so the two engines are interchangeable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .env import AtariEnv
from .games import rom_path
from .preprocess import AreaResize, push_frame

__all__ = ["PythonAtari"]

#: ALE's action codes for the two actions the reset uses (``ale_py.Action.NOOP``/``FIRE``).
NOOP, FIRE = 0, 1


class PythonAtari(AtariEnv):
    """``num_envs`` games stepped one after another in this process (vectorize with puffer-core).

    Also renders: ``render_mode="rgb_array"`` makes :meth:`render` return game 0's RGB screen.
    """

    engine = "python"

    def __init__(
        self,
        game: str,
        num_envs: int = 1,
        buf: Any = None,
        seed: int | None = None,
        render_mode: str | None = None,
        **options: Any,
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self._ales: list[Any] = []
        super().__init__(game, num_envs, buf=buf, seed=seed, **options)
        o = self.options
        self._resize = AreaResize(self._screen_shape, (o.height, o.width))
        self._raw = np.zeros((2, *self._screen_shape), dtype=np.uint8)
        self._frame = np.zeros((o.height, o.width), dtype=np.uint8)
        self._episode_frames = np.zeros(self.num_envs, dtype=np.int64)
        self._rngs = [np.random.default_rng() for _ in range(self.num_envs)]

    def _new_ale(self, seed: int | None) -> Any:
        import ale_py

        o = self.options
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
        ale = ale_py.ALEInterface()
        if seed is not None:
            ale.setInt("random_seed", seed)
        ale.setFloat("repeat_action_probability", float(o.repeat_action_probability))
        ale.setInt("frame_skip", 1)
        ale.setInt("max_num_frames_per_episode", 0)  # truncation is counted here, apart from game over
        ale.loadROM(str(rom_path(self.game)))
        return ale

    def _open_games(self) -> int:
        import ale_py

        # Loading a ROM takes a good fraction of a second: load it seeded now, and let the first reset
        # with this same seed use it as it is.
        seed = self._seed
        self._loaded_seed = seed
        self._ales = [self._new_ale(None if seed is None else seed + i) for i in range(self.num_envs)]
        ale = self._ales[0]
        actions = ale.getLegalActionSet() if self.options.full_action_space else ale.getMinimalActionSet()
        self._actions = [int(a.value) for a in actions]
        self._has_fire = self.options.fire_reset and int(ale_py.Action.FIRE.value) in self._actions
        height, width = ale.getScreenDims()
        self._screen_shape = (int(height), int(width))
        return len(self._actions)

    # -- one game ------------------------------------------------------------------------------------------
    def _reset_game(self, i: int) -> None:
        ale, o = self._ales[i], self.options
        ale.reset_game()
        if self._has_fire:
            ale.act(FIRE)
        noops = int(self._rngs[i].integers(0, o.noop_max)) if o.noop_max > 0 else 0
        for _ in range(noops - int(self._has_fire)):
            ale.act(NOOP)
            if ale.game_over():
                ale.reset_game()
        self._episode_frames[i] = 0
        self.observations[i] = 0
        ale.getScreenGrayscale(self._raw[0])
        push_frame(self.observations[i], self._resize(self._raw[0], self._frame))
        self.lives[i] = ale.lives()

    def _step_game(self, i: int, action: int) -> None:
        ale, o = self._ales[i], self.options
        reward = 0
        skip = o.frameskip
        frames = self._episode_frames
        pooled = False
        for k in range(skip):
            reward += ale.act(action)
            frames[i] += 1
            if ale.game_over() or frames[i] >= o.max_episode_frames:
                break
            if o.max_pool and k == skip - 2:  # the second-to-last frame of the step, for the max
                ale.getScreenGrayscale(self._raw[1])
                pooled = True
        ale.getScreenGrayscale(self._raw[0])
        if pooled:
            np.maximum(self._raw[0], self._raw[1], out=self._raw[0])
        self.rewards[i] = reward
        over = ale.game_over()
        self.game_over[i] = over
        self.truncated[i] = not over and frames[i] >= o.max_episode_frames
        if over or self.truncated[i]:
            self.final_observations[i] = self.observations[i]
            push_frame(self.final_observations[i], self._resize(self._raw[0], self._frame))
            self._reset_game(i)
        else:
            push_frame(self.observations[i], self._resize(self._raw[0], self._frame))
            self.lives[i] = ale.lives()

    # -- engine hooks --------------------------------------------------------------------------------------
    def _reset_games(self, seed: int | None) -> None:
        fresh = seed is not None and seed == self._loaded_seed
        self._loaded_seed = None
        for i in range(self.num_envs):
            if seed is not None:  # ALE takes its seed when a ROM is loaded
                if not fresh:
                    self._ales[i] = self._new_ale(seed + i)
                self._rngs[i] = np.random.default_rng(seed + i)
            self._reset_game(i)
        self.game_over[:] = False
        self.truncated[:] = False

    def _step_games(self) -> None:
        codes = self._actions
        for i, a in enumerate(self.actions.tolist()):
            self._step_game(i, codes[a])

    def render(self) -> np.ndarray:
        """Game 0's RGB screen, ``uint8 [210, 160, 3]`` (needs ``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array":
            raise ValueError("render() needs render_mode='rgb_array'")
        self._check_open()
        return self._ales[0].getScreenRGB()

    @property
    def closed(self) -> bool:
        return not self._ales

    def close(self) -> None:
        self._ales = []
