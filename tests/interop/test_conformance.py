"""Puffer envs through the ecosystem's own conformance checks and clients (no torch).

gymnasium's ``check_env`` and vector wrappers, pettingzoo's ``parallel_api_test``, turn-based AEC games
and a CleanRL-style PPO loop, over ocean envs and emulated gymnasium/pettingzoo envs. Needs
puffer-core[interop] and puffer-envs-ocean; runs in the puffer-envs-ocean nox session. Ocean envs are used
only through their public API: no assertion depends on their rules or constants.
"""

from __future__ import annotations

import functools
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from pettingzoo.test import parallel_api_test, parallel_seed_test

import puffer_core
from puffer_core.emulation import PettingZooPufferEnv, unflatten
from puffer_core.vector import GymnasiumVectorEnv

NEXT, SAME = AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP


def ocean_ids(agents: str) -> list[str]:
    """Registered ocean env ids with one agent slot per copy (``"single"``) or several (``"multi"``)."""
    ids = []
    for spec in puffer_core.list_envs():
        if spec.id.startswith("ocean/"):
            with puffer_core.make(spec.id, num_envs=1, seed=0) as env:
                if (env.num_agents == 1) == (agents == "single"):
                    ids.append(spec.id)
    return ids


SINGLE_AGENT_OCEAN = ocean_ids("single")


def keeps_final_observations(env_id: str) -> bool:
    with puffer_core.make(env_id, num_envs=1, seed=0) as env:
        return env.final_observations is not None


def test_the_envs_the_suite_relies_on_are_registered():
    assert {"ocean/cartpole", "ocean/squared"} <= set(SINGLE_AGENT_OCEAN)
    assert "ocean/snake" in ocean_ids("multi")
    assert all(keeps_final_observations(env_id) for env_id in [*SINGLE_AGENT_OCEAN, *ocean_ids("multi")])


# -- gymnasium.Env view ------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", [*SINGLE_AGENT_OCEAN, "gym/CartPole-v1", "gym/Blackjack-v1"])
def test_gymnasium_check_env(env_id):
    env = puffer_core.as_gymnasium_env(env_id, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # advice such as "Box bound is infinite" is not a failure
        check_env(env, skip_render_check=False)
    env.close()


def test_gymnasium_view_matches_gymnasium_with_final_observations():
    """An emulated env seen through the view steps exactly like the original, final observations included."""
    ours = puffer_core.as_gymnasium_env("gym/CartPole-v1", max_episode_steps=30)
    reference = gymnasium.make("CartPole-v1", max_episode_steps=30)
    rng = np.random.default_rng(0)
    ends = {"terminated": 0, "truncated": 0}
    np.testing.assert_array_equal(ours.reset(seed=5)[0], reference.reset(seed=5)[0])
    for _ in range(400):
        action = int(rng.integers(2)) if rng.random() < 0.7 else int(ours.observation_space.sample()[2] > 0)
        got, want = ours.step(action), reference.step(action)
        for x, y in zip(got[:4], want[:4]):
            np.testing.assert_array_equal(x, y)
        if got[2] or got[3]:
            ends["terminated" if got[2] else "truncated"] += 1
            assert got[4]["final_observation_kept"] and got[4]["episode_length"] >= 1
            np.testing.assert_array_equal(ours.reset()[0], reference.reset()[0])
    assert ends["terminated"] > 0 and ends["truncated"] > 0


@pytest.mark.parametrize("env_id", SINGLE_AGENT_OCEAN)
def test_gymnasium_view_returns_ocean_final_observations(env_id):
    """At an episode's end the view returns the env's final observation (not the next episode's first,
    which the ocean env has already begun), and ``reset()`` then returns that next episode's first one."""
    view = puffer_core.as_gymnasium_env(env_id, seed=3)
    direct = puffer_core.make(env_id, num_envs=1, seed=3)
    np.testing.assert_array_equal(view.reset()[0], direct.reset()[0][0])
    view.action_space.seed(3)
    ends = 0
    for _ in range(3000):
        action = view.action_space.sample()
        got = view.step(action)
        action_buffer = np.asarray(action).reshape(direct.actions.shape)
        obs, rewards, terminals, truncations, _ = direct.step(action_buffer)
        assert got[1] == rewards[0] and got[2] == terminals[0] and got[3] == truncations[0]
        if not (got[2] or got[3]):
            np.testing.assert_array_equal(got[0], obs[0])
            continue
        assert got[4]["final_observation_kept"]
        np.testing.assert_array_equal(got[0], direct.final_observations[0])
        np.testing.assert_array_equal(view.reset()[0], obs[0])
        ends += 1
        if ends == 5:
            break
    assert ends > 0
    view.close()
    direct.close()


def test_gymnasium_view_refuses_multi_agent_envs():
    with pytest.raises(ValueError, match="as_parallel_env"):
        puffer_core.as_gymnasium_env("ocean/snake")


# -- gymnasium VectorEnv adapter ---------------------------------------------------------------------------
def cartpole_pair(mode, num_envs=4, seed=10, **kwargs):
    """(our adapter over emulated CartPole, gymnasium's SyncVectorEnv) in the same autoreset mode."""
    vec = puffer_core.vector.make("gym/CartPole-v1", num_envs=num_envs, seed=seed, env_kwargs=kwargs)
    reference = gymnasium.vector.SyncVectorEnv(
        [functools.partial(gymnasium.make, "CartPole-v1", **kwargs)] * num_envs, autoreset_mode=mode
    )
    return GymnasiumVectorEnv(vec, autoreset_mode=mode), reference


@pytest.mark.parametrize("mode", [NEXT, SAME])
def test_vector_adapter_is_bit_identical_to_sync_vector_env(mode):
    """Same seeds and actions: same observations, rewards, flags and final observations, through episode
    ends (in both autoreset modes), per-env seed lists and partial resets."""
    ours, reference = cartpole_pair(mode, max_episode_steps=25)
    assert ours.metadata["autoreset_mode"] == mode
    rng = np.random.default_rng(0)

    def same(got, want):
        if len(want) == 2:  # reset: (obs, infos)
            np.testing.assert_array_equal(got[0], want[0])
            return
        for x, y in zip(got[:4], want[:4]):
            np.testing.assert_array_equal(x, y)
        if mode == SAME and "_final_obs" in want[4]:
            np.testing.assert_array_equal(got[4]["_final_obs"], want[4]["_final_obs"])
            for i in np.flatnonzero(want[4]["_final_obs"]):
                np.testing.assert_array_equal(got[4]["final_obs"][i], want[4]["final_obs"][i])

    same(ours.reset(seed=10), reference.reset(seed=10))
    ends = 0
    for t in range(120):
        actions = rng.integers(0, 2, 4)
        got, want = ours.step(actions), reference.step(actions)
        same(got, want)
        ends += int((got[2] | got[3]).sum())
        if t == 60:
            seeds = [7, None, 9, 100]
            same(ours.reset(seed=seeds), reference.reset(seed=seeds))
        if t == 90:
            options = {"reset_mask": np.array([True, False, True, False])}
            same(ours.reset(seed=3, options=options), reference.reset(seed=3, options=options))
    assert ends >= 8
    ours.close()
    reference.close()


def test_vector_wrappers_work_over_the_adapter():
    """Gymnasium's own vector wrappers, stacked, over NEXT_STEP (emulated) and SAME_STEP (ocean).

    Gymnasium's observation wrappers accept NEXT_STEP only (even over its own SyncVectorEnv): over ocean
    envs they work in NEXT_STEP (one copy per env object); SAME_STEP takes the reward and info wrappers."""
    wrappers = gymnasium.wrappers.vector
    next_step, _ = cartpole_pair(NEXT)
    env = wrappers.NormalizeObservation(next_step)  # NEXT_STEP only, in gymnasium
    env = wrappers.DtypeObservation(env, np.float64)
    env = wrappers.NormalizeReward(env)
    env = wrappers.ClipReward(env, -5, 5)
    env = wrappers.RecordEpisodeStatistics(env)
    env = wrappers.DictInfoToList(env)
    run_random(env, steps=100, expect_episodes=True)

    for env_id in ("ocean/squared", "ocean/cartpole"):
        vec = puffer_core.vector.make(env_id, num_envs=1, seed=0, env_kwargs={"num_envs": 4})
        env = GymnasiumVectorEnv(vec, autoreset_mode=SAME)
        env = wrappers.NormalizeReward(env)
        env = wrappers.RecordEpisodeStatistics(wrappers.ClipReward(env, -1, 1))
        env = wrappers.DictInfoToList(env)
        env.reset(seed=0)
        frames = env.render()  # one frame per env object
        assert len(frames) == 1 and frames[0].dtype == np.uint8 and frames[0].ndim == 3
        run_random(env, steps=300, expect_episodes=True)

        vec = puffer_core.vector.make(env_id, num_envs=4, seed=0, env_kwargs={"num_envs": 1})
        env = wrappers.NormalizeObservation(GymnasiumVectorEnv(vec, autoreset_mode=NEXT))
        env = wrappers.DtypeObservation(env, np.float64)
        env = wrappers.RecordEpisodeStatistics(env)
        run_random(wrappers.DictInfoToList(env), steps=300, expect_episodes=True)


def run_random(env, steps, expect_episodes):
    obs, infos = env.reset(seed=0)
    assert obs in env.observation_space and isinstance(infos, list)
    env.action_space.seed(0)
    episodes = 0
    for _ in range(steps):
        obs, rewards, terminations, truncations, infos = env.step(env.action_space.sample())
        assert obs in env.observation_space and len(infos) == env.num_envs
        episodes += sum("episode" in info for info in infos)
    assert episodes > 0 or not expect_episodes
    env.close()


def test_same_step_infos_follow_gymnasiums_format():
    vec = puffer_core.vector.make("gym/CartPole-v1", num_envs=3, seed=0, env_kwargs={"max_episode_steps": 5})
    env = GymnasiumVectorEnv(vec, autoreset_mode=SAME)
    env.reset()
    for _ in range(4):
        *_, infos = env.step(np.zeros(3, dtype=np.int64))
        assert "_final_obs" not in infos
    obs, _, _, truncations, infos = env.step(np.zeros(3, dtype=np.int64))
    assert truncations.all()
    assert infos["_final_obs"].all() and infos["_final_info"].all()
    assert not np.array_equal(np.stack(infos["final_obs"]), obs)  # obs already began the next episode
    np.testing.assert_array_equal(infos["final_info"]["episode_length"], [5, 5, 5])
    np.testing.assert_array_equal(infos["episode_return"], [5.0, 5.0, 5.0])
    env.close()


@pytest.mark.parametrize("env_id", SINGLE_AGENT_OCEAN)
def test_same_step_final_obs_over_ocean_are_the_envs_final_observations(env_id):
    """SAME_STEP over ocean (several copies per env object): ``final_obs`` holds, for exactly the sub-envs
    that ended, the final observation of env objects stepped directly with the same seeds and actions."""
    vec = puffer_core.vector.make(env_id, num_envs=2, seed=30, env_kwargs={"num_envs": 3})
    ours = GymnasiumVectorEnv(vec, autoreset_mode=SAME)
    direct = [puffer_core.make(env_id, num_envs=3, seed=30 + k) for k in range(2)]
    obs, _ = ours.reset()
    np.testing.assert_array_equal(obs, np.concatenate([env.reset()[0] for env in direct]))
    ours.action_space.seed(30)
    ends = 0
    for _ in range(1000):
        actions = ours.action_space.sample()
        obs, _, terminations, truncations, infos = ours.step(actions)
        for k, env in enumerate(direct):
            env.step(actions[3 * k : 3 * k + 3].reshape(env.actions.shape))
        np.testing.assert_array_equal(obs, np.concatenate([env.observations for env in direct]))
        ended = terminations | truncations
        if not ended.any():
            assert "_final_obs" not in infos
            continue
        np.testing.assert_array_equal(infos["_final_obs"], ended)
        finals = np.concatenate([env.final_observations for env in direct])
        for i in range(ours.num_envs):
            if ended[i]:
                np.testing.assert_array_equal(infos["final_obs"][i], finals[i])
            else:
                assert infos["final_obs"][i] is None
        ends += int(ended.sum())
        if ends >= 10:
            break
    assert ends > 0
    ours.close()


@pytest.mark.parametrize("env_id", SINGLE_AGENT_OCEAN)
def test_next_step_over_ocean_matches_gymnasiums_semantics(env_id):
    """NEXT_STEP over ocean (serial backend, one copy per env object): the step that ends an episode
    returns its final observation; in the next step that sub-env ignores its action and returns the next
    episode's first observation with reward 0 and no flags, while the others move on. Checked against env
    objects stepped directly."""
    vec = puffer_core.vector.make(env_id, num_envs=3, seed=40, env_kwargs={"num_envs": 1})
    ours = GymnasiumVectorEnv(vec)
    assert ours.autoreset_mode == NEXT
    direct = [puffer_core.make(env_id, num_envs=1, seed=40 + k) for k in range(3)]
    obs, _ = ours.reset()
    np.testing.assert_array_equal(obs, np.concatenate([env.reset()[0] for env in direct]))
    ours.action_space.seed(40)
    waiting = np.zeros(3, dtype=bool)
    ends = restarts = 0
    for _ in range(3000):
        actions = ours.action_space.sample()
        obs, rewards, terminations, truncations, _ = ours.step(actions)
        for k, env in enumerate(direct):
            if waiting[k]:  # the ocean env began its next episode in the last step already
                np.testing.assert_array_equal(obs[k], env.observations[0])
                assert rewards[k] == 0 and not terminations[k] and not truncations[k]
                waiting[k] = False
                restarts += 1
                continue
            want = env.step(actions[k : k + 1].reshape(env.actions.shape))
            assert rewards[k] == want[1][0] and terminations[k] == want[2][0] and truncations[k] == want[3][0]
            ended = bool(want[2][0] or want[3][0])
            np.testing.assert_array_equal(obs[k], env.final_observations[0] if ended else want[0][0])
            waiting[k] = ended
            ends += ended
        if restarts >= 5:
            break
    assert ends > 0 and restarts > 0
    ours.close()


def test_next_step_refused_where_it_cannot_hold():
    vec = puffer_core.vector.make("ocean/squared", num_envs=2, seed=0, env_kwargs={"num_envs": 2})
    with pytest.raises(ValueError, match="2 agent slots.*SAME_STEP"):
        GymnasiumVectorEnv(vec)  # copies of one env object cannot sit out a step one at a time
    vec.close()
    vec = puffer_core.vector.make("ocean/squared", num_envs=2, seed=0, env_kwargs={"num_envs": 1})
    for env in vec.envs:
        env.final_observations = None  # as an env that does not keep them
    with pytest.raises(ValueError, match="final observations.*SAME_STEP"):
        GymnasiumVectorEnv(vec)
    vec.close()


def test_episode_statistics_count_only_live_steps():
    """Snake slots are dead while a snake waits for room: the adapter's episode_length counts the steps in
    which the slot held a live agent, whereas RecordEpisodeStatistics counts every step (documented)."""
    vec = puffer_core.vector.make("ocean/snake", num_envs=1, seed=0, env_kwargs={"num_envs": 2})
    env = gymnasium.wrappers.vector.RecordEpisodeStatistics(GymnasiumVectorEnv(vec, autoreset_mode=SAME))
    obs, infos = env.reset(seed=0)
    live_steps = np.zeros(env.num_envs, dtype=np.int64)
    acting = infos["masks"].copy()
    env.action_space.seed(0)
    checked = 0
    for _ in range(600):
        _, _, terminations, truncations, infos = env.step(env.action_space.sample())
        live_steps += acting
        if "_episode_return" in infos:
            for i in np.flatnonzero(infos["_episode_return"]):
                assert infos["episode_length"][i] == live_steps[i]
                assert infos["episode_length"][i] <= infos["episode"]["l"][i]
                live_steps[i] = 0
                checked += 1
        acting = infos["masks"].copy()
    assert checked > 0
    env.close()


# -- pettingzoo ----------------------------------------------------------------------------------------------
def test_parallel_api_test_on_ocean_snake():
    parallel_api_test(puffer_core.as_parallel_env("ocean/snake", seed=0), num_cycles=500)
    parallel_seed_test(functools.partial(puffer_core.as_parallel_env, "ocean/snake", seed=0))


def test_parallel_view_returns_each_snakes_final_observation():
    """A snake that dies reports its final observation (its view as it died), not the respawned snake's
    first one; checked against the env stepped directly."""
    view = puffer_core.as_parallel_env("ocean/snake", seed=5)
    direct = puffer_core.make("ocean/snake", num_envs=1, seed=5)
    observations, _ = view.reset()
    direct.reset()
    deaths = 0
    rng = np.random.default_rng(5)
    for _ in range(200):
        actions = {agent: int(rng.integers(4)) for agent in view.agents}
        buffer = np.zeros_like(direct.actions)
        for agent, action in actions.items():
            buffer[int(agent.split("_")[1])] = action
        observations, _, terminations, _, _ = view.step(actions)
        obs, _, terminals, _, _ = direct.step(buffer)
        for agent, terminated in terminations.items():
            slot = int(agent.split("_")[1])
            want = direct.final_observations[slot] if terminals[slot] else obs[slot]
            assert terminated == terminals[slot]
            np.testing.assert_array_equal(observations[agent], want)
            deaths += terminated
        if not view.agents:  # every snake died once: pettingzoo's episode is over
            break
    assert deaths > 0
    view.close()


def test_parallel_api_test_on_an_emulated_turn_based_game():
    from pettingzoo.classic import tictactoe_v3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(puffer_core.as_parallel_env(PettingZooPufferEnv(tictactoe_v3.env)), num_cycles=200)


@pytest.mark.parametrize("game", ["tictactoe_v3", "connect_four_v3"])
def test_turn_based_aec_games_emulate(game):
    """Players alternate; the action mask in the observation says whose turn it is and which moves are
    legal; legal games end with zero-sum rewards and every game reports both players' episodes."""
    import importlib

    module = importlib.import_module(f"pettingzoo.classic.{game}")
    vec = puffer_core.vector.make(functools.partial(PettingZooPufferEnv, module.env), num_envs=2, seed=0)
    space = vec.structured_observation_space
    obs, _ = vec.reset()
    rng = np.random.default_rng(0)
    previous_player = None
    games, finished = 0, 0
    for _ in range(300):
        masks = np.stack([unflatten(o, space)["action_mask"] for o in obs])  # [4 slots, moves]
        movers = masks.reshape(2, 2, -1).any(axis=2)  # per env object: which player may move
        assert (movers.sum(axis=1) == 1).all(), "exactly one player moves at a time"
        player = movers[0].argmax()
        if previous_player is not None:
            assert player != previous_player, "players alternate"
        actions = np.array([rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in masks])
        obs, rewards, terminals, truncations, infos = vec.step(actions)
        previous_player = None if terminals[:2].any() else player  # a new game starts with player 1
        for k in range(2):
            if terminals[2 * k : 2 * k + 2].all():
                games += 1
                assert rewards[2 * k : 2 * k + 2].sum() == 0
        finished += len(infos)
    assert games >= 4 and finished == 2 * games
    vec.close()


# -- seeding rule --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["serial", "multiprocessing"])
def test_seeding_rule_env_object_k_gets_seed_plus_k(backend):
    """The documented rule: env object k of a vector env gets seed + k, whatever it holds inside; copies
    inside one object are the env's own business. So an object of a vector env replays the same object made
    alone with that seed, and one grouping replays itself on every backend."""
    kwargs = {"start_method": "forkserver", "max_processes": 2} if backend == "multiprocessing" else {}
    vec = puffer_core.vector.make(
        "ocean/squared", num_envs=4, backend=backend, seed=20, env_kwargs={"num_envs": 2}, **kwargs
    )
    alone = puffer_core.make("ocean/squared", num_envs=2, seed=22)  # object 2 of the vector env
    rng = np.random.default_rng(0)
    obs, _ = vec.reset()
    np.testing.assert_array_equal(obs[4:6], alone.reset()[0])
    for _ in range(60):
        actions = rng.integers(0, alone.single_action_space.n, 8).astype(np.int32)
        obs, rewards, terminals, truncations, _ = vec.step(actions)
        want = alone.step(actions[4:6].copy())
        np.testing.assert_array_equal(obs[4:6], want[0])
        np.testing.assert_array_equal(rewards[4:6], want[1])
        np.testing.assert_array_equal(terminals[4:6] | truncations[4:6], want[2] | want[3])
    vec.close()
    alone.close()


# -- a CleanRL-style PPO loop against the plain gymnasium vector API ---------------------------------------
def ppo_numpy(envs, total_steps, num_steps=64, lr=1.0, epochs=4, gamma=0.99, lam=0.95, clip=0.2, seed=0):
    """CleanRL's ppo.py in numpy with a linear softmax policy and a linear value: rollout, GAE, clipped
    updates. Reads returns from RecordEpisodeStatistics' ``infos["episode"]``, and masks out the reset
    step of NEXT_STEP autoreset as gymnasium documents. Returns the episode returns in the order seen."""
    rng = np.random.default_rng(seed)
    n, obs_dim = envs.num_envs, envs.single_observation_space.shape[0]
    n_act = envs.single_action_space.n
    w_pi = np.zeros((obs_dim + 1, n_act))
    w_v = np.zeros(obs_dim + 1)
    next_step_mode = envs.metadata["autoreset_mode"] == NEXT
    obs_buf = np.zeros((num_steps, n, obs_dim + 1))
    act_buf = np.zeros((num_steps, n), dtype=np.int64)
    logp_buf, rew_buf, val_buf = (np.zeros((num_steps, n)) for _ in range(3))
    done_buf, valid_buf = np.zeros((num_steps, n)), np.zeros((num_steps, n))

    def features(o):
        return np.concatenate([o, np.ones((len(o), 1))], axis=1)

    def policy(x):
        logits = x @ w_pi
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    obs, _ = envs.reset(seed=seed)
    done, autoreset = np.zeros(n), np.zeros(n, dtype=bool)
    returns = []
    for _ in range(total_steps // (num_steps * n)):
        for t in range(num_steps):
            x = features(obs)
            probs = policy(x)
            action = (probs.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
            obs_buf[t], act_buf[t], val_buf[t], done_buf[t] = x, action, x @ w_v, done
            logp_buf[t] = np.log(probs[np.arange(n), action] + 1e-8)
            valid_buf[t] = ~autoreset if next_step_mode else 1.0
            obs, reward, terminated, truncated, infos = envs.step(action)
            rew_buf[t] = reward
            done = (terminated | truncated).astype(float)
            autoreset = terminated | truncated
            if "episode" in infos:
                returns.extend(infos["episode"]["r"][infos["_episode"]].tolist())
        # GAE (CleanRL's loop; the NEXT_STEP reset steps carry no transition and are masked below)
        next_value = features(obs) @ w_v
        adv = np.zeros((num_steps, n))
        last = np.zeros(n)
        for t in reversed(range(num_steps)):
            nonterminal = 1.0 - (done if t == num_steps - 1 else done_buf[t + 1])
            v_next = next_value if t == num_steps - 1 else val_buf[t + 1]
            delta = rew_buf[t] + gamma * v_next * nonterminal - val_buf[t]
            last = delta + gamma * lam * nonterminal * last
            adv[t] = last
        target = adv + val_buf
        x, a = obs_buf.reshape(-1, obs_dim + 1), act_buf.reshape(-1)
        old_logp, valid = logp_buf.reshape(-1), valid_buf.reshape(-1)
        adv_flat, target_flat = adv.reshape(-1), target.reshape(-1)
        adv_flat = (adv_flat - adv_flat[valid > 0].mean()) / (adv_flat[valid > 0].std() + 1e-8)
        for _ in range(epochs):
            probs = policy(x)
            ratio = np.exp(np.log(probs[np.arange(len(a)), a] + 1e-8) - old_logp)
            # d(clipped surrogate)/d(logits): ratio * A * (onehot - p) where the ratio is not clipped
            unclipped = ((adv_flat > 0) & (ratio < 1 + clip)) | ((adv_flat < 0) & (ratio > 1 - clip))
            coef = (ratio * adv_flat * unclipped * valid)[:, None]
            onehot = np.eye(n_act)[a]
            w_pi += lr * x.T @ (coef * (onehot - probs)) / valid.sum()
            w_v += lr * 0.1 * x.T @ ((target_flat - x @ w_v) * valid) / valid.sum()
    envs.close()
    return returns


@pytest.mark.parametrize(
    "env_id, mode, kwargs",
    [("ocean/cartpole", SAME, {"num_envs": 8}), ("gym/CartPole-v1", NEXT, {})],
)
def test_cleanrl_style_ppo_learns(env_id, mode, kwargs):
    """Random CartPole play lasts about 22 steps; a linear PPO policy trained for 40k steps through the
    plain gymnasium vector API (and RecordEpisodeStatistics) must clearly beat it."""
    num_objects = 1 if kwargs else 8
    vec = puffer_core.vector.make(env_id, num_envs=num_objects, seed=1, env_kwargs=kwargs)
    envs = gymnasium.wrappers.vector.RecordEpisodeStatistics(GymnasiumVectorEnv(vec, autoreset_mode=mode))
    returns = ppo_numpy(envs, total_steps=40_000)
    first, last = np.mean(returns[:20]), np.mean(returns[-20:])
    assert first < 40 and last > 100, (first, last)
