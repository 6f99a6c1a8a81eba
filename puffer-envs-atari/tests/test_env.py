"""atari/<game> envs: spaces, seeding, the two engines, life loss vs game over, truncation, bad input."""

import numpy as np
import puffer_envs_atari
import pytest

import puffer_core
from conftest import make, rollout


def test_spaces_and_shapes(engine):
    env = make("breakout", engine, seed=None, num_envs=3, frame_stack=2, height=64, width=48)
    obs, infos = env.reset()
    assert env.single_observation_space.shape == (2, 64, 48)
    assert env.single_observation_space.dtype == np.uint8
    assert env.single_action_space.n == 4  # NOOP, FIRE, RIGHT, LEFT
    assert obs.shape == (3, 2, 64, 48) and obs.dtype == np.uint8 and infos == []
    assert env.single_observation_space.contains(obs[0])
    obs, rew, term, trunc, _ = env.step(np.zeros(3, dtype=np.int32))
    assert rew.dtype == np.float32 and term.dtype == bool and trunc.dtype == bool and rew.shape == (3,)
    env.close()
    assert make("breakout", engine, seed=None, full_action_space=True).single_action_space.n == 18


def test_same_seed_same_trajectory_other_seed_differs(engine):
    runs = []
    for seed in (5, 5, 6):
        env = make("pong", engine, seed=seed)
        env.reset()
        runs.append(rollout(env, 100))
        env.close()
    same = all(np.array_equal(a[0], b[0]) and a[4] == b[4] for a, b in zip(runs[0], runs[1]))
    assert same
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(runs[0], runs[2]))


def test_reset_seed_overrides_creator_seed(engine):
    a = make("breakout", engine, seed=1)
    b = make("breakout", engine, seed=None)
    a.reset()
    a.reset(seed=9)
    b.reset(seed=9)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(rollout(a, 60), rollout(b, 60)))


def test_engines_agree_without_randomness():
    """No sticky actions and no no-ops: both engines play the same game; pixels differ by rounding only."""
    runs = {}
    for engine in ("ale_vector", "python"):
        env = make("breakout", engine, seed=None, num_envs=2, repeat_action_probability=0.0, noop_max=0)
        first, _ = env.reset()
        runs[engine] = (first.copy(), rollout(env, 260))
    (first_a, a), (first_b, b) = runs.values()
    assert np.abs(first_a.astype(int) - first_b).max() <= 1
    for step_a, step_b in zip(a, b):
        assert np.abs(step_a[0].astype(int) - step_b[0]).max() <= 1
        for x, y in zip(step_a[1:4], step_b[1:4]):
            np.testing.assert_array_equal(x, y)
        assert step_a[4] == step_b[4]
    assert sum(len(s[4]) for s in a) >= 2  # games did end and were compared


def test_life_loss_is_terminal_only_with_episodic_life_and_stats_count_whole_games(engine):
    runs = {}
    for episodic in (False, True):
        env = make("breakout", engine, seed=3, num_envs=2, episodic_life=episodic)
        env.reset()
        runs[episodic] = rollout(env, 300)
    plain, episodic = runs[False], runs[True]
    games = [info for step in plain for info in step[4]]
    assert games, "random play should lose all 5 Breakout lives within 300 steps"
    # Same dynamics (episodic_life only changes the signal): same frames, rewards and game statistics.
    for a, b in zip(plain, episodic):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert a[4] == b[4]
    plain_terms = sum(int(s[2].sum()) for s in plain)
    episodic_terms = sum(int(s[2].sum()) for s in episodic)
    assert plain_terms == len(games)  # without episodic_life, a terminal is a game over
    assert episodic_terms >= 4 * len(games)  # each game has 5 lives: 4 life losses + the game over
    # Each game's statistics are the whole game's: its score and all its steps, not one life's.
    for slot in range(2):
        start, total = 0, 0.0
        for t, (_, rew, term, _, infos) in enumerate(plain):
            total += float(rew[slot])
            if term[slot]:
                info = next(i for i in infos if i["episode_length"] == t + 1 - start)
                assert info["episode_return"] == info["score"] == total
                start, total = t + 1, 0.0


def test_truncation_is_not_termination(engine):
    env = make("pong", engine, seed=None, num_envs=2, max_episode_frames=40, noop_max=0)
    env.reset()
    steps = rollout(env, 25)
    truncs = [t for t, s in enumerate(steps) if s[3].any()]
    assert truncs == [9, 19]  # 40 frames = 10 agent steps at frame skip 4
    assert not any(s[2].any() for s in steps)
    assert steps[9][4] == [{"episode_return": 0.0, "episode_length": 10.0, "score": 0.0}] * 2


def test_final_observations_hold_the_last_frames_of_a_game(engine):
    env = make("pong", engine, seed=None, max_episode_frames=24, noop_max=0)
    env.reset()
    before = None
    for _ in range(6):
        before = env.observations.copy()
        obs, *_ = env.step(np.zeros(1, dtype=np.int32))
    # The final stack continues the one before it (oldest first); the new game's stack starts from zeros.
    np.testing.assert_array_equal(env.final_observations[0, :-1], before[0, 1:])
    assert not obs[0, :-1].any() and obs[0, -1].any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"game": "breakuot"}, "did you mean 'atari/breakout'"),
        ({"seed": -1}, "seed must be a non-negative int"),
        ({"engine": "cuda"}, "engine must be one of"),
        ({"frameskip": 0}, "frameskip must be an int >= 1"),
        ({"repeat_action_probability": 1.5}, "repeat_action_probability"),
        ({"height": 300}, "height must be an int in"),
        ({"num_envs": 0}, "num_envs must be a positive int"),
        ({"episodic_life": "yes"}, "episodic_life must be a bool"),
        ({"num_threads": -1}, "num_threads"),
        ({"typo_option": 1}, "typo_option"),
        ({"game": "combat"}, "does not support it"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message):
    game = kwargs.pop("game", "breakout")
    with pytest.raises((ValueError, TypeError, puffer_core.UnknownEnvError), match=message):
        if game == "combat":  # a bundled ROM ALE cannot load: not registered, and make_atari says why
            puffer_envs_atari.make_atari(game)
        elif game != "breakout":
            puffer_core.make(f"atari/{game}")
        else:
            make(game, seed=kwargs.pop("seed", None), **kwargs)


def test_bad_actions_are_a_clear_error(engine):
    env = make("breakout", engine, seed=None, num_envs=2)
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([0, 4], dtype=np.int32))
    with pytest.raises(ValueError):
        env.step(np.zeros(3, dtype=np.int32))


def test_a_closed_env_says_so(engine):
    env = make("pong", engine, seed=None)
    env.reset()
    env.close()
    env.close()  # twice is fine
    with pytest.raises(RuntimeError, match="is closed"):
        env.step(np.zeros(1, dtype=np.int32))
    with pytest.raises(RuntimeError, match="is closed"):
        env.reset()


def test_multiprocessing_backend_matches_serial():
    kwargs = {"engine": "python", "repeat_action_probability": 0.25}
    serial = puffer_core.vector.make(
        "atari/breakout", num_envs=2, backend="serial", seed=4, env_kwargs=kwargs
    )
    multi = puffer_core.vector.make(
        "atari/breakout", num_envs=2, backend="multiprocessing", num_workers=2, seed=4, env_kwargs=kwargs,
        max_processes=2,
    )
    try:
        a, _ = serial.reset(seed=4)
        b, _ = multi.reset(seed=4)
        np.testing.assert_array_equal(a, b)
        rng = np.random.default_rng(0)
        for _ in range(40):
            actions = rng.integers(0, 4, size=2, dtype=np.int32)
            sa, sb = serial.step(actions), multi.step(actions)
            for x, y in zip(sa[:4], sb[:4]):
                np.testing.assert_array_equal(x, y)
    finally:
        serial.close()
        multi.close()
