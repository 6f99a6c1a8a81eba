"""Registration: every game ale-py ships is ``atari/<game>``, constructs and steps; importing is inert."""

import concurrent.futures
import multiprocessing
import subprocess
import sys

import numpy as np
import puffer_envs_atari
import pytest
from atari_checks import construct_and_step
from puffer_envs_atari.games import games
from puffer_envs_atari.plugin import DEFAULT_KWARGS, TRAIN_CONFIG

import puffer_core


def test_every_rom_is_registered_with_defaults_and_a_train_config():
    import ale_py.roms
    from puffer_envs_atari.games import unsupported_roms

    assert set(games()) | set(unsupported_roms()) == set(ale_py.roms.get_all_rom_ids())
    assert len(games()) >= 100 and "breakout" in games() and "combat" not in games()
    specs = {s.id: s for s in puffer_core.list_envs() if s.id.startswith("atari/")}
    assert set(specs) == {f"atari/{g}" for g in games()}
    spec = specs["atari/breakout"]
    assert spec.plugin == "atari" and spec.default_kwargs == DEFAULT_KWARGS
    assert spec.default_kwargs["repeat_action_probability"] == 0.25 and spec.default_kwargs["frameskip"] == 4
    assert spec.train_config["policy"]["kind"] == "cnn"
    assert not [b for b in puffer_core.broken_plugins() if "atari" in b.name]


def test_every_registered_game_constructs_and_steps():
    """One emulator per game (the python engine: one ROM load each, the slow part), on two processes."""
    all_games = list(games())
    chunks = [all_games[0::2], all_games[1::2]]
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        failures = [line for lines in pool.map(construct_and_step, chunks) for line in lines]
    assert not failures, "\n".join(failures)


def test_importing_the_package_imports_no_emulator():
    code = "import sys, puffer_envs_atari, puffer_envs_atari.plugin; print('ale_py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert puffer_envs_atari.TRAIN_CONFIG is TRAIN_CONFIG


def test_train_config_sections_are_what_the_trainer_reads():
    # the device-kind layers hold the same sections as the rest
    assert set(TRAIN_CONFIG) <= {"train", "vec", "policy", "run", "env", "cpu", "cuda", "mps"}
    assert set(TRAIN_CONFIG["cuda"]) <= {"train", "vec", "policy", "run", "env"}
    assert set(TRAIN_CONFIG["env"]) <= set(DEFAULT_KWARGS) | {"num_threads"}
    assert TRAIN_CONFIG["env"]["num_envs"] >= 8 and TRAIN_CONFIG["vec"]["num_env_objects"] == 1
    env = puffer_core.make("atari/pong", seed=None, **{**TRAIN_CONFIG["env"], "num_envs": 2})
    assert env.options.episodic_life
    env.close()


@pytest.mark.parametrize("game", ["breakout", "space_invaders"])
def test_vector_make_serial_default_path(game):
    vec = puffer_core.vector.make(f"atari/{game}", num_envs=1, seed=0, env_kwargs={"num_envs": 2})
    try:
        obs, _ = vec.reset(seed=0)
        assert obs.shape == (2, 4, 84, 84) and vec.single_observation_space.shape == (4, 84, 84)
        obs, *_ = vec.step(np.zeros(2, dtype=np.int32))
        assert obs[:, -1].any()
    finally:
        vec.close()
