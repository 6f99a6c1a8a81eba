"""`puffer autotune`: a bounded search over vector-env layouts with the config's agents, timed by training."""

from __future__ import annotations

import time

import pytest

from puffer_trainer import autotune as tuning
from puffer_trainer.autotune import Layout, Trial, autotune, candidate_layouts, current_layout
from puffer_trainer.cli import main
from puffer_trainer.config import ConfigError, load_config


def check_vector_rules(layout: Layout) -> None:
    if layout.backend == "multiprocessing":
        per_worker = layout.num_env_objects // layout.num_workers
        assert layout.num_env_objects % layout.num_workers == 0
        assert layout.num_env_objects % layout.batch_size == 0 and layout.batch_size % per_worker == 0


def test_candidates_keep_the_agent_count_and_split_copies_across_workers():
    current = Layout("serial", 1, env_copies=1024)  # an ocean env: one object of 1024 copies
    layouts = list(candidate_layouts(current, cores=2))
    assert current not in layouts and len(layouts) == len(set(layouts)) >= 4
    for layout in layouts:
        assert layout.num_env_objects * layout.env_copies == 1024
        check_vector_rules(layout)
    assert Layout("multiprocessing", 2, 2, 2, 512) in layouts  # a worker per core, full batch
    assert Layout("multiprocessing", 2, 2, 1, 512) in layouts  # half batch: inference overlaps stepping
    assert Layout("multiprocessing", 4, 4, 4, 256) in layouts  # two workers per core
    # An env without a copies kwarg (one agent per object) keeps its objects; only their workers change.
    layouts = list(candidate_layouts(Layout("serial", 4), cores=2))
    assert layouts and all(lay.num_env_objects == 4 and lay.env_copies is None for lay in layouts)
    assert [lay.num_workers for lay in candidate_layouts(Layout("serial", 1), cores=2)] == [1]
    # A multiprocessing config also tries serial; a limit on env objects is respected.
    assert Layout("serial", 4, None, None, 8) in candidate_layouts(Layout("multiprocessing", 4, 2, 4, 8), 2)
    assert all(lay.num_env_objects <= 2 for lay in candidate_layouts(current, 8, max_env_objects=2))


def test_layout_overrides_round_trip_and_name_only_what_changes():
    config = load_config("ocean/squared", overrides=["--env.num-envs", "16"])
    current = current_layout(config)
    assert current == Layout("serial", 1, None, None, 16)
    layout = Layout("multiprocessing", 4, 2, 2, 4)
    again = load_config("ocean/squared", overrides=layout.overrides())
    assert current_layout(again) == layout and again.warnings == []
    assert current_layout(layout.apply(config)) == layout and current_layout(config) == current
    assert layout.overrides(current) == [
        "--vec.backend", "multiprocessing", "--vec.num-env-objects", "4", "--vec.num-workers", "2",
        "--vec.batch-size", "2", "--env.num-envs", "4",
    ]  # fmt: skip
    assert current.overrides(layout) == [
        "--vec.backend", "serial", "--vec.num-env-objects", "1", "--vec.num-workers", "none",
        "--vec.batch-size", "none", "--env.num-envs", "16",
    ]  # fmt: skip
    assert current.overrides(current) == []


def test_current_layout_knows_the_copies_of_an_env_object():
    import puffer_core

    default = puffer_core.spec("ocean/squared").default_kwargs["num_envs"]  # registered, not in config.env
    assert current_layout(load_config("ocean/squared")).env_copies == default
    assert current_layout(load_config("ocean/squared", overrides=["--env.num-envs", "8"])).env_copies == 8
    assert current_layout(load_config("gym/CartPole-v1")).env_copies is None  # one agent per env object


def test_trials_time_training_with_the_configs_agents(monkeypatch):
    from puffer_trainer.trainer import Trainer

    updates = []
    original = Trainer.train

    def counting_train(self):
        updates.append(self.num_agents)
        return original(self)

    monkeypatch.setattr(Trainer, "train", counting_train)
    overrides = ["--env.num-envs", "16", "--env.size", "5", "--train.horizon", "8",
                 "--train.torch-threads", "1"]  # fmt: skip
    config = load_config("ocean/squared", overrides=overrides)
    start = time.perf_counter()
    seen = []
    result = autotune(config, budget_s=8.0, trial_s=0.3, cores=2, report=seen.append)
    elapsed = time.perf_counter() - start
    assert seen == result.trials and result.trials[0].current
    assert result.trials[0].layout == current_layout(config)
    ok = [t for t in result.trials if t.error is None]
    assert ok and all(t.agents == 16 and t.sps > 0 for t in ok)
    # Each trial is real training: a warm-up update and at least one timed one, on 16 agents every time.
    assert len(updates) >= 2 * len(ok) and set(updates) == {16}
    assert elapsed < 8.0 + 30.0  # the budget holds, plus one trial's set-up at most on a busy machine


def test_a_config_that_cannot_train_is_an_error_and_failing_layouts_are_results():
    bad = load_config("gym/CartPole-v1", overrides=["--train.minibatch-size", "4096"])
    with pytest.raises(ConfigError, match="minibatch_size"):
        autotune(bad, budget_s=5.0, trial_s=0.1, cores=1)
    broken = load_config("gym/CartPole-v1")
    broken.env["no_such_kwarg"] = 1
    result = autotune(broken, budget_s=3.0, trial_s=0.1, cores=1)
    assert result.best is None and result.trials
    assert all("no_such_kwarg" in t.error for t in result.trials)


def fake_trials(monkeypatch, sps_of):
    """Replace real training by given SPS per layout (the decision and the printing are under test)."""

    def fake(config, layout, trial_s, current=False):
        return Trial(layout, sps=sps_of(layout, current), agents=16, current=current, wall_s=0.01)

    monkeypatch.setattr(tuning, "time_training", fake)


def test_cli_prints_each_layout_against_the_current_one_and_the_changes(monkeypatch, capsys):
    # 60 SPS per worker: even on one core (at most 2 workers) the best layout beats the current one by 5%.
    fake_trials(monkeypatch, lambda layout, current: 100.0 if current else 60.0 * (layout.num_workers or 1))
    code = main(["autotune", "ocean/squared", "--env.num-envs", "16", "--budget", "5", "--trial", "0.1"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["current", "serial:", "1", "env", "object", "x", "16", "copies", "100", "SPS"]
    assert any(line.rstrip().endswith("0.60x") for line in lines)  # 1 worker: 60 against the current 100
    best = max(candidate_layouts(Layout("serial", 1, env_copies=16)), key=lambda lay: lay.num_workers)
    assert f"best: {best}, {best.num_workers * 60} training SPS, {best.num_workers * 0.6:.2f}x" in out
    changes = best.overrides(Layout("serial", 1, env_copies=16))
    assert f"overrides: {' '.join(changes)}\n" in out
    assert "--vec.num-env-objects" in changes and "--env.num-envs" in changes
    # The user's own --env.num-envs is superseded by the split, not repeated.
    assert f"run: puffer train ocean/squared {' '.join(changes)}\n" in out


def test_cli_keeps_the_current_layout_unless_another_is_clearly_faster(monkeypatch, capsys):
    fake_trials(monkeypatch, lambda layout, current: 100.0 if current else 104.0)
    code = main(["autotune", "gym/CartPole-v1", "--vec.num-env-objects", "2", "--budget", "5",
                 "--trial", "0.1"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "best: the current layout, 100 training SPS; no other was 5% faster" in out
    assert "overrides: none (keep the current layout)" in out and "run: " not in out
