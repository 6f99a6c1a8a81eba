"""Config layering, TOML files, CLI overrides, booleans and unknown keys."""

from __future__ import annotations

import re

import pytest

from puffer_trainer.config import (
    DEPRECATED_KEYS,
    Config,
    ConfigError,
    apply_overrides,
    load_config,
    parse_bool,
)


def test_env_train_config_layers_over_trainer_defaults():
    import puffer_core

    spec = puffer_core.spec("ocean/squared")
    config = load_config("ocean/squared")
    for section, values in (spec.train_config or {}).items():
        for key, value in values.items():
            target = config.env if section == "env" else getattr(config, section)
            key = DEPRECATED_KEYS.get((section, key), key)  # an old key name sets the new field
            got = target[key] if section == "env" else getattr(target, key)
            assert got == value, (section, key)
    # A trainer default the env does not set survives.
    assert config.train.clip_coef == Config("x/y").train.clip_coef


def test_overrides_accept_dashes_underscores_and_equals():
    config = load_config(
        "ocean/squared",
        overrides=[
            "--train.learning-rate", "0.02", "--train.update_epochs=3", "--vec.num-env-objects=4",
            "--policy.lstm",
        ],  # fmt: skip
    )
    assert config.train.learning_rate == 0.02
    assert config.train.update_epochs == 3
    assert config.vec.num_env_objects == 4
    assert config.policy.lstm is True  # a bare flag switches a boolean on


@pytest.mark.parametrize(
    "text, expected",
    [("true", True), ("False", False), ("1", True), ("0", False), ("yes", True), ("no", False), ("ON", True)],
)
def test_booleans_parse(text, expected):
    config = apply_overrides(Config("x/y"), ["--train.anneal-lr", text])
    assert config.train.anneal_lr is expected
    assert parse_bool(text) is expected


def test_bad_boolean_is_an_error():
    with pytest.raises(ConfigError, match="anneal_lr must be a boolean"):
        apply_overrides(Config("x/y"), ["--train.anneal-lr", "maybe"])


def test_unknown_key_names_the_close_ones():
    with pytest.raises(ConfigError, match="learning_rate"):
        apply_overrides(Config("x/y"), ["--train.learning-rat", "0.1"])
    with pytest.raises(ConfigError, match="'train'"):
        apply_overrides(Config("x/y"), ["--trian.gamma", "0.9"])
    with pytest.raises(ConfigError, match="must name a section"):
        apply_overrides(Config("x/y"), ["--gamma", "0.9"])


def test_wrong_types_are_errors():
    with pytest.raises(ConfigError, match="integer"):
        apply_overrides(Config("x/y"), ["--train.horizon", "3.5"])
    with pytest.raises(ConfigError, match="number"):
        apply_overrides(Config("x/y"), ["--train.gamma", "high"])
    config = apply_overrides(Config("x/y"), ["--train.total-timesteps", "1e6", "--vec.num-workers", "none"])
    assert config.train.total_timesteps == 1_000_000 and isinstance(config.train.total_timesteps, int)
    assert config.vec.num_workers is None


def test_env_kwargs_follow_their_default_types():
    config = Config("x/y", env={"size": 11, "fast": False, "name": "a"})
    apply_overrides(config, ["--env.size", "7", "--env.fast", "yes", "--env.name", "b", "--env.new", "0.5"])
    assert config.env == {"size": 7, "fast": True, "name": "b", "new": 0.5}


def test_toml_file_then_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[train]\nlearning_rate = 0.5\ngamma = 0.9\n[env]\nsize = 5\n[policy]\nlstm = true\n')
    config = load_config("ocean/squared", path, overrides=["--train.gamma", "0.8"])
    assert config.train.learning_rate == 0.5
    assert config.train.gamma == 0.8
    assert config.env["size"] == 5 and config.policy.lstm is True


def test_toml_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config("ocean/squared", bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("ocean/squared", tmp_path / "missing.toml")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[trainer]\ngamma = 0.9\n")
    with pytest.raises(ConfigError, match="unknown config section 'trainer'"):
        load_config("ocean/squared", unknown)


def test_dict_round_trip_is_plain_data():
    config = load_config("ocean/squared", overrides=["--train.seed", "7", "--env.size", "9"])
    data = config.to_dict()
    assert data["train"]["seed"] == 7 and data["env"]["size"] == 9

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        return x is None or isinstance(x, (str, int, float, bool))

    assert plain(data)
    assert Config.from_dict(data) == config
    with pytest.raises(ConfigError, match="gama"):
        Config.from_dict({**data, "train": {"gama": 0.9}})


def test_env_keys_normalize_the_same_on_the_library_and_cli_paths(tmp_path):
    """`--env.num-envs 4` is the env kwarg `num_envs` through `puffer train` and load_config alike."""
    from puffer_trainer.cli import _train, build_parser, split_overrides

    argv = ["train", "ocean/squared", "--env.num-envs", "4", "--env.size=5", "--vec.num-env-objects", "2"]
    rest, overrides = split_overrides(argv)
    library = load_config("ocean/squared", overrides=argv[2:])
    assert library.env["num_envs"] == 4 and library.env["size"] == 5 and "num-envs" not in library.env
    assert library.vec.num_env_objects == 2
    assert load_config("ocean/squared", overrides=overrides) == library
    # The CLI's resolved config, as `puffer train --print-config` prints it, holds the same keys.
    import contextlib
    import io

    out = io.StringIO()
    args = build_parser().parse_args([*rest, "--print-config"])
    with contextlib.redirect_stdout(out):
        assert _train(args, overrides) == 0
    printed = tmp_path / "printed.toml"
    printed.write_text(out.getvalue())
    assert load_config("ocean/squared", printed) == library
    # TOML files and the one-call helper's dicts normalize too: env kwargs are Python identifiers.
    path = tmp_path / "run.toml"
    path.write_text('[env]\nnum-envs = 3\n[train]\nlearning-rate = 0.5\n')
    from_file = load_config("ocean/squared", path)
    assert from_file.env["num_envs"] == 3 and "num-envs" not in from_file.env
    assert from_file.train.learning_rate == 0.5


def test_automatic_batch_and_minibatch_sizes_fit_any_agent_count():
    from puffer_trainer.config import AUTO_MINIBATCH, TrainConfig, batch_sizes

    one = batch_sizes(TrainConfig(), 1)  # gym/CartPole-v1 with the trainer defaults: one agent
    assert (one.batch, one.minibatch, one.segments, one.minibatch_segments) == (64, 64, 1, 1)
    assert any("automatic" in note and "minibatch" in note for note in one.notes)
    many = batch_sizes(TrainConfig(), 1024)
    assert many.batch == 1024 * 64 and many.minibatch == AUTO_MINIBATCH
    odd = batch_sizes(TrainConfig(horizon=48), 1000)
    assert odd.minibatch % 48 == 0 and odd.minibatch <= AUTO_MINIBATCH
    # Sizes that are set are used as they are, with no note.
    fixed = batch_sizes(TrainConfig(horizon=16, batch_size=512, minibatch_size=128), 3)
    assert (fixed.batch, fixed.minibatch, fixed.notes) == (512, 128, ())


@pytest.mark.parametrize(
    ("settings", "agents", "match"),
    [
        ({"minibatch_size": 8192}, 1, r"minibatch_size \(8192\).*at most the batch \(64 steps, automatic"),
        ({"batch_size": 256, "minibatch_size": 512}, 4, r"minibatch_size \(512\).*batch \(256 steps"),
        ({"batch_size": 100}, 4, r"batch_size \(100\) must be a multiple of train.horizon \(64\)"),
        ({"horizon": 16, "minibatch_size": 24}, 4, r"minibatch_size \(24\) must be a multiple"),
        ({"minibatch_size": -1}, 4, r"minibatch_size must be >= 0"),
        ({"horizon": 1}, 4, r"horizon must be >= 2"),
    ],
)
def test_inconsistent_explicit_sizes_are_clear_errors(settings, agents, match):
    from puffer_trainer.config import TrainConfig, batch_sizes

    with pytest.raises(ConfigError, match=match):
        batch_sizes(TrainConfig(**settings), agents)


@pytest.mark.parametrize(
    "override, message",
    [
        ("--run.run-name=../../x", "run.run_name must be a single folder name"),
        ("--run.run-name=/tmp/abs", "run.run_name must be a single folder name"),
        ("--run.run-name=a/b", "run.run_name must be a single folder name"),
        ("--run.run-name=..", "run.run_name must be a single folder name"),
        ("--train.total-timesteps=-100", "train.total_timesteps must be > 0, got -100"),
        ("--train.device=tpu", "train.device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'tpu'"),
        ("--train.learning-rate=nan", "train.learning_rate must be a finite number"),
        ("--train.update-epochs=0", "train.update_epochs must be >= 1"),
    ],
)
def test_values_no_run_can_use_are_refused_up_front(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config("ocean/squared", overrides=[override])


def test_a_plain_run_name_is_accepted():
    assert load_config("ocean/squared", overrides=["--run.run-name=my-run_2"]).run.run_name == "my-run_2"


# -- vec.num_envs -> vec.num_env_objects ------------------------------------------------------------------
def test_old_vec_num_envs_key_sets_num_env_objects_with_one_warning(tmp_path):
    config = load_config("ocean/squared", overrides=["--vec.num-envs", "3", "--env.num-envs", "8"])
    assert config.vec.num_env_objects == 3 and config.env["num_envs"] == 8
    (warning,) = config.warnings
    assert "vec.num_envs" in warning and "vec.num_env_objects" in warning and "'--vec.num-envs'" in warning
    assert "\n" not in warning
    data = config.to_dict()
    assert data["vec"]["num_env_objects"] == 3 and "num_envs" not in data["vec"] and "warnings" not in data
    # A TOML file written for 0.1.0 keeps working; the warning names the file.
    path = tmp_path / "old.toml"
    path.write_text("[vec]\nnum_envs = 2\nnum-workers = 2\n")
    config = load_config("ocean/squared", path)
    assert (config.vec.num_env_objects, config.vec.num_workers) == (2, 2)
    assert len(config.warnings) == 1 and str(path) in config.warnings[0]
    # The new name warns about nothing; a saved config (a checkpoint's) restores silently.
    assert load_config("ocean/squared", overrides=["--vec.num-env-objects=2"]).warnings == []
    restored = Config.from_dict({"env_id": "x/y", "vec": {"num_envs": 5}})
    assert restored.vec.num_env_objects == 5 and restored.warnings == []


def test_a_registered_train_config_with_the_old_key_warns_its_plugin_not_the_user(monkeypatch):
    import dataclasses

    import puffer_core

    spec = dataclasses.replace(puffer_core.spec("ocean/squared"), train_config={"vec": {"num_envs": 2}})
    monkeypatch.setattr(puffer_core, "spec", lambda env_id: spec)
    with pytest.warns(DeprecationWarning, match="train_config of ocean/squared"):
        config = load_config("ocean/squared")
    assert config.vec.num_env_objects == 2 and config.warnings == []  # nothing printed at every run


def test_vec_num_envs_attribute_and_train_keyword_still_work(tmp_path):
    from puffer_trainer.run import resolve_config

    config = Config("x/y")
    with pytest.warns(DeprecationWarning, match="num_env_objects"):
        config.vec.num_envs = 4
    assert config.vec.num_env_objects == 4
    with pytest.warns(DeprecationWarning):
        assert config.vec.num_envs == 4
    resolved = resolve_config("ocean/squared", None, {"num_envs": 2})
    assert resolved.vec.num_env_objects == 2 and "train(num_envs=...)" in resolved.warnings[0]
    resolved = resolve_config("ocean/squared", None, {"vec__num_envs": 2, "env": {"num_envs": 7}})
    assert resolved.vec.num_env_objects == 2 and resolved.env["num_envs"] == 7


def test_device_auto_resolves_and_says_why(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = load_config("ocean/squared")
    assert config.train.device == "cpu"
    assert config.device_note == "train.device auto: no CUDA GPU visible to torch"
    explicit = load_config("ocean/squared", overrides=["--train.device", "cpu"])
    assert explicit.device_note == "set by the config or an override, not auto"


def test_an_envs_registered_cuda_layer_applies_on_a_gpu_only(monkeypatch, tmp_path):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu = load_config("ocean/breakout")
    assert (cpu.train.device, cpu.policy.lstm_hidden_size, cpu.env["num_envs"], cpu.vec.backend) == (
        "cpu", 64, 8192, "serial"
    )
    gpu = load_config("ocean/breakout", overrides=["--train.device", "cuda"])
    agents = gpu.env["num_envs"] * gpu.vec.num_env_objects  # 8 objects x 1024, as the reference's
    assert (gpu.train.device, gpu.policy.lstm_hidden_size, agents, gpu.train.optimizer, gpu.vec.backend) == (
        "cuda", 128, 8192, "muon", "multiprocessing"
    )
    assert gpu.train.cuda_graphs and not cpu.train.cuda_graphs
    assert "registered cuda config applies" in gpu.device_note
    # The user's own values still win over the layer, from the command line or a file.
    mine = load_config("ocean/breakout", overrides=["--train.device=cuda", "--train.learning-rate=0.01"])
    assert mine.train.learning_rate == 0.01 and mine.policy.lstm_hidden_size == 128
    file = tmp_path / "gpu.toml"
    file.write_text('[train]\ndevice = "cuda:1"\nhorizon = 32\n')
    from_file = load_config("ocean/breakout", file)
    got = (from_file.train.device, from_file.train.horizon, from_file.policy.lstm_hidden_size)
    assert got == ("cuda:1", 32, 128)
    # With CUDA visible, auto picks it and the layer with it.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake GPU")
    auto = load_config("ocean/breakout")
    assert auto.train.device == "cuda" and auto.policy.lstm_hidden_size == 128
    assert auto.device_note.startswith("train.device auto: CUDA is available (Fake GPU)")


def test_cuda_graphs_on_cpu_are_ignored_with_a_note():
    from puffer_trainer import Trainer

    config = load_config("ocean/squared", overrides=["--train.cuda-graphs", "true", "--train.device", "cpu"])
    config.env.update({"num_envs": 8})
    trainer = Trainer(config)
    try:
        assert any("train.cuda_graphs is ignored" in note and "cpu" in note for note in trainer.notes)
        trainer.evaluate()  # the eager rollout
        assert not trainer._graphs
    finally:
        trainer.close()


def test_automatic_torch_threads_use_the_cores_the_env_workers_leave(monkeypatch):
    import os

    from puffer_trainer.trainer import _choose_threads

    config = load_config("ocean/squared", overrides=["--train.device", "cpu"])
    assert config.train.torch_threads == 0  # automatic
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    # (learning, collection): all free cores learn; with the env in this process, collection uses them too,
    # beside env worker processes at most half of them
    assert _choose_threads(config, env_workers=0, world_size=1) == (8, 8)
    assert _choose_threads(config, env_workers=4, world_size=1) == (4, 2)
    assert _choose_threads(config, env_workers=2, world_size=2) == (2, 1)  # 4 cores per rank
    assert _choose_threads(config, env_workers=8, world_size=1) == (1, 1)  # never below one
    config.train.torch_threads = 3  # set by the user: kept
    assert _choose_threads(config, env_workers=0, world_size=1) == (3, 3)
    assert _choose_threads(config, env_workers=2, world_size=1) == (3, 3)
