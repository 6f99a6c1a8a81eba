"""Atari games through ale-py with the standard preprocessing, registered as ``atari/<game>``.

``puffer_core.make("atari/breakout", num_envs=16)`` or ``puffer_core.vector.make("atari/pong", ...)``;
see the README for the options and the two engines. Importing this package imports neither ale-py nor
anything that registers envs: the registry finds :mod:`puffer_envs_atari.plugin` through its entry point.
"""

from .env import AtariEnv
from .games import games
from .options import ENGINES, AtariOptions
from .plugin import TRAIN_CONFIG, make_atari

__all__ = ["AtariEnv", "AtariOptions", "ENGINES", "TRAIN_CONFIG", "games", "make_atari"]
__version__ = "0.1.0"
