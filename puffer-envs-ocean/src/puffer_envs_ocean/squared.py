"""``ocean/squared``: walk to a target on a grid. The sanity check, and the template for new envs."""

from __future__ import annotations

from .env import OceanEnv

__all__ = ["Squared", "SPEC"]


class Squared(OceanEnv):
    """Agent in the centre of a ``size x size`` grid, target on another cell.

    Observation: ``uint8 [size, size]`` (0 empty, 1 agent, 2 target). Actions: ``Discrete(5)``
    (0 stay, 1 up, 2 down, 3 left, 4 right). Reward +1 and termination on the target, -1 and termination
    for walking off the grid, truncation after ``max_steps``. Logs ``score`` (1 when the target was reached).
    """

    c_name = "squared"


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Walk to a target on a grid (sanity check); 1024 copies per env object",
    "default_kwargs": {"num_envs": 1024},
    # Tuned on the 2-core CPU box: score 0.5 (random play 0.13) after about 0.8M steps.
    "train_config": {
        "train": {
            "total_timesteps": 5_000_000,
            "learning_rate": 0.01,
            "gamma": 0.99,
            "gae_lambda": 0.9,
            "ent_coef": 0.03,
            "horizon": 16,
            "batch_size": 16384,
            "minibatch_size": 2048,
            "update_epochs": 2,
        },
        "vec": {"backend": "serial", "num_envs": 1},
        "policy": {"kind": "mlp", "hidden_size": 256, "lstm": False},
    },
}
