"""`puffer autotune`: a bounded search over real vector-env layouts."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gymnasium import spaces

from puffer_trainer.autotune import Layout, autotune, candidate_layouts, random_actions
from puffer_trainer.cli import main


def test_candidates_respect_the_vector_env_rules():
    layouts = list(candidate_layouts(max_envs=64, cores=2))
    assert [lay.num_envs for lay in layouts if lay.backend == "serial"] == [1, 2, 4, 8, 16, 32, 64]
    for layout in layouts:
        assert layout.num_envs <= 64
        if layout.backend == "multiprocessing":
            per_worker = layout.num_envs // layout.num_workers
            assert layout.num_envs % layout.num_workers == 0
            assert layout.num_envs % layout.batch_size == 0 and layout.batch_size % per_worker == 0


def test_layout_overrides_round_trip_through_the_config():
    from puffer_trainer.config import load_config

    layout = Layout("multiprocessing", 8, 2, 4)
    config = load_config("gym/CartPole-v1", overrides=layout.overrides())
    assert (config.vec.backend, config.vec.num_envs, config.vec.num_workers, config.vec.batch_size) == (
        "multiprocessing", 8, 2, 4,
    )  # fmt: skip


@pytest.mark.parametrize(
    "space",
    [spaces.Discrete(3, start=-1), spaces.MultiDiscrete([2, 5]), spaces.MultiBinary(4),
     spaces.Box(-2.0, 3.0, (2,), np.float32), spaces.Box(-np.inf, np.inf, (3,), np.float32)],
)  # fmt: skip
def test_random_actions_are_valid(space):
    from puffer_core.spaces import validate_actions

    actions = random_actions(space, 16, np.random.default_rng(0))
    validate_actions(actions, space, 16)  # raises on a bad shape, dtype or range


def test_autotune_is_bounded_and_finds_a_layout():
    start = time.perf_counter()
    seen = []
    result = autotune("gym/CartPole-v1", budget_s=3.0, trial_s=0.2, max_envs=8, cores=2, report=seen.append)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0 + 2.0  # the budget holds (plus one trial's setup at most)
    assert seen == result.trials and len(result.trials) >= 2
    best = result.best
    assert best is not None and best.error is None and best.sps > 0
    assert best.sps == max(t.sps for t in result.trials if t.error is None)


def test_autotune_records_failing_layouts_instead_of_crashing():
    result = autotune("gym/CartPole-v1", {"no_such_kwarg": 1}, budget_s=2.0, trial_s=0.1, max_envs=2, cores=1)
    assert result.best is None
    assert result.trials and all("no_such_kwarg" in t.error for t in result.trials)


def test_cli_prints_best_overrides(capsys):
    code = main(["autotune", "gym/CartPole-v1", "--budget", "2", "--trial", "0.2", "--max-envs", "4"])
    out = capsys.readouterr().out
    assert code == 0
    assert "best: " in out
    line = next(x for x in out.splitlines() if x.startswith("overrides: "))
    assert "--vec.backend" in line and "--vec.num-envs" in line
    assert f"run: puffer train gym/CartPole-v1 {line.removeprefix('overrides: ')}" in out
