"""puffer-trainer: PPO with puff advantage and prioritized segment replay, the `puffer` command, logging.

Importing this package has no side effects: no signal handlers, warning filters, files or argv parsing.
"""

from __future__ import annotations

from typing import Any

from .config import Config, ConfigError, PolicyConfig, RunConfig, TrainConfig, VecConfig, load_config
from .policies import make_policy
from .ppo import NonFiniteLossError
from .trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "NonFiniteLossError",
    "PolicyConfig",
    "RunConfig",
    "TrainConfig",
    "Trainer",
    "VecConfig",
    "load_config",
    "make_policy",
    "train",
]


def __getattr__(name: str) -> Any:
    # The one-call helper lives in run.py (the shell around the Trainer); import it only when asked for.
    if name == "train":
        from .run import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
