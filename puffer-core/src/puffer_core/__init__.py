"""puffer-core: the env API, space emulation, zero-copy vectorization and the plugin registry of Puffer."""

# Submodules users reach as attributes (``puffer_core.vector.make``); neither imports anything heavy.
from . import emulation, vector
from .env import Buffers, EpisodeTracker, PufferEnv
from .errors import (
    APIUsageError,
    DuplicateEnvError,
    EnvWorkerError,
    InsufficientMemoryError,
    PufferError,
    UnknownEnvError,
)
from .hookspecs import EnvSpec, hookimpl
from .registry import broken_plugins, list_envs, make, spec

__version__ = "0.1.0"

__all__ = [
    "APIUsageError",
    "Buffers",
    "DuplicateEnvError",
    "EnvSpec",
    "EnvWorkerError",
    "EpisodeTracker",
    "InsufficientMemoryError",
    "PufferEnv",
    "PufferError",
    "UnknownEnvError",
    "broken_plugins",
    "emulation",
    "hookimpl",
    "list_envs",
    "make",
    "spec",
    "vector",
]
