"""Checks that need puffer-trainer: they run in the trainer's test session (noxfile EXTRA_TEST_PATHS) and are
skipped in this package's own, which never installs the trainer."""

import pytest

import puffer_core


def assert_loaded(loaded, layer: dict) -> None:
    for section, values in layer.items():
        for key, value in values.items():
            got = loaded.env[key] if section == "env" else getattr(getattr(loaded, section), key)
            assert got == value, f"{section}.{key}"


def test_train_config_loads_in_the_trainer():
    config = pytest.importorskip("puffer_trainer.config")
    registered = puffer_core.spec("atari/breakout").train_config
    base = {section: values for section, values in registered.items() if section not in config.DEVICE_KINDS}
    cpu = config.load_config("atari/breakout", overrides=["--train.device", "cpu"])
    assert_loaded(cpu, base)
    assert not cpu.train.cuda_graphs
    # On a GPU the cuda layer applies over the rest (loading the config needs no GPU).
    gpu = config.load_config("atari/breakout", overrides=["--train.device", "cuda"])
    assert_loaded(gpu, base)
    assert_loaded(gpu, registered["cuda"])
    assert gpu.train.cuda_graphs


def test_breakout_trains_end_to_end_on_the_cnn_policy(tmp_path):
    """A few hundred steps on the registered config (shrunk to fit a CPU test): the CNN takes the uint8
    [4, 84, 84] frame stacks, episodes report whole-game scores, a checkpoint is written."""
    run = pytest.importorskip("puffer_trainer.run")
    result = run.train(
        "atari/breakout",
        total_timesteps=1024,
        env={"num_envs": 4, "num_threads": 1},
        train={"update_epochs": 1, "minibatch_size": 128, "torch_threads": 1},
        policy={"hidden_size": 64},
        run={"run_dir": str(tmp_path), "log": "plain", "log_interval_s": 0.0},
    )
    assert result.global_step >= 1024 and result.checkpoint is not None and result.checkpoint.exists()
    encoder = result.policy.encoder
    assert type(encoder).__name__ == "CNNEncoder" and not encoder.channels_last
    assert result.score_key == "score" and result.score >= 0
