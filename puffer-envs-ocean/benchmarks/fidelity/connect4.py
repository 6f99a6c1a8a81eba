"""connect4: the same game on both sides (agent first, book + 3-ply lookahead opponent, no draw).

Game lengths are counted from terminals on the reference side.

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


def _completes_four(cols: np.ndarray, heights: np.ndarray, legal: np.ndarray, disc: float) -> np.ndarray:
    """[n, 7]: whether a ``disc`` dropped into each legal column completes four in a row."""
    n = cols.shape[0]
    out = np.zeros((n, 7), dtype=bool)
    for c in range(7):
        b = cols == disc
        b[np.arange(n), c, np.minimum(heights[:, c], 5)] = True
        four = (b[:, :, :-3] & b[:, :, 1:-2] & b[:, :, 2:-1] & b[:, :, 3:]).any(axis=(1, 2))  # vertical
        four |= (b[:, :-3] & b[:, 1:-2] & b[:, 2:-1] & b[:, 3:]).any(axis=(1, 2))  # horizontal
        four |= (b[:, :-3, :-3] & b[:, 1:-2, 1:-2] & b[:, 2:-1, 2:-1] & b[:, 3:, 3:]).any(axis=(1, 2))
        four |= (b[:, :-3, 3:] & b[:, 1:-2, 2:-1] & b[:, 2:-1, 1:-2] & b[:, 3:, :-3]).any(axis=(1, 2))
        out[:, c] = four & legal[:, c]
    return out


CENTER_FIRST = np.array([3, 2, 4, 1, 5, 0, 6])


def scripted(obs: np.ndarray) -> np.ndarray:
    """Complete a four, else block the opponent's, else the most central legal column (it wins about 40% of
    games; on a full board every move is illegal). Observation: index col * 6 + row, +1 own disc, -1 the
    opponent's."""
    n = obs.shape[0]
    cols = obs.reshape(n, 7, 6)
    heights = (cols != 0).sum(axis=2)  # discs per column
    legal = heights < 6
    wins = _completes_four(cols, heights, legal, 1.0)
    blocks = _completes_four(cols, heights, legal, -1.0)
    central = CENTER_FIRST[np.argmax(legal[:, CENTER_FIRST], axis=1)]
    choice = np.where(blocks.any(axis=1), np.argmax(blocks, axis=1), central)
    return np.where(wins.any(axis=1), np.argmax(wins, axis=1), choice).astype(np.int32)
