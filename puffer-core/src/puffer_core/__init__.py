"""puffer-core: the env API, space emulation, zero-copy vectorization and the plugin registry of Puffer."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from . import gymnasium_env, pettingzoo_env


def as_gymnasium_env(env_id_or_env: str | PufferEnv, **kwargs: object) -> gymnasium_env.PufferGymnasiumEnv:
    """A single-agent PufferEnv as a ``gymnasium.Env`` (see :mod:`puffer_core.gymnasium_env`)."""
    from .gymnasium_env import as_gymnasium_env as view

    return view(env_id_or_env, **kwargs)


def as_parallel_env(env_id_or_env: str | PufferEnv, **kwargs: object) -> pettingzoo_env.PufferParallelEnv:
    """A multi-agent PufferEnv as a pettingzoo ``ParallelEnv`` (see :mod:`puffer_core.pettingzoo_env`)."""
    # pettingzoo is imported here, not with puffer_core: only users of the view pay for it.
    from .pettingzoo_env import as_parallel_env as view

    return view(env_id_or_env, **kwargs)


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
    "as_gymnasium_env",
    "as_parallel_env",
    "broken_plugins",
    "emulation",
    "hookimpl",
    "list_envs",
    "make",
    "spec",
    "vector",
]
