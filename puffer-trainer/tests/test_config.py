"""Config layering, TOML files, CLI overrides, booleans and unknown keys."""

from __future__ import annotations

import pytest

from puffer_trainer.config import Config, ConfigError, apply_overrides, load_config, parse_bool


def test_env_train_config_layers_over_trainer_defaults():
    import puffer_core

    spec = puffer_core.spec("ocean/squared")
    config = load_config("ocean/squared")
    for section, values in (spec.train_config or {}).items():
        for key, value in values.items():
            target = config.env if section == "env" else getattr(config, section)
            got = target[key] if section == "env" else getattr(target, key)
            assert got == value, (section, key)
    # A trainer default the env does not set survives.
    assert config.train.clip_coef == Config("x/y").train.clip_coef


def test_overrides_accept_dashes_underscores_and_equals():
    config = load_config(
        "ocean/squared",
        overrides=[
            "--train.learning-rate", "0.02", "--train.update_epochs=3", "--vec.num-envs=4", "--policy.lstm"
        ],  # fmt: skip
    )
    assert config.train.learning_rate == 0.02
    assert config.train.update_epochs == 3
    assert config.vec.num_envs == 4
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
