"""Package-level behaviour: registration, binding, logging cadence, seeding, rendering to GIF, vectorizers."""

import subprocess
import sys

import numpy as np
import pytest

import puffer_core
import puffer_core.vector
from puffer_envs_ocean import OceanEnv, save_gif
from puffer_envs_ocean._binding import env_info, env_names
from puffer_envs_ocean.plugin import ENV_MODULES

TRAINER_SECTIONS = {"train", "vec", "policy", "run", "env"}
#: Device-kind layers an env may register beside them (the trainer's config.DEVICE_KINDS).
DEVICE_KINDS = {"cpu", "cuda", "mps"}


def test_import_has_no_side_effects():
    code = (
        "import sys, puffer_envs_ocean, puffer_envs_ocean.plugin, puffer_envs_ocean._binding as b;"
        "assert b._lib.cache_info().currsize == 0, 'libocean opened at import';"
        "assert 'imageio' not in sys.modules and 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_env_is_registered_and_compiled():
    ids = {s.id for s in puffer_core.list_envs() if s.id.startswith("ocean/")}
    assert ids == {f"ocean/{name}" for name in ENV_MODULES}
    assert sorted(env_names()) == sorted(ENV_MODULES)
    assert not [b for b in puffer_core.broken_plugins() if "ocean" in b.name]


@pytest.mark.parametrize("name", ENV_MODULES)
def test_spec_defaults_and_train_config(name):
    spec = puffer_core.spec(f"ocean/{name}")
    assert spec.description
    # The trainer's sections, and per-device-kind layers holding the same sections.
    layers = {k: v for k, v in spec.train_config.items() if k in DEVICE_KINDS}
    assert set(spec.train_config) <= TRAINER_SECTIONS | DEVICE_KINDS
    assert all(set(layer) <= TRAINER_SECTIONS for layer in layers.values())
    assert spec.train_config["train"]["total_timesteps"] > 0
    env = puffer_core.make(f"ocean/{name}", seed=0)  # the defaults make a valid env
    assert isinstance(env, OceanEnv)
    assert env.num_envs == spec.default_kwargs.get("num_envs", 1)
    info = env_info(name)
    assert {"episode_return", "episode_length"} <= set(info.log_names)
    env.close()


def test_password_defaults_to_a_recurrent_policy():
    assert puffer_core.spec("ocean/password").train_config["policy"]["lstm"] is True


def test_native_runtime_describes_the_env_for_c_programs():
    """What `puffer export` compiles its runner from: the installed ocean.h and libocean, the env's params."""
    import ctypes
    import re

    env = puffer_core.make("ocean/squared", num_envs=3, size=7, seed=0)
    runtime = env.native_runtime()
    env.close()
    assert runtime.c_name == "squared" and runtime.num_envs == 3 and runtime.params == (("size", 7.0),)
    header = (runtime.include_dir / "ocean.h").read_text()
    library = ctypes.CDLL(str(runtime.library))
    for name in re.findall(r"OCEAN_API [^(]*?\b(ocean_\w+)\(", header):  # every declared call is exported
        assert hasattr(library, name), name
    assert library.ocean_abi_version() == int(re.search(r"OCEAN_ABI_VERSION (\d+)", header).group(1))


def test_log_interval_batches_infos():
    # cartpole with a 3-step limit: every episode is truncated at step 3 (squared has no short fixed length)
    env = puffer_core.make("ocean/cartpole", num_envs=64, seed=0, max_steps=3, log_interval=4)
    env.reset()
    counts = []
    for t in range(1, 13):
        *_, infos = env.step(np.zeros(64, dtype=np.int32))
        if t % 4:
            assert infos == []
        else:
            counts.append(infos[0]["n"])
    assert counts == [64.0, 64.0, 128.0]  # truncations at steps 3, 6, 9, 12
    assert env.flush_log() == []


def test_unseeded_envs_differ_and_seeded_envs_repeat():
    first = puffer_core.make("ocean/squared", num_envs=16).reset()[0].copy()
    second = puffer_core.make("ocean/squared", num_envs=16).reset()[0].copy()
    assert not np.array_equal(first, second)
    a = puffer_core.make("ocean/squared", num_envs=16, seed=5).reset()[0].copy()
    b = puffer_core.make("ocean/squared", num_envs=16, seed=5).reset()[0].copy()
    assert np.array_equal(a, b)


def test_instances_have_independent_streams():
    obs, _ = puffer_core.make("ocean/password", num_envs=512, seed=0, length=32).reset()
    assert len({row.tobytes() for row in obs}) == 512


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="render_mode"):
        puffer_core.make("ocean/squared", render_mode="human")
    with pytest.raises(ValueError, match="seed"):
        puffer_core.make("ocean/squared", seed=-1)
    with pytest.raises(ValueError, match="seed"):
        puffer_core.make("ocean/squared", seed=2**64)
    with pytest.raises(ValueError, match="seed"):
        puffer_core.make("ocean/squared").reset(seed=1.5)
    with pytest.raises(ValueError, match="log_interval"):
        puffer_core.make("ocean/squared", log_interval=0)
    with pytest.raises(TypeError, match="must be a number"):
        puffer_core.make("ocean/squared", size="11")
    with pytest.raises(TypeError, match="must be a number"):
        puffer_core.make("ocean/squared", size=True)


def test_on_off_parameters_take_booleans():
    # The reference passes leave_corpse_on_death=True; a 0/1 parameter reads a bool as what it means.
    with_corpses = puffer_core.make("ocean/snake", num_envs=1, leave_corpse_on_death=True)
    without = puffer_core.make("ocean/snake", num_envs=1, leave_corpse_on_death=False)
    assert with_corpses.resolve_params({"leave_corpse_on_death": True})["leave_corpse_on_death"] == 1
    assert without.resolve_params({"leave_corpse_on_death": False})["leave_corpse_on_death"] == 0
    with_corpses.close()
    without.close()
    with pytest.raises(ValueError, match="must have shape"):
        puffer_core.make("ocean/squared", num_envs=2, buf=puffer_core.Buffers.allocate(
            puffer_core.make("ocean/squared", num_envs=1).single_observation_space,
            puffer_core.make("ocean/squared", num_envs=1).single_action_space, 3))


def test_ansi_render_only_where_declared():
    env = puffer_core.make("ocean/cartpole", num_envs=1, render_mode="ansi")
    env.reset()
    with pytest.raises(NotImplementedError, match="ansi"):
        env.render()


def test_save_gif_round_trip(tmp_path):
    imageio = pytest.importorskip("imageio.v3")
    env = puffer_core.make("ocean/pong", num_envs=1, seed=0)
    env.reset()
    frames = []
    for _ in range(12):
        env.step(np.array([1], dtype=np.int32))
        frames.append(env.render())
    path = save_gif(frames, tmp_path / "pong.gif", fps=20)
    loaded = imageio.imread(path, index=None)
    assert loaded.shape[0] == 12 and loaded.shape[1:3] == frames[0].shape[:2]
    with pytest.raises(ValueError, match="uint8"):
        save_gif([np.zeros((4, 4, 3), dtype=np.float32)], tmp_path / "bad.gif")
    with pytest.raises(ValueError, match="no frames"):
        save_gif([], tmp_path / "empty.gif")


@pytest.mark.parametrize("backend", ["serial", "multiprocessing"])
def test_vectorized_matches_direct(backend):
    """Two env objects in a vectorizer step like two direct env objects with seeds seed and seed + 1."""
    kwargs = {"num_envs": 8, "size": 5}
    vec = puffer_core.vector.make("ocean/squared", num_envs=2, backend=backend, seed=10, env_kwargs=kwargs)
    try:
        direct = [puffer_core.make("ocean/squared", seed=10 + i, **kwargs) for i in range(2)]
        obs, _ = vec.reset(seed=10)
        expected = np.concatenate([d.reset(seed=10 + i)[0] for i, d in enumerate(direct)])
        assert np.array_equal(obs, expected)
        rng = np.random.default_rng(0)
        for _ in range(30):
            actions = rng.integers(0, 5, 16, dtype=np.int32)
            obs, rewards, terminals, truncations, _ = vec.step(actions)
            outs = [d.step(actions[8 * i : 8 * (i + 1)]) for i, d in enumerate(direct)]
            assert np.array_equal(obs, np.concatenate([o[0] for o in outs]))
            assert np.array_equal(rewards, np.concatenate([o[1] for o in outs]))
            assert np.array_equal(terminals, np.concatenate([o[2] for o in outs]))
    finally:
        vec.close()


@pytest.mark.parametrize("name", ENV_MODULES)
def test_train_config_loads_in_the_trainer(name):
    config = pytest.importorskip("puffer_trainer.config")
    spec = puffer_core.spec(f"ocean/{name}")
    base = {k: v for k, v in spec.train_config.items() if k not in DEVICE_KINDS}
    # The CPU config, then each device-kind layer over it on its kind of device (the form alone is checked,
    # so "cuda" loads without a GPU).
    for kind in ("cpu", *[k for k in spec.train_config if k in DEVICE_KINDS and k != "cpu"]):
        loaded = config.load_config(f"ocean/{name}", overrides=["--train.device", kind])
        layer = spec.train_config.get(kind, {})
        for section in {*base, *layer}:
            for key, value in {**base.get(section, {}), **layer.get(section, {})}.items():
                got = loaded.env[key] if section == "env" else getattr(getattr(loaded, section), key)
                assert got == value, f"{kind}: {section}.{key}"
