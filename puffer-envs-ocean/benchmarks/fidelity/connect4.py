"""connect4: same game on both sides (agent first, book + 3-ply lookahead opponent, no draw); lengths via terminals.

Both sides log ``score`` (= the final reward, +1 or -1), ``episode_return`` (the same) and ``perf`` (1 for a
win). The reference's own ``episode_length`` log is not a game length (it sums every env's running step
counter, finished or not, and doubles the finished ones), so its side is wrapped to add ``game_length``: the
agent moves of the games that finished, counted from the terminals (the reference spends one extra step after
each game on its reset; that step is not a move and is not counted). Ours logs that number as
``episode_length``.

The reference logs only the games that ended on the step just before each log call (its reset clears the
log) and fails on a log call with none, so it runs with ``report_interval=8``: an unbiased sample of games.

A spec file for ``benchmarks/fidelity.py``: pure numpy, imported by both sides' Python.
"""

import numpy as np

SPS_NUM_ENVS = 1024
POLICY_NUM_ENVS = 1024
WARMUP_STEPS = 64
# label: (our log key, the reference's log key)
METRICS = {
    "score": ("score", "score"),
    "perf (win rate)": ("perf", "perf"),
    "episode_return": ("episode_return", "episode_return"),
    "game length": ("episode_length", "game_length"),
}


class _GameLengths:
    """The reference's env plus a ``game_length`` entry in each log: mean moves of the games it logged."""

    def __init__(self, env):
        self.env = env
        self.moves = np.zeros(env.num_agents, dtype=np.int64)
        self.ended = np.zeros(env.num_agents, dtype=bool)

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, seed=None):
        self.moves[:] = 0
        self.ended[:] = False
        return self.env.reset(seed)

    def step(self, actions):
        obs, rewards, terminals, truncations, infos = self.env.step(actions)
        self.moves = np.where(self.ended, 0, self.moves + 1)  # the step after a game is its reset, no move
        self.ended = terminals.astype(bool)
        for info in infos:
            if self.ended.any():  # the games logged are exactly those that ended on this step
                info["game_length"] = float(self.moves[self.ended].mean())
        return obs, rewards, terminals, truncations, infos


def make(side: str, num_envs: int, seed: int):
    if side == "ours":
        from puffer_envs_ocean.connect4 import Connect4

        return Connect4(num_envs=num_envs, seed=seed)
    from pufferlib.ocean.connect4.connect4 import Connect4

    return _GameLengths(Connect4(num_envs=num_envs, seed=seed, report_interval=8))


def scripted(obs: np.ndarray) -> np.ndarray:
    """Complete a four when one column does it, else a legal column picked from the disc count (no illegal
    moves). Observation: index col * 6 + row, +1 own disc, -1 the opponent's."""
    n = obs.shape[0]
    cols = obs.reshape(n, 7, 6)
    heights = (cols != 0).sum(axis=2)  # discs per column
    legal = heights < 6
    wins = np.zeros((n, 7), dtype=bool)
    for c in range(7):
        board = (cols == 1).copy()
        rows = np.minimum(heights[:, c], 5)
        board[np.arange(n), c, rows] = True
        four = np.zeros(n, dtype=bool)
        four |= (board[:, :, :-3] & board[:, :, 1:-2] & board[:, :, 2:-1] & board[:, :, 3:]).any(axis=(1, 2))
        four |= (board[:, :-3] & board[:, 1:-2] & board[:, 2:-1] & board[:, 3:]).any(axis=(1, 2))
        four |= (board[:, :-3, :-3] & board[:, 1:-2, 1:-2] & board[:, 2:-1, 2:-1] & board[:, 3:, 3:]).any(axis=(1, 2))
        four |= (board[:, :-3, 3:] & board[:, 1:-2, 2:-1] & board[:, 2:-1, 1:-2] & board[:, 3:, :-3]).any(axis=(1, 2))
        wins[:, c] = four & legal[:, c]
    discs = heights.sum(axis=1)
    count = np.maximum(legal.sum(axis=1), 1)
    k = (discs * 5 + 2) % count  # the k-th legal column
    pick = np.argmax(np.cumsum(legal, axis=1) > k[:, None], axis=1)
    return np.where(wins.any(axis=1), np.argmax(wins, axis=1), pick).astype(np.int32)
