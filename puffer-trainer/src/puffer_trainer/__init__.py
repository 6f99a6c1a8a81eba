"""puffer-trainer: PPO with puff advantage and prioritized segment replay, the `puffer` command, logging.

Importing this package has no side effects: no signal handlers, warning filters, files, argv parsing or torch
settings. It does not even import torch: :class:`Trainer`, :func:`make_policy` and :func:`train` load it on
first use, so ``puffer list`` and ``puffer --help`` start quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import Config, ConfigError, PolicyConfig, RunConfig, TrainConfig, VecConfig, load_config
from .errors import NonFiniteLossError, RankFailedError

if TYPE_CHECKING:  # for type checkers and IDEs only; at run time these load lazily (see __getattr__)
    from .policies import make_policy
    from .run import train
    from .trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "NonFiniteLossError",
    "PolicyConfig",
    "RankFailedError",
    "RunConfig",
    "TrainConfig",
    "Trainer",
    "VecConfig",
    "load_config",
    "make_policy",
    "train",
]

# Names whose modules import torch (~2-3 s): loaded on first access.
_LAZY = {"Trainer": ".trainer", "make_policy": ".policies", "train": ".run"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
