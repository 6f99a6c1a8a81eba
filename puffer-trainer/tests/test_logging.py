"""What users see: plain log lines, the rich dashboard, metrics JSONL and the learning-curve PNG."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import sys

import pytest

from puffer_trainer.logging import Snapshot, make_console_logger
from puffer_trainer.logging.dashboard import Dashboard
from puffer_trainer.logging.metrics import MetricsWriter, plot_curve, read_metrics
from puffer_trainer.logging.plain import LINE_WIDTH, PlainLogger, format_line
from puffer_trainer.logging.wandb import choose_mode


def snapshot(step: int = 12_288, **episode: float) -> Snapshot:
    return Snapshot(
        env_id="ocean/squared", run_name="test_run", global_step=step, total_timesteps=100_000, epoch=3,
        elapsed_s=10.0, sps=4_120.0, timings={"env": 4.0, "inference": 3.0, "copy": 0.5, "learn": 2.0},
        episode=episode or {"episode_return": 22.5, "episode_length": 40.0},
        losses={"policy_loss": 0.01, "value_loss": 0.5, "entropy": 1.2, "learning_rate": 3e-4},
    )  # fmt: skip


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_mode_picks_plain_off_a_terminal_and_dashboard_on_one():
    assert isinstance(make_console_logger("auto", io.StringIO()), PlainLogger)
    assert isinstance(make_console_logger("auto", FakeTTY()), Dashboard)
    assert isinstance(make_console_logger("plain", FakeTTY()), PlainLogger)
    with pytest.raises(ValueError, match="run.log"):
        make_console_logger("fancy", io.StringIO())


def test_plain_line_has_progress_eta_score_and_losses():
    line = format_line(snapshot())
    # ETA: (100k - 12288 steps) / 4120 SPS = 21 s.
    for part in ("step 12.3k/100k (12%)", "sps 4120", "10s, ETA 21s", "return 22.5", "length 40",
                 "policy_loss 0.01", "value_loss 0.5"):  # fmt: skip
        assert part in line, (part, line)
    stream = io.StringIO()
    logger = PlainLogger(stream)
    logger.log(snapshot())
    logger.message("hello")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("[puffer] step") and lines[1] == "[puffer] hello"
    assert "\x1b[" not in stream.getvalue()  # no terminal control codes in files/CI logs


def test_plain_line_shows_the_score_first_and_the_time_split_when_there_is_room():
    roomy = Snapshot(
        env_id="e", run_name="r", global_step=5, total_timesteps=10, epoch=1, elapsed_s=1.0, sps=5.0,
        timings={"env": 0.4, "learn": 0.5}, episode={"score": 0.25}, losses={},
    )  # fmt: skip
    line = format_line(roomy)
    assert line == "step 5/10 (50%) | sps 5 | 1s, ETA 1s | epoch 1 | score 0.25 | env 40% learn 50% other 10%"
    # The env's score comes before the return it duplicates; no SPS yet means no ETA yet.
    crowded = format_line(snapshot(score=0.5, episode_return=3.0, episode_length=9.0))
    assert crowded.index("score 0.5") < crowded.index("length 9")
    waiting = dataclasses.replace(snapshot(), sps=0.0)
    assert "ETA ?" in format_line(waiting)
    # value_loss does not fit: entropy, shorter but after it, is left out too (lines keep their columns).
    losses = {"policy_loss": 0.01, "value_loss": 1.23e-7, "entropy": 1.2}
    tight = dataclasses.replace(snapshot(score=0.5, episode_length=99.5), losses=losses)
    line = format_line(tight)
    assert line.endswith("| score 0.5 | length 99.5 | policy_loss 0.01"), line


def test_plain_output_never_exceeds_120_columns():
    many = {f"metric_with_a_long_name_{i}": 1234.5 + i for i in range(20)}
    losses = {f"loss_term_{i}": 0.001 * i for i in range(20)}
    huge = Snapshot(
        env_id="e", run_name="r", global_step=123_456_789_012, total_timesteps=999_999_999_999, epoch=10**9,
        elapsed_s=10**6, sps=1e-3, timings={f"phase_{i}": 1.0 for i in range(12)},
        episode={"score": -1.23456e-7, **many}, losses=losses,
    )  # fmt: skip
    stream = io.StringIO()
    logger = PlainLogger(stream)
    logger.log(huge)
    logger.log(snapshot())
    logger.message("done: " + "word " * 60 + "/a/path/that/is/rather/long/checkpoints/latest.pt")
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 5
    assert all(len(line) <= LINE_WIDTH == 120 for line in lines), max(lines, key=len)
    assert lines[0].startswith("[puffer] step 123G/1T (12%) | sps 1.00e-03 | 11d13h, ETA >99d | ")
    assert "score -1.23e-07" in lines[0]
    assert lines[-1].endswith("/a/path/that/is/rather/long/checkpoints/latest.pt")  # paths are not cut


def test_dashboard_draws_every_section():
    stream = FakeTTY()
    dashboard = Dashboard(stream)
    dashboard.console.width = 140
    dashboard.log(snapshot())
    dashboard.message("checkpoint saved")
    dashboard.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    for part in ("ocean/squared", "SPS", "epoch 3", "time split", "inference", "episodes", "episode_return",
                 "losses", "policy_loss", "learning_rate", "test_run"):  # fmt: skip
        assert part in text, part


def test_metrics_jsonl_and_curve_png(tmp_path):
    writer = MetricsWriter(tmp_path / "metrics.jsonl", tmp_path / "curve.png")
    for step in range(1, 6):
        writer.log(snapshot(step * 1000, episode_return=float(step), score=step / 10))
    writer.log(snapshot(6000, episode_return=float("nan")))
    path = writer.draw()
    writer.close()
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records] == [1000, 2000, 3000, 4000, 5000, 6000]
    assert records[2]["episode/episode_return"] == 3.0 and records[2]["loss/policy_loss"] == 0.01
    assert records[2]["time/env"] == 4.0 and records[2]["sps"] == 4120.0
    assert records[-1]["episode/episode_return"] is None  # non-finite values stay valid JSON
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        json.loads(line)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    # A resumed run appends to the same file.
    again = MetricsWriter(tmp_path / "metrics.jsonl")
    again.log(snapshot(7000))
    again.close()
    assert len(read_metrics(tmp_path / "metrics.jsonl")) == 7


def test_dashboard_end_leaves_the_last_frame_above_later_messages():
    stream = FakeTTY()
    dashboard = Dashboard(stream)
    dashboard.console.width = 140
    dashboard.log(snapshot(1000))
    dashboard.log(snapshot(2000))
    dashboard.end()
    dashboard.message("done: the summary")
    dashboard.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert text.rindex("time split") < text.index("done: the summary")


def test_curve_has_a_title_a_target_line_and_a_time_axis():
    from puffer_trainer.logging.metrics import curve_figure

    records = [
        {"step": 1000 * i, "elapsed_s": 2.0 * i, "episode/episode_return": float(i), "episode/score": i / 10,
         "episode/episode_length": 50.0}
        for i in range(1, 8)
    ]  # fmt: skip
    figure = curve_figure(records, title="ocean/squared · run1", target=0.5)
    assert figure.get_suptitle() == "ocean/squared · run1"
    panels = [ax for ax in figure.axes if ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in panels] == ["episode return", "score", "episode length"]  # no duplicate
    # The target is drawn on the score's panel (the env logs a score), not on the return's.
    dashed = {ax.get_ylabel(): [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"] for ax in panels}
    assert not dashed["episode return"] and not dashed["episode length"]
    (line,) = dashed["score"]
    assert list(line.get_ydata()) == [0.5, 0.5]
    reached = [ln for ln in panels[1].get_lines() if ln.get_marker() == "o"]
    assert list(reached[0].get_xdata()) == [5000]  # first record with score >= 0.5
    # A secondary x-axis in wall-clock seconds maps step 3000 to 6 s.
    (top,) = [child for child in panels[0].child_axes]
    assert top.get_xlabel() == "wall-clock seconds"
    assert top._functions[0](3000.0) == pytest.approx(6.0)
    assert top._functions[1](6.0) == pytest.approx(3000.0)
    # Without a score metric the target applies to the return; without a target no line at all.
    plain = [{k: v for k, v in r.items() if k != "episode/score"} for r in records]
    figure = curve_figure(plain, target=4.0)
    assert [ln.get_ydata()[0] for ln in figure.axes[0].get_lines() if ln.get_linestyle() == "--"] == [4.0]
    figure = curve_figure(records)
    assert not any(ln.get_linestyle() == "--" for ax in figure.axes for ln in ax.get_lines())


def test_a_resumed_metrics_file_keeps_its_time_and_drops_later_records(tmp_path):
    path = tmp_path / "metrics.jsonl"
    writer = MetricsWriter(path)
    for step, seconds in ((100, 1.0), (200, 2.5), (300, 4.0)):
        writer.log(dataclasses.replace(snapshot(step), elapsed_s=seconds))
    writer.close()
    resumed = MetricsWriter(path, resume_step=200)  # the checkpoint was written at step 200
    resumed.close()
    assert [r["step"] for r in resumed.resumed_records] == [100, 200]
    assert resumed.resumed_elapsed_s == 2.5  # the resumed run's clock continues from there
    assert MetricsWriter(tmp_path / "new.jsonl").resumed_elapsed_s == 0.0


def test_curve_without_episodes_and_torn_last_line(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"step": 1, "sps": 10}\n{"step": 2, "sp')
    records = read_metrics(tmp_path / "m.jsonl")
    assert records == [{"step": 1, "sps": 10}]
    plot_curve(records, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert "matplotlib.pyplot" not in sys.modules  # drawn without pyplot or a global backend switch


def test_wandb_mode_is_offline_without_credentials(tmp_path):
    assert choose_mode({"NETRC": str(tmp_path / "none")}) == "offline"
    assert choose_mode({"WANDB_API_KEY": "x", "NETRC": str(tmp_path / "none")}) == "online"
    assert choose_mode({"WANDB_MODE": "disabled"}) == "disabled"
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password key\n")
    assert choose_mode({"NETRC": str(netrc)}) == "online"


def test_wandb_missing_is_a_clear_error(monkeypatch, tmp_path):
    from puffer_trainer.logging.wandb import WandbLogger

    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` fail like an absent package
    with pytest.raises(ImportError, match=r"puffer-trainer\[wandb\]"):
        WandbLogger("puffer", "run", {}, tmp_path)


# -- with real runs ----------------------------------------------------------------------------------------
def test_run_folder_holds_config_metrics_curve_and_checkpoints(tmp_path, capsys):
    from shell_helpers import BATCH, ENV_ID, TINY

    from puffer_trainer.cli import main
    from puffer_trainer.config import load_config

    code = main(["train", ENV_ID, *TINY, "--run.run-dir", str(tmp_path), "--run.run-name", "folder",
                 "--run.log", "auto", "--train.total-timesteps", str(2 * BATCH),
                 "--train.gamma", "0.9"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    # Not a terminal (captured): plain lines, no control codes, one per epoch with log_interval_s = 0.
    steps = [line for line in out.splitlines() if line.startswith("[puffer] step ")]
    assert len(steps) >= 2 and "\x1b[" not in out
    assert all(" sps " in line and "ETA" in line and len(line) <= 120 for line in steps)
    assert all(len(line) <= 120 for line in out.splitlines())
    folder = tmp_path / "folder"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["checkpoints", "config.toml", "curve.png", "metrics.jsonl"]
    config = load_config(ENV_ID, folder / "config.toml")  # the resolved config is a valid --config file
    assert config.train.gamma == 0.9 and config.env["num_envs"] == 16 and config.train.horizon == 16
    records = read_metrics(folder / "metrics.jsonl")
    assert len(records) == len(steps) and records[-1]["step"] >= 2 * BATCH
    expected = {"sps", "epoch", "loss/policy_loss", "loss/learning_rate", "time/env", "time/learn"}
    assert expected <= set(records[-1])
    assert any("episode/episode_return" in r for r in records)
    assert (folder / "curve.png").read_bytes()[:4] == b"\x89PNG"


class FakeWandb:
    """Records what the logger asks of wandb (the real package is an optional extra)."""

    def __init__(self):
        self.calls = []

    def init(self, **kwargs):
        self.calls.append(("init", kwargs))
        return self

    def log(self, data, step=None):
        self.calls.append(("log", step, data))

    def finish(self):
        self.calls.append(("finish",))


def test_wandb_flag_logs_offline_from_rank_zero(tmp_path, monkeypatch, capsys):
    from shell_helpers import BATCH, ENV_ID, TINY

    from puffer_trainer.cli import main

    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    for name in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    code = main(["train", ENV_ID, *TINY, "--run.run-dir", str(tmp_path), "--run.run-name", "wb", "--wandb",
                 "--train.total-timesteps", str(2 * BATCH)])  # fmt: skip
    assert code == 0
    kinds = [c[0] for c in fake.calls]
    assert kinds[0] == "init" and kinds[-1] == "finish" and kinds.count("log") >= 2
    init = fake.calls[0][1]
    assert init["mode"] == "offline" and init["project"] == "puffer" and init["name"] == "wb"
    assert init["config"]["env_id"] == ENV_ID and init["dir"] == str(tmp_path / "wb")
    step, data = fake.calls[1][1], fake.calls[1][2]
    assert step == data["global_step"] > 0 and "loss/policy_loss" in data and "sps" in data


def test_metrics_record_episodes_only_from_intervals_where_some_ended(tmp_path, capsys):
    """One agent, 16 steps an epoch: many intervals see no episode end. The console keeps the last score,
    the metrics file must not repeat it as if measured again (curves and means over the last records)."""
    from shell_helpers import ENV_ID, TINY

    from puffer_trainer.cli import main

    one_agent = [*TINY, "--env.num-envs", "1", "--train.batch-size", "16", "--train.minibatch-size", "16"]
    code = main(["train", ENV_ID, *one_agent, "--run.run-dir", str(tmp_path), "--run.run-name", "sparse",
                 "--train.total-timesteps", str(40 * 16)])  # fmt: skip
    assert code == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[puffer] step ")]
    records = read_metrics(tmp_path / "sparse" / "metrics.jsonl")
    assert len(records) == len(lines) >= 40
    has = ["episode/episode_return" in r for r in records]
    first = has.index(True)
    assert not all(has[first:]), "every interval after the first episode recorded one: values were repeated"
    # the console still shows a score on every line once an episode has ended
    assert all(" score " in line for line in lines[first:]), lines[first:]


def test_a_log_interval_averages_its_episodes_not_its_epochs(tmp_path, monkeypatch):
    """Epochs end different numbers of episodes: the logged mean weights each epoch by its episodes, and the
    record counts them."""
    from shell_helpers import BATCH, tiny_kwargs

    from puffer_trainer import Trainer, train

    seen = []
    evaluate = Trainer.evaluate

    def watched(self):
        stats = evaluate(self)
        seen.append((stats, dict(self.last_info_counts)))
        return stats

    monkeypatch.setattr(Trainer, "evaluate", watched)
    kwargs = tiny_kwargs(tmp_path, log_interval_s=3600.0)  # logs after the first epoch and at the end only
    train("ocean/squared", total_timesteps=12 * BATCH, run_name="weights", **kwargs)
    records = read_metrics(tmp_path / "weights" / "metrics.jsonl")
    assert len(records) == 2 and len(seen) >= 12
    later = [(s["episode_length"], c["episode_length"]) for s, c in seen[1:] if "episode_length" in s]
    assert len({c for _, c in later}) > 1, "every epoch ended as many episodes: the test shows nothing"
    weighted = sum(v * c for v, c in later) / sum(c for _, c in later)
    assert records[-1]["episode/episode_length"] == pytest.approx(weighted)
    assert records[-1]["episode/episode_length"] != pytest.approx(sum(v for v, _ in later) / len(later))
    # and the record says how many episodes its means average, for means over the last N episodes
    assert records[-1]["episodes"] == sum(c for _, c in later)
