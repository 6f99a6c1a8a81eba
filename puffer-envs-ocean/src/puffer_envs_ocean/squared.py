"""``ocean/squared``: walk to a target on a grid. The sanity check, and the template for new envs."""

from __future__ import annotations

from .env import OceanEnv

__all__ = ["Squared", "SPEC"]


class Squared(OceanEnv):
    """PufferLib 3.0's Squared: walk from the centre of a ``size x size`` grid to a target.

    Parameters: ``size`` (11, in [3, 63]). The agent starts on the centre cell (row ``size // 2``, column
    ``size // 2``); the target sits on a cell drawn uniformly among all the others.

    Observation: ``uint8 [size * size]``, the grid row-major (cell ``row * size + col``): 0 empty, 1 agent,
    2 target. Box bounds [0, 2] (the reference declares high=1 but also writes 2).

    Actions: ``Discrete(5)``: 0 stay, 1 down (row + 1), 2 up (row - 1), 3 left (col - 1), 4 right (col + 1).

    Rewards and episode ends (every end is a terminal, there is no truncation):

    * reaching the target: reward +1;
    * walking off the grid: reward -1 (the move is not blocked, the episode ends);
    * time out: the first ``3 * size`` steps may succeed; step ``3 * size + 1`` ends the episode with
      reward -1 whatever the move (a failure by the reference's rules, hence a terminal, not a truncation).

    All other steps pay 0. Logged metrics (means over finished episodes): ``perf`` (1 when the target was
    reached, else 0), ``score`` (the final reward, +1 or -1, i.e. ``2 * perf - 1``), ``episode_return``
    (equal to ``score``), ``episode_length`` (steps, at most ``3 * size + 1``).

    Deviation from the reference: for even sizes the reference marks the agent at cell ``size * size // 2``
    (row ``size // 2``, column 0) while it moves from column ``size // 2``; ours marks the cell it is on.
    """

    c_name = "squared"


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Walk to a target on a grid within 3*size steps (PufferLib 3.0's Squared)",
    "default_kwargs": {"num_envs": 1024},
    # On the 2-core CPU box: perf (target reached) 0.11 for random play, 0.5 after about 0.5M steps, 0.75
    # (score 0.5) after about 1.2M steps.
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
        "vec": {"backend": "serial", "num_env_objects": 1},
        "policy": {"kind": "mlp", "hidden_size": 256, "lstm": False},
    },
}
