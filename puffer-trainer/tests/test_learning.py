"""Learning tests: real envs trained to a clear success threshold within a small CPU budget.

Each run stops as soon as its threshold is met; the budget is a cap on agent steps, not a timed assertion.
"""

from __future__ import annotations

import pytest

import puffer_core
from puffer_trainer import Trainer, load_config


def registered(env_id: str) -> bool:
    return any(spec.id == env_id for spec in puffer_core.list_envs())


def train_until(config, key: str, threshold: float, max_steps: int, window: int = 3) -> list[float]:
    """Train until the mean of ``key`` over the last ``window`` reports reaches ``threshold``."""
    trainer = Trainer(config)
    history: list[float] = []
    try:
        while trainer.global_step < max_steps:
            stats = trainer.evaluate()
            trainer.train()
            if key in stats:
                history.append(stats[key])
                recent = history[-window:]
                if len(recent) == window and sum(recent) / window >= threshold:
                    return history
    finally:
        trainer.close()
    pytest.fail(f"{config.env_id}: {key} never reached {threshold} in {max_steps} steps; history {history}")


#: The tuned train_config proposed for the ocean envs' registrations; applied here explicitly so the tests
#: do not depend on which version of the env defaults is installed.
CARTPOLE = dict(
    train__horizon=16, train__batch_size=16384, train__minibatch_size=2048, train__update_epochs=2,
    train__learning_rate=0.005, train__gamma=0.99, train__gae_lambda=0.95, train__ent_coef=0.01,
    train__vf_clip_coef=10.0, policy__hidden_size=64, policy__lstm=False,
)  # fmt: skip
SQUARED = dict(
    train__horizon=16, train__batch_size=16384, train__minibatch_size=2048, train__update_epochs=2,
    train__learning_rate=0.01, train__gamma=0.99, train__gae_lambda=0.9, train__ent_coef=0.03,
    policy__hidden_size=256, policy__lstm=False,
)  # fmt: skip


def overrides(**values) -> list[str]:
    out = []
    for key, value in values.items():
        section, name = key.split("__")
        out += [f"--{section}.{name}", str(value)]
    return out


@pytest.mark.skipif(not registered("ocean/cartpole"), reason="ocean/cartpole is not registered")
def test_ocean_cartpole_reaches_475():
    config = load_config("ocean/cartpole", overrides=overrides(**CARTPOLE, train__seed=3))
    history = train_until(config, "episode_return", 475.0, max_steps=4_000_000)
    assert history[-1] >= 400


@pytest.mark.skipif(not registered("ocean/squared"), reason="ocean/squared is not registered")
def test_ocean_squared_reaches_the_target_half_the_time():
    # score is the final reward (+1 target, -1 off the grid or out of time), so 0.5 means the target is
    # reached three times in four; random play scores about -0.77 (it reaches the target 11% of the time).
    config = load_config("ocean/squared", overrides=overrides(**SQUARED, train__seed=3))
    train_until(config, "score", 0.5, max_steps=3_000_000)


def test_gym_cartpole_through_emulation():
    config = load_config(
        "gym/CartPole-v1",
        overrides=overrides(
            train__seed=1,
            train__total_timesteps=300_000,
            train__optimizer="adam",
            train__learning_rate=0.003,
            train__prio_alpha=0.0,
            train__gamma=0.99,
            train__gae_lambda=0.95,
            train__horizon=32,
            train__batch_size=1024,
            train__minibatch_size=256,
            train__update_epochs=4,
            train__vf_coef=0.5,
            train__vf_clip_coef=10.0,
            train__adam_beta1=0.9,
            train__adam_eps=1e-5,
            train__ent_coef=0.01,
            vec__num_envs=16,
        ),
    )
    train_until(config, "episode_return", 300.0, max_steps=300_000)
