"""`puffer eval`: a real checkpoint played on its env, statistics printed, frames saved as a GIF."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
from shell_helpers import BATCH, ENV_ID, tiny_kwargs

from puffer_trainer import train
from puffer_trainer.checkpoint import CheckpointError
from puffer_trainer.cli import main
from puffer_trainer.evaluation import evaluate_checkpoint, write_gif


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs")
    result = train(ENV_ID, total_timesteps=2 * BATCH, run_name="ev", **tiny_kwargs(run_dir))
    return result.checkpoint


def test_eval_renders_a_gif(checkpoint, tmp_path, capsys):
    gif = tmp_path / "squared.gif"
    code = main(["eval", ENV_ID, "--checkpoint", str(checkpoint), "--render", str(gif), "--episodes", "2",
                 "--env.num-envs", "1", "--env.size", "5", "--fps", "20"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "2 episode(s)" in out or "episode(s) in" in out
    assert "episode_return" in out and f"frames to {gif}" in out
    frames = iio.imread(gif, index=None)
    assert frames.ndim == 4 and frames.shape[0] >= 3 and frames.shape[-1] in (3, 4)
    assert frames.dtype == np.uint8 and frames.std() > 0  # real drawings, not blank frames
    assert not np.array_equal(frames[0], frames[-1])  # the agent moved


def test_eval_statistics_and_deterministic_mode(checkpoint):
    result = evaluate_checkpoint(ENV_ID, checkpoint, episodes=4, deterministic=True,
                                 env_overrides={"num_envs": 4})  # fmt: skip
    assert result.episodes >= 4 and result.steps > 0
    assert {"episode_return", "episode_length"} <= set(result.stats)
    assert result.render_path is None


def test_eval_rejects_the_wrong_env_or_a_mismatched_env(checkpoint, capsys):
    with pytest.raises(CheckpointError, match="trained on 'ocean/squared'"):
        evaluate_checkpoint("gym/CartPole-v1", checkpoint, episodes=1)
    # Same env id, but kwargs that change the observation shape: a clear error, not a torch shape error.
    assert main(["eval", ENV_ID, "--checkpoint", str(checkpoint), "--episodes", "1", "--env.size", "9"]) == 2
    assert "does not fit env" in capsys.readouterr().err


def test_eval_of_a_recurrent_policy(tmp_path):
    result = train(ENV_ID, total_timesteps=BATCH, run_name="lstm", policy__lstm=True, lstm_hidden_size=16,
                   **tiny_kwargs(tmp_path))  # fmt: skip
    assert result.policy.is_recurrent
    stats = evaluate_checkpoint(ENV_ID, result.checkpoint, episodes=3, env_overrides={"num_envs": 2})
    assert stats.episodes >= 3 and "episode_length" in stats.stats


def test_write_gif_checks_its_input(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_gif([], tmp_path / "a.gif")
    with pytest.raises(ValueError, match=".gif"):
        write_gif([np.zeros((4, 4, 3), np.uint8)], tmp_path / "a.mp4")
