"""The entry-point module: Puffer calls ``puffer_env_specs`` when it needs the list of envs.

The function name must be exactly ``puffer_env_specs`` and carry ``@hookimpl``: ``puffer list`` reports a
misspelt or undecorated hook. Importing this module registers nothing by itself.
"""

from __future__ import annotations

from puffer_core import EnvSpec, hookimpl

from .chase import Chase


@hookimpl
def puffer_env_specs() -> list[EnvSpec]:
    return [
        EnvSpec(
            id="myenvs/chase",
            creator=Chase,
            default_kwargs={"num_agents": 64, "size": 8, "max_steps": 64},
            # The trainer layers these sections over its defaults (puffer train --print-config shows all).
            train_config={
                "train": {"total_timesteps": 200_000, "learning_rate": 0.003, "horizon": 32},
                "vec": {"num_env_objects": 4},
            },
            description="walk a grid to a target cell (from the puffer new-env template)",
        )
    ]
