"""The preprocessing options every Atari env takes, checked in one place.

Defaults follow the usual Atari setup (Machado et al. 2018; gymnasium's ``ALE/<Game>-v5`` and
``AtariPreprocessing``): frame skip 4 with a max over the last two frames, 84x84 grayscale, a stack of the
last 4 frames, up to 30 no-op frames at reset, sticky actions with probability 0.25, the minimal action set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["AtariOptions", "ENGINES"]

#: ``ale_vector``: ale-py's multi-threaded C++ vector env steps all games of the object (the fast path).
#: ``python``: one ``ale_py.ALEInterface`` per game, preprocessed with numpy in this process; vectorize it
#: with puffer-core's backends (one game per env object under ``backend="multiprocessing"``).
ENGINES = ("ale_vector", "python")


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    bad_type = isinstance(value, bool) or not isinstance(value, int)
    if bad_type or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")
    return value


@dataclass(frozen=True)
class AtariOptions:
    """Preprocessing of one Atari game; every field is an env kwarg of ``atari/<game>``.

    Attributes:
        frameskip: emulator frames per agent step; the action is repeated on each.
        max_pool: observe the pixel-wise max of the last two frames of a step (removes sprite flicker).
        height, width: the observed frame size; frames are resized from 210x160 with area averaging.
        frame_stack: the observation holds this many most recent frames, oldest first (1: no stacking).
            After a reset the older slots are zero.
        noop_max: at reset, a uniform random number of no-op *frames* in ``[0, noop_max)`` (ale-py's
            count; the FIRE press below counts as one). 0: none.
        fire_reset: press FIRE for one frame at reset in games whose action set has FIRE.
        repeat_action_probability: sticky actions: each frame, the previous frame's action is repeated
            with this probability (0.25 as in gymnasium's v5 envs; 0 for the deterministic v4 setting).
        episodic_life: mark a lost life as terminal (the game goes on; for training). Episode statistics
            always describe whole games: ``episode_return`` is the game's score.
        full_action_space: all 18 joystick actions instead of the game's minimal set.
        max_episode_frames: truncate a game after this many frames (108,000 = 30 minutes of play).
    """

    frameskip: int = 4
    max_pool: bool = True
    height: int = 84
    width: int = 84
    frame_stack: int = 4
    noop_max: int = 30
    fire_reset: bool = True
    repeat_action_probability: float = 0.25
    episodic_life: bool = False
    full_action_space: bool = False
    max_episode_frames: int = 108_000

    def __post_init__(self) -> None:
        _check_int("frameskip", self.frameskip, 1)
        _check_int("height", self.height, 1, 210)
        _check_int("width", self.width, 1, 160)
        _check_int("frame_stack", self.frame_stack, 1)
        _check_int("noop_max", self.noop_max, 0)
        _check_int("max_episode_frames", self.max_episode_frames, 1)
        for name in ("max_pool", "fire_reset", "episodic_life", "full_action_space"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        p = self.repeat_action_probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"repeat_action_probability must be a float in [0, 1], got {p!r}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
