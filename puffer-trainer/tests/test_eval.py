"""`puffer eval`: a real checkpoint played on its env, statistics printed, frames saved as a GIF."""

from __future__ import annotations

import re

import imageio.v3 as iio
import numpy as np
import pytest
from shell_helpers import BATCH, ENV_ID, tiny_kwargs

from puffer_trainer import train
from puffer_trainer.checkpoint import CheckpointError
from puffer_trainer.cli import main
from puffer_trainer.evaluation import EpisodeTally, draw_text, evaluate_checkpoint, text_mask, write_gif


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
    # Every frame shows the drawn agent's running return; squared pays +1 (target) or -1 (off the grid) once.
    shown = [read_return(frame) for frame in frames]
    assert shown[0] == 0 and set(shown) <= {-1, 0, 1} and set(shown) != {0}, shown


def read_return(frame: np.ndarray) -> int:
    """The number in the frame's ``RETURN n`` overlay, read back by matching the overlay font."""
    lit = frame[..., :3].mean(-1) > 127
    for value in (0, 1, -1, 2, -2):
        expected = draw_text(np.full_like(frame[..., :3], 128), f"RETURN {value}")
        box = (expected != 128).any(-1)  # the overlay's box
        if np.array_equal(lit[box], expected[box][:, 0] > 127):
            return value
    raise AssertionError("no RETURN overlay found in the frame")


def test_overlay_font_draws_text_in_the_corner_only():
    frame = np.full((40, 60, 3), 77, np.uint8)
    out = draw_text(frame, "RETURN -12.5")
    assert out.shape == frame.shape and frame.max() == 77  # the input is left alone
    mask = text_mask("RETURN -12.5")
    assert mask.shape == (5, 4 * 12 - 1)
    # 60 px wide: 2x would take 98 px, so 1:1; glyph pixels white, box black, the rest untouched.
    assert np.array_equal(out[1:6, 1:48, 0] == 255, mask)
    assert (out[0, :49] == 0).all() and (out[7:, :] == 77).all() and (out[:, 50:] == 77).all()
    wide = draw_text(np.zeros((100, 300, 3), np.uint8), "1")
    assert wide[2:12, 2:8, 0].astype(bool).sum() == 2 * 2 * text_mask("1").sum()  # scaled by 2
    with pytest.raises(ValueError, match="no 'x'"):
        text_mask("x")


def test_eval_statistics_and_deterministic_mode(checkpoint):
    result = evaluate_checkpoint(ENV_ID, checkpoint, episodes=4, deterministic=True,
                                 env_overrides={"num_envs": 4})  # fmt: skip
    assert result.episodes == 4 and result.steps > 0
    assert {"episode_return", "episode_length"} <= set(result.stats)
    assert result.render_path is None


@pytest.mark.parametrize("episodes", [1, 10, 37])
def test_eval_reports_exactly_the_episodes_asked_for(checkpoint, episodes, capsys):
    # 64 agents finish several episodes in one step, and the env reports them as averaged info dicts.
    code = main(["eval", ENV_ID, "--checkpoint", str(checkpoint), "--episodes", str(episodes),
                 "--env.num-envs", "64", "--env.size", "5"])  # fmt: skip
    assert code == 0
    assert f": {episodes} episode(s) in " in capsys.readouterr().out


def test_eval_says_when_max_steps_cut_it_short(checkpoint, capsys):
    code = main(["eval", ENV_ID, "--checkpoint", str(checkpoint), "--episodes", "50", "--max-steps", "3",
                 "--env.num-envs", "1", "--env.size", "5"])  # fmt: skip
    out = capsys.readouterr().out
    finished = int(re.search(r": (\d) episode\(s\) in 3 steps", out).group(1))  # one env copy: at most 3
    assert code == 0 and f"only {finished} of 50 episode(s) finished within --max-steps 3" in out


def test_tally_averages_exactly_the_first_n_episodes():
    tally = EpisodeTally(5)
    tally.add([{"score": 1.0, "episode_return": 2.0, "n": 3.0}])
    assert not tally.full and tally.count == 3
    # The second dict averages 4 episodes; 2 are needed, and its mean stands for them.
    tally.add([{"score": 0.0, "episode_return": 4.0, "n": 4.0}, {"score": 9.0, "n": 1.0}])
    assert tally.full and tally.count == 5
    assert tally.means() == pytest.approx({"score": 0.6, "episode_return": (3 * 2.0 + 2 * 4.0) / 5})
    tally.add([{"score": 100.0}])  # later episodes are ignored
    assert tally.means()["score"] == pytest.approx(0.6)
    one = EpisodeTally(2)
    one.add([{"episode_length": 3.0}, {"episode_length": 5.0, "extra": 1.0}, {"episode_length": 99.0}])
    assert one.count == 2 and one.means() == {"episode_length": 4.0, "extra": 1.0}


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
    assert stats.episodes == 3 and "episode_length" in stats.stats


def test_write_gif_checks_its_input(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_gif([], tmp_path / "a.gif")
    with pytest.raises(ValueError, match=".gif"):
        write_gif([np.zeros((4, 4, 3), np.uint8)], tmp_path / "a.mp4")
