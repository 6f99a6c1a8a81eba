"""breakout: ours plays PufferLib 3.0 ocean's Breakout by its rules (576x330, two walls of 6x18 bricks).

Both sides use the reference's defaults (frameskip 4 from its training config). The reference logs
``episode_length`` in frames, ours in agent steps: the reference's figure is divided by the frameskip here
(its episodes also carry the frames after a game ended within a step into the next one: less than one step
in the mean). Ours truncates at 27000 steps, which neither policy reaches; the reference has no time limit.

A spec file for ``benchmarks/fidelity.py``: pure numpy, imported by both sides' Python.
"""

import numpy as np

SPS_NUM_ENVS = 1024
POLICY_NUM_ENVS = 1024
WARMUP_STEPS = 400
FRAMESKIP = 4
# label: (our log key, the reference's log key)
METRICS = {
    "score": ("score", "score"),
    "perf": ("perf", "perf"),
    "episode_return": ("episode_return", "episode_return"),
    "episode_length": ("episode_length", "episode_length"),
}


class _StepsNotFrames:
    """The reference env, with its logged episode_length in agent steps."""

    def __init__(self, env):
        self.env = env

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, actions):
        out = self.env.step(actions)
        for info in out[4]:
            if isinstance(info, dict) and "episode_length" in info:
                info["episode_length"] = info["episode_length"] / FRAMESKIP
        return out


def make(side: str, num_envs: int, seed: int):
    if side == "ours":
        from puffer_envs_ocean.breakout import Breakout

        return Breakout(num_envs=num_envs, seed=seed, frameskip=FRAMESKIP)
    from pufferlib.ocean.breakout.breakout import Breakout

    return _StepsNotFrames(Breakout(num_envs=num_envs, seed=seed, frameskip=FRAMESKIP, log_interval=16))


_RNG = np.random.default_rng(0)
EPSILON = 0.2


def scripted(obs: np.ndarray) -> np.ndarray:
    """Move the paddle's centre towards the ball's centre (dead band of about 15 px); a random action with
    probability 0.2.

    The randomness matters: the game's only chance is the serve's direction, so a deterministic policy
    plays a handful of trajectories on all envs, and those hinge on float rounding (the reference's
    double-precision trigonometry vs ours), not on the rules. obs: paddle x / 576 [0], ball x / 576 [2],
    paddle width / 62 [9]; the ball is 32 px wide.
    """
    gap = (obs[:, 2] + 16 / 576) - (obs[:, 0] + obs[:, 9] * 31 / 576)
    action = np.where(gap < -0.025, 1, np.where(gap > 0.025, 2, 0))
    explore = _RNG.random(len(obs)) < EPSILON
    action[explore] = _RNG.integers(0, 3, int(explore.sum()))
    return action.astype(np.int32)
