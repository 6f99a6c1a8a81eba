"""The entry-point module: Puffer calls ``puffer_env_specs`` when it needs the list of envs."""

from __future__ import annotations

from puffer_core import EnvSpec, hookimpl

from .corridor import Corridor


@hookimpl
def puffer_env_specs() -> list[EnvSpec]:
    return [
        EnvSpec(
            id="example/corridor",
            creator=Corridor,
            default_kwargs={"num_agents": 4, "length": 8, "max_steps": 64},
            train_config={"train": {"total_timesteps": 20_000}, "vec": {"num_env_objects": 4}},
            description="walk right along a 1-D corridor (a tiny native env from a third-party plugin)",
        )
    ]
