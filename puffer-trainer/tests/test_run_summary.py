"""What a run says at its start and end: agent count, deprecated keys, final score and target, line widths."""

from __future__ import annotations

import io
import re

from shell_helpers import BATCH, ENV_ID, TINY, tiny_kwargs

from puffer_trainer import train
from puffer_trainer.cli import main


def test_start_names_the_agent_count_and_the_end_the_score_and_target(tmp_path, capsys):
    code = main(["train", ENV_ID, *TINY, "--run.run-dir", str(tmp_path), "--run.run-name", "s",
                 "--train.total-timesteps", str(3 * BATCH), "--run.score-target", "-1",
                 "--vec.num-envs", "2", "--env.num-envs", "8"])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    # The old key works, with one warning line before anything else.
    assert lines[0].startswith("[puffer] warning: vec.num_envs (override '--vec.num-envs=2') is deprecated")
    start = next(line for line in lines if line.startswith("[puffer] training "))
    assert start == (
        "[puffer] training ocean/squared on cpu: 2 env objects x 8 agents = 16 agents; "
        "batch 256 steps, minibatch 256"
    )
    # A target of -1 is met at the first log line with a score (squared scores -1 or 1 per episode).
    reached = next(line for line in lines if "reached the target -1" in line)
    step = int(re.search(r"at step ([\d,]+)", reached).group(1).replace(",", ""))
    assert 0 < step <= 3 * BATCH
    assert re.fullmatch(
        rf"\[puffer\] final score -?[\d.]+ \(mean over the last log interval\); "
        rf"target -1 first reached at step {step:,} after \d+s",
        lines[-3],
    ), lines[-3]
    assert lines[-2] == f"[puffer] checkpoint {tmp_path / 's' / 'checkpoints' / 'epoch_000004.pt'}"
    assert re.fullmatch(r"\[puffer\] done: [\d,]+ steps, 4 epochs in [\d.]+s \([\d,]+ SPS\)", lines[-1])
    assert max(i for i, line in enumerate(lines) if line.startswith("[puffer] step ")) < len(lines) - 3


def test_a_missed_target_is_reported_and_returned(tmp_path, capsys):
    result = train(
        ENV_ID, total_timesteps=2 * BATCH, run_name="miss", score_target=1e9, **tiny_kwargs(tmp_path)
    )
    out = capsys.readouterr().out
    assert "target 1e+09 not reached" in out
    assert result.score_key == "score" and -1.0 <= result.score <= 1.0
    assert result.target_reached_step is None and result.target_reached_s is None
    # Without a target the summary has the score only.
    result = train(ENV_ID, total_timesteps=2 * BATCH, run_name="none", **tiny_kwargs(tmp_path))
    summary = [line for line in capsys.readouterr().out.splitlines() if "final score" in line]
    assert len(summary) == 1 and "target" not in summary[0]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_dashboard_run_prints_its_summary_below_the_last_frame(tmp_path, monkeypatch):
    from puffer_trainer.run import resolve_config, run

    monkeypatch.setenv("COLUMNS", "140")  # rich's width for a stream that is not a real terminal

    config = resolve_config(ENV_ID, None, tiny_kwargs(tmp_path, total_timesteps=2 * BATCH, run_name="dash",
                                                      log="dashboard"))  # fmt: skip
    stream = FakeTTY()
    run(config, stream=stream, handle_signals=False)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "time split" in text  # the dashboard was drawn
    assert text.rindex("time split") < text.index("final score") < text.index("done: ")


def test_train_help_explains_env_objects_and_agents():
    from puffer_trainer.cli import build_parser

    parser = build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]
    text = train_parser.format_help()
    assert "num-env-objects=1" in text and "num-envs=" not in text.split("--vec.KEY:")[1].split("--policy")[0]
    assert "agents = vec.num-env-objects" in text and "deprecated old name" in text


def test_stop_at_target_ends_the_run_once_the_target_is_reached(tmp_path, capsys):
    # squared scores -1 or 1 per episode: a target of -1 is met at the first log line with a score.
    result = train(
        ENV_ID, total_timesteps=50 * BATCH, run_name="stop", score_target=-1, stop_at_target=True,
        **tiny_kwargs(tmp_path),
    )  # fmt: skip
    assert result.target_reached_step is not None
    assert result.global_step == result.target_reached_step < 50 * BATCH
    assert result.checkpoint is not None and result.checkpoint.exists()
