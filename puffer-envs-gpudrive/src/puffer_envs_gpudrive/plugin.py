"""puffer-core plugin (entry point group ``puffer.envs``): ``drive/...`` and ``gpudrive/...`` ids.

* ``drive/synthetic``: :class:`~puffer_envs_gpudrive.env.DriveEnv` over generated scenarios (pass
  ``scenarios=FOLDER`` to drive a folder of GPUDrive JSON files instead).
* ``drive/bundled``: the same over the small scenario set shipped with the package.
* ``gpudrive/womd``: GPUDrive's own simulator through
  :class:`~puffer_envs_gpudrive.gpudrive_adapter.GPUDriveEnv`; when GPUDrive is not importable the id is
  still listed, its description saying why it is unavailable, and making it raises that reason.

Nothing is imported from torch or GPUDrive until the hook runs or an env is made.
"""

from __future__ import annotations

from typing import Any

import puffer_core

__all__ = ["puffer_env_specs", "TRAIN_CONFIG"]

#: Default training setup of the drive envs: one env object holding every world, on the serial backend.
#: Pass ``--train.device cuda`` on a GPU (the env picks CUDA by itself) so tensors never leave the device.
TRAIN_CONFIG: dict[str, Any] = {
    "train": {
        "total_timesteps": 20_000_000,
        "learning_rate": 0.003,
        "gamma": 0.98,
        "gae_lambda": 0.95,
        "ent_coef": 0.005,
        "horizon": 32,
        "minibatch_size": 16384,
        "update_epochs": 2,
        "prio_alpha": 0.0,
        "prio_beta0": 1.0,
    },
    "vec": {"backend": "serial", "num_env_objects": 1},
    "policy": {"hidden_size": 256, "num_layers": 2},
    "run": {"score_target": 0.8},
}


def _drive_env(buf: Any = None, seed: int | None = None, **kwargs: Any) -> Any:
    from .env import DriveEnv

    return DriveEnv(buf=buf, seed=seed, **kwargs)


def _gpudrive_env(buf: Any = None, seed: int | None = None, **kwargs: Any) -> Any:
    from .gpudrive_adapter import GPUDriveEnv

    return GPUDriveEnv(buf=buf, seed=seed, **kwargs)


@puffer_core.hookimpl
def puffer_env_specs() -> list[puffer_core.EnvSpec]:
    from .availability import gpudrive_missing_reason

    # Only whether it is installed: importing GPUDrive (its simulator, CUDA) on every registry scan would
    # slow every command down; a broken install is reported when the env is made.
    reason = gpudrive_missing_reason()
    gpudrive = "GPUDrive's simulator over Waymo scenarios (GPUDriveTorchEnv)"
    if reason is not None:
        gpudrive += f" (unavailable: {reason})"
    # The generated scenes hold at most 12 vehicles: 16 slots per world waste little on empty ones.
    sizes = {"num_worlds": 128, "max_agents": 16, "device": "auto"}
    return [
        puffer_core.EnvSpec(
            id="drive/synthetic",
            creator=_drive_env,
            default_kwargs={**sizes, "scenarios": "synthetic", "num_scenarios": 256},
            train_config=TRAIN_CONFIG,
            description="Batched multi-agent driving on torch over generated intersections, merges, roads",
        ),
        puffer_core.EnvSpec(
            id="drive/bundled",
            creator=_drive_env,
            default_kwargs={**sizes, "scenarios": "bundled"},
            train_config=TRAIN_CONFIG,
            description="Batched multi-agent driving on torch over the package's bundled scenario set",
        ),
        puffer_core.EnvSpec(
            id="gpudrive/womd",
            creator=_gpudrive_env,
            default_kwargs={"num_worlds": 64, "max_controlled_agents": 64, "device": "auto"},
            train_config=TRAIN_CONFIG,
            description=gpudrive,
        ),
    ]
