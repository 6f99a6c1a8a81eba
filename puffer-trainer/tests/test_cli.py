"""The `puffer` command line: overrides, booleans, --config files, `puffer list` with a broken plugin."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from shell_helpers import write_plugin

from puffer_trainer.cli import main, split_overrides
from puffer_trainer.config import ConfigError, load_config


def test_split_overrides_normalizes_every_form():
    rest, overrides = split_overrides(
        [
            "train", "gym/CartPole-v1", "--train.learning-rate", "0.01", "--wandb", "--vec.num-envs=4",
            "--train.ent-coef", "-0.01", "--train.compile", "--resume", "latest",
            "--train.anneal-lr", "false", "--train.bf16",
        ]
    )  # fmt: skip
    assert rest == ["train", "gym/CartPole-v1", "--wandb", "--resume", "latest"]
    assert overrides == [
        "--train.learning-rate=0.01",
        "--vec.num-envs=4",
        "--train.ent-coef=-0.01",  # a negative number is a value, not an option
        "--train.compile=true",  # a bare flag followed by another option is true
        "--train.anneal-lr=false",
        "--train.bf16=true",  # a bare flag at the end is true
    ]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["--train.anneal-lr", "false"], False),
        (["--train.anneal-lr=0"], False),
        (["--train.anneal-lr", "no"], False),
        (["--train.anneal_lr", "yes"], True),
        (["--train.anneal-lr"], True),
    ],
)
def test_booleans_parse_through_the_cli(words, expected, capsys):
    first = "0" if expected else "true"  # the last occurrence wins
    code = main(["train", "gym/CartPole-v1", "--print-config", "--train.anneal-lr", first, *words])
    assert code == 0
    config = tomllib.loads(capsys.readouterr().out)
    assert config["train"]["anneal_lr"] is expected


def test_print_config_layers_file_then_overrides_and_flags(tmp_path, capsys):
    file = tmp_path / "my.toml"
    file.write_text(
        textwrap.dedent(
            """
            [train]
            learning_rate = 0.5
            gamma = 0.9
            [vec]
            num_envs = 3
            """
        )
    )
    code = main(
        ["train", "gym/CartPole-v1", "--config", str(file), "--train.learning-rate", "0.01", "--wandb",
         "--log", "plain", "--print-config"]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    config = tomllib.loads(captured.out)
    assert config["env_id"] == "gym/CartPole-v1"
    assert config["train"]["learning_rate"] == 0.01  # the override beats the file
    assert config["train"]["gamma"] == 0.9  # the file beats the defaults
    assert config["vec"]["num_env_objects"] == 3  # an old file's vec.num_envs, read under its new name
    assert "warning: vec.num_envs" in captured.err and "vec.num_env_objects" in captured.err
    assert config["run"]["wandb"] is True
    assert config["run"]["log"] == "plain"
    # The printed config is itself a valid --config file that resolves to the same values.
    again = tmp_path / "again.toml"
    again.write_text(tomllib_dump_roundtrip(config))
    assert load_config("gym/CartPole-v1", again).to_dict()["train"] == config["train"]


def tomllib_dump_roundtrip(config: dict) -> str:
    from puffer_trainer.run_folder import to_toml

    return to_toml(config)


def test_env_registered_defaults_are_the_base(capsys):
    code = main(["train", "ocean/squared", "--print-config"])
    assert code == 0
    config = tomllib.loads(capsys.readouterr().out)
    import puffer_core

    train_config = puffer_core.spec("ocean/squared").train_config or {}
    for key, value in train_config.get("train", {}).items():
        assert config["train"][key] == value


def test_unknown_override_is_a_clear_error(capsys):
    code = main(["train", "gym/CartPole-v1", "--train.learning-rat", "0.1", "--print-config"])
    assert code == 2
    err = capsys.readouterr().err
    assert "learning_rat" in err and "learning_rate" in err and "Traceback" not in err


def test_bad_boolean_and_unknown_env_are_clear_errors(capsys):
    assert main(["train", "gym/CartPole-v1", "--train.anneal-lr", "maybe", "--print-config"]) == 2
    assert "anneal_lr" in capsys.readouterr().err
    assert main(["train", "ocean/squarred", "--print-config"]) == 2
    assert "ocean/squared" in capsys.readouterr().err  # the close match is suggested
    with pytest.raises(ConfigError):
        load_config("gym/CartPole-v1", overrides=["--nosection", "1"])


def test_list_shows_envs_and_broken_plugins(tmp_path, monkeypatch, capsys):
    """A plugin whose module fails to import is listed with its error, and the others still show."""
    from puffer_core.registry import default_registry

    write_plugin(tmp_path, "broken_thing", "raise RuntimeError('plugin exploded')")
    monkeypatch.syspath_prepend(str(tmp_path))  # installs the broken distribution for this test only
    default_registry.cache_clear()
    try:
        assert main(["list"]) == 0
    finally:
        default_registry.cache_clear()
    out = capsys.readouterr().out
    assert "ocean/squared" in out and "ocean/breakout" in out
    assert "1 plugin problem(s)" in out
    assert "broken_thing" in out and "plugin exploded" in out


def test_a_plugin_claiming_an_ocean_id_disables_only_that_id(tmp_path, monkeypatch, capsys):
    from puffer_core.registry import default_registry

    write_plugin(
        tmp_path,
        "clash",
        "import puffer_core\n"
        "@puffer_core.hookimpl\n"
        "def puffer_env_specs():\n"
        "    return [puffer_core.EnvSpec('ocean/squared', creator=print)]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    default_registry.cache_clear()
    try:
        assert main(["list"]) == 0
        out = capsys.readouterr().out
        assert main(["train", "ocean/cartpole", "--print-config"]) == 0
        capsys.readouterr()
        assert main(["train", "ocean/squared", "--print-config"]) == 2
        err = capsys.readouterr().err
    finally:
        default_registry.cache_clear()
    assert "ocean/cartpole" in out and "1 plugin problem(s)" in out
    assert "'ocean/squared' is registered by 2 plugins" in out and "'clash'" in out
    assert "ocean/squared" in err and "Traceback" not in err


def test_list_names_the_hook_a_misnamed_implementation_should_have(tmp_path, monkeypatch, capsys):
    """pluggy skips a hook implementation that matches no spec: puffer list reports it instead."""
    from puffer_core.registry import default_registry

    write_plugin(
        tmp_path,
        "typo",
        "import puffer_core\n"
        "@puffer_core.hookimpl\n"
        "def puffer_env_spec():\n"
        "    return []\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    default_registry.cache_clear()
    try:
        assert main(["list"]) == 0
    finally:
        default_registry.cache_clear()
    out = capsys.readouterr().out
    assert "ocean/squared" in out and "1 plugin problem(s)" in out
    expected = (
        "typo: hook implementation 'puffer_env_spec' matches no hook spec: "
        "did you mean 'puffer_env_specs'?"
    )
    assert expected in out


def test_list_takes_no_overrides(capsys):
    with pytest.raises(SystemExit) as info:
        main(["list", "--train.learning-rate", "1"])
    assert info.value.code == 2


def test_importing_has_no_side_effects():
    """Importing the CLI and run modules installs no signal handler and parses no argv."""
    code = (
        "import signal, sys\n"
        "before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}\n"
        "sys.argv = ['x', '--bogus']\n"
        "import puffer_trainer, puffer_trainer.cli, puffer_trainer.run, puffer_trainer.distributed\n"
        "import puffer_trainer.logging.dashboard, puffer_trainer.checkpoint, puffer_trainer.autotune\n"
        "after = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}\n"
        "assert before == after, (before, after)\n"
        "import matplotlib; assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_train_helper_keyword_overrides(tmp_path):
    """`train(env_id, config, **overrides)` resolves overrides the same way as the command line."""
    from puffer_trainer.run import resolve_config

    file = tmp_path / "c.toml"
    file.write_text("[train]\nlearning_rate = 0.5\ngamma = 0.9\n")
    config = resolve_config(
        "gym/CartPole-v1", file,
        {"learning_rate": 0.01, "vec__batch_size": 1, "train": {"horizon": 8},
         "env": {"sutton_barto_reward": True}, "anneal_lr": "false"},
    )  # fmt: skip
    assert config.train.learning_rate == 0.01 and config.train.gamma == 0.9 and config.train.horizon == 8
    assert config.vec.batch_size == 1 and config.train.anneal_lr is False
    assert config.env == {"sutton_barto_reward": True}
    again = resolve_config("gym/CartPole-v1", config, {"gamma": 0.5})
    assert again.train.gamma == 0.5 and config.train.gamma == 0.9  # the caller's Config is not modified
    with pytest.raises(ConfigError, match="ambiguous.*train__batch_size"):
        resolve_config("gym/CartPole-v1", None, {"batch_size": 4})
    with pytest.raises(ConfigError, match="learning_rate"):
        resolve_config("gym/CartPole-v1", None, {"learning_rat": 4})
    with pytest.raises(ConfigError, match="not 'gym/CartPole-v1'"):
        resolve_config("gym/CartPole-v1", resolve_config("ocean/squared"), {})


def test_train_works_with_the_defaults_of_an_env_without_a_train_config(tmp_path):
    """`puffer train gym/CartPole-v1`: one agent, so the batch is 64 steps and the minibatch must follow."""
    from shell_helpers import puffer

    proc = puffer("train", "gym/CartPole-v1", "--train.total-timesteps", "2000", cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "train.minibatch_size is automatic: 64 steps" in proc.stdout  # the derived size is shown
    assert "done: " in proc.stdout
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "checkpoints" / "latest.pt").is_file()


def test_explicitly_inconsistent_sizes_are_a_clear_error(tmp_path, capsys):
    argv = ["train", "gym/CartPole-v1", "--train.minibatch-size", "8192", "--run.run-dir", str(tmp_path)]
    code = main(argv)
    assert code == 2
    err = capsys.readouterr().err
    assert "train.minibatch_size (8192)" in err and "at most the batch (64 steps" in err, err
    assert "Traceback" not in err and not any(tmp_path.iterdir())  # no run folder for a run that never began


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "ocean/squared", "--checkpoint", "x.pt", "--fps", "0"], "--fps must be a positive number"),
        (["autotune", "ocean/squared", "--budget", "nan"], "--budget must be a positive number"),
        (["autotune", "ocean/squared", "--trial", "-1"], "--trial must be a positive number"),
    ],
)
def test_bad_numbers_are_refused_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_a_folder_as_config_file_is_one_line(tmp_path, capsys):
    assert main(["train", "ocean/squared", "--config", str(tmp_path), "--print-config"]) == 2
    err = capsys.readouterr().err
    assert f"config file {str(tmp_path)!r} cannot be read" in err and "Traceback" not in err


ENV_THAT_RAISES = """
import numpy as np
from gymnasium import spaces
import puffer_core

class Fragile(puffer_core.PufferEnv):
    def __init__(self, buf=None, seed=None, fail_in="step"):
        self.single_observation_space = spaces.Box(0, 1, (2,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.num_agents = 1
        super().__init__(buf)
        self.fail_in = fail_in
        if fail_in == "init":
            raise RuntimeError("no licence for this simulator")

    def reset(self, seed=None):
        return self.observations, []

    def step(self, actions):
        raise ZeroDivisionError("physics blew up")

@puffer_core.hookimpl
def puffer_env_specs():
    return [puffer_core.EnvSpec("fragile/env", creator=Fragile)]
"""


FAILURES = [("init", "RuntimeError: no licence"), ("step", "ZeroDivisionError")]


@pytest.mark.parametrize("fail_in, message", FAILURES)
def test_an_env_that_raises_is_one_line_naming_its_code(tmp_path, monkeypatch, capsys, fail_in, message):
    from puffer_core.registry import default_registry

    write_plugin(tmp_path, "fragile", ENV_THAT_RAISES)
    monkeypatch.syspath_prepend(str(tmp_path))
    default_registry.cache_clear()
    try:
        code = main(["train", "fragile/env", f"--env.fail-in={fail_in}", "--run.run-dir", str(tmp_path),
                     "--train.total-timesteps", "1000", "--run.log", "plain"])  # fmt: skip
    finally:
        default_registry.cache_clear()
    err = capsys.readouterr().err
    assert code == 1 and f"the env raised {message}" in err and "fragile_mod.py:" in err
    assert "Traceback" not in err
