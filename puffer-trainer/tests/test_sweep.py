"""``puffer sweep``: search spaces in the config, constraints, pruning, the Pareto front, and studies in real
storages (an SQLite file, a PostgreSQL server started here) that survive a killed worker and take several
workers at once. Runs are tiny real trainings of ocean/squared."""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from shell_helpers import child_env

from puffer_trainer.config import (
    ConfigError,
    ParamSpace,
    load_config,
    load_sweep_config,
    parse_space,
    resolve_space,
)

optuna = pytest.importorskip("optuna", reason="the sweep tests need the sweep extra (optuna)")

from puffer_trainer import sweep as sw  # noqa: E402  (after the importorskip)

ENV_ID = "ocean/squared"

#: A sweep file as a user writes it: values in [train]... and their ranges in [sweep.train]...; runs of
#: 2048 steps (8 epochs of 16 agents x 16 steps), a second or two each on a busy 2-core machine. Only a
#: minibatch of 256 fits the batch of 256, so 2 of 3 draws of it are refused before launch.
TINY_SWEEP = """
[train]
total_timesteps = 2048
horizon = 16
batch_size = 256
minibatch_size = 256
update_epochs = 1
torch_threads = 1
[env]
num_envs = 16
size = 5
[run]
log_interval_s = 0
checkpoint_interval = 0

[sweep]
max_runs = 3
eval_episodes = 4
eval_max_steps = 2000
heartbeat_s = 2
[sweep.train.learning_rate]
distribution = "log"
[sweep.train.gamma]
distribution = "logit"
[sweep.train.minibatch_size]
distribution = "pow2"
min = 256
max = 1024
[sweep.train.norm_adv]
distribution = "bool"
[sweep.policy.activation]
distribution = "categorical"
values = ["gelu", "relu", "tanh"]
"""


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(TINY_SWEEP)
    return path


def states(storage: str, name: str = ENV_ID) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).get_trials()


# -- the search space in the config -----------------------------------------------------------------------
def test_space_sits_next_to_its_values_and_train_ignores_it(sweep_file):
    config, sweep = load_sweep_config(ENV_ID, sweep_file, ["--sweep.max-runs", "7", "--train.seed", "3"])
    assert sweep.max_runs == 7 and sweep.eval_episodes == 4 and config.train.seed == 3
    assert [p.key for p in sweep.space] == [
        "train.learning_rate", "train.gamma", "train.minibatch_size", "train.norm_adv", "policy.activation",
    ]  # fmt: skip
    # `puffer train --config` takes the same file: the [sweep] table is not part of a run's config.
    assert load_config(ENV_ID, sweep_file).train.total_timesteps == 2048


def test_the_readme_example_is_a_valid_sweep_file(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = next(b for b in readme.split("```toml\n")[1:] if "[sweep.train.learning_rate]" in b)
    (tmp_path / "sweep.toml").write_text(example.split("```")[0])
    config, sweep = load_sweep_config(ENV_ID, tmp_path / "sweep.toml")
    assert sweep.max_runs == 40 and sweep.max_cost_s == 120 and config.train.learning_rate == 0.01
    space = {p.key: p for p in resolve_space(sweep.space, config, num_agents=1024)}
    assert set(space) == {"train.learning_rate", "train.gamma", "train.minibatch_size", "policy.activation"}


def test_centers_default_to_the_registered_config():
    import puffer_core

    registered = puffer_core.spec(ENV_ID).train_config["train"]
    config, sweep = load_sweep_config(ENV_ID)  # no space anywhere: the default space
    space = {p.key: p for p in resolve_space(sweep.space, config, num_agents=1024)}
    lr = space["train.learning_rate"]
    assert lr.center == registered["learning_rate"] and lr.min == pytest.approx(lr.center / 10)
    gamma = space["train.gamma"]
    assert gamma.min < gamma.center == registered["gamma"] < gamma.max < 1
    # logit: symmetric in log(x / (1 - x)), so the steps near 1 are fine
    assert math.log(gamma.max / (1 - gamma.max)) - math.log(gamma.center / (1 - gamma.center)) == (
        pytest.approx(math.log(10))
    )
    assert space["train.minibatch_size"].center == registered["minibatch_size"]
    assert space["train.update_epochs"].integer and space["train.total_timesteps"].integer


def test_automatic_sizes_are_resolved_before_they_are_centered():
    config = load_config(ENV_ID, overrides=["--train.minibatch-size", "0", "--train.batch-size", "0"])
    dims = parse_space({"train": {"minibatch_size": {"distribution": "pow2"}}}, "test")
    (dim,) = resolve_space(dims, config, num_agents=64)
    assert dim.center == 64 * config.train.horizon  # the automatic minibatch is the whole batch here


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"distribution": "gaussian"}, "distribution must be one of log, pow2, logit"),
        ({"distribution": "log", "min": 1.0, "max": 0.1}, "min (1) must be below max (0.1)"),
        ({"distribution": "log", "min": 0.1}, "give both min and max"),
        ({"distribution": "uniform"}, "a uniform distribution needs min and max"),
        ({"distribution": "log", "mean": 3}, "unknown key(s) 'mean'"),
        ({"distribution": "categorical"}, "needs a non-empty list `values`"),
    ],
)
def test_bad_space_tables_are_named(spec, message):
    with pytest.raises(ConfigError, match=re_escape(message)):
        parse_space({"train": {"learning_rate": spec}}, "a test")


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_bad_dimensions_are_caught_against_the_config():
    config = load_config(ENV_ID)
    with pytest.raises(ConfigError, match="unknown key in \\[sweep.train\\] 'learning_rat'"):
        parse_space({"train": {"learning_rat": {"distribution": "log"}}}, "a test")
    for spec, message in [
        ({"train": {"ent_coef": {"distribution": "log", "center": 0.0}}}, "needs a value > 0"),
        ({"train": {"gamma": {"distribution": "logit", "center": 1.0}}}, "needs a value in (0, 1)"),
        ({"train": {"minibatch_size": {"distribution": "pow2", "min": 48, "max": 256}}}, "powers of two"),
        ({"train": {"learning_rate": {"distribution": "log", "min": 0.1, "max": 1.0}}}, "lies outside"),
    ]:
        with pytest.raises(ConfigError, match=re_escape(message)):
            resolve_space(parse_space(spec, "a test"), config, num_agents=16)


def test_draws_follow_their_distributions():
    dims = resolve_space(
        parse_space(
            {
                "train": {
                    "learning_rate": {"distribution": "log", "min": 1e-4, "max": 1e-1},
                    "gamma": {"distribution": "logit", "min": 0.9, "max": 0.9999},
                    "horizon": {"distribution": "pow2", "min": 8, "max": 128},
                    "update_epochs": {"distribution": "uniform", "min": 1, "max": 4},
                    "total_timesteps": {"distribution": "log", "min": 1000, "max": 10_000_000},
                    "norm_adv": {"distribution": "bool"},
                    "optimizer": {"distribution": "categorical", "values": ["adam", "muon"]},
                }
            },
            "a test",
        ),
        load_config(ENV_ID),
        num_agents=16,
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    draws = [sw.sample_values(study.ask(), dims) for _ in range(300)]
    lrs = [d["train.learning_rate"] for d in draws]
    assert all(1e-4 <= v <= 1e-1 for v in lrs)
    assert 0.25 < sum(v < 1e-2 for v in lrs) / len(lrs) < 0.9  # log-uniform: 2/3 of the draws below 1e-2
    gammas = [d["train.gamma"] for d in draws]
    assert all(0.9 <= g <= 0.9999 for g in gammas) and sum(g > 0.99 for g in gammas) > 0.3 * len(gammas)
    assert {d["train.horizon"] for d in draws} == {8, 16, 32, 64, 128}
    assert {d["train.update_epochs"] for d in draws} == {1, 2, 3, 4}
    assert all(isinstance(d["train.total_timesteps"], int) for d in draws)
    assert {d["train.norm_adv"] for d in draws} == {False, True}
    assert {d["train.optimizer"] for d in draws} == {"adam", "muon"}
    # the center maps back onto itself
    center = sw.center_params(dims)
    trial = optuna.create_study()
    trial.enqueue_trial(center)
    values = sw.sample_values(trial.ask(), dims)
    assert values["train.gamma"] == pytest.approx(0.99) and values["train.horizon"] == 16


# -- pruning and the front -------------------------------------------------------------------------------
def test_score_at_reads_a_curve_at_a_time():
    curve = [[1.0, 100, 0.1], [2.0, 200, 0.5], [3.0, 300, 0.7]]
    assert sw.score_at(curve, 0.5, finished=True) is None
    assert sw.score_at(curve, 2.5, finished=False) == 0.5
    assert sw.score_at(curve, 9.0, finished=False) is None  # still running: unknown yet
    assert sw.score_at(curve, 9.0, finished=True) == 0.7  # finished: it keeps its last score


def test_prune_decision_compares_runs_at_equal_cost():
    others = [([[t, 0, 0.1 * t] for t in range(1, 11)], True) for _ in range(4)]
    args = dict(percentile=25, min_runs=4, warmup_s=2)
    assert sw.prune_decision(5.0, 0.1, others, **args).startswith("score 0.1 at 5s is below")
    assert sw.prune_decision(5.0, 0.6, others, **args) is None  # ahead of the others at 5 s
    assert sw.prune_decision(1.0, 0.0, others, **args) is None  # warm-up
    assert sw.prune_decision(5.0, 0.1, others[:3], **args) is None  # too few to compare with
    assert sw.prune_decision(5.0, 0.1, others, percentile=0, min_runs=1, warmup_s=0) is None  # off


def record(number, score, cost, state="COMPLETE"):
    return sw.TrialRecord(number=number, state=state, score=score, cost_s=cost)


def test_pareto_front_and_best_pick():
    runs = [record(0, 0.5, 10), record(1, 0.9, 30), record(2, 0.4, 20), record(3, 0.95, 60),
            record(4, 0.9, 40), record(5, 0.99, 100, state="PRUNED")]  # fmt: skip
    front = sw.pareto_front(runs)
    assert [t.number for t in front] == [0, 1, 3]
    assert sw.pick_best(front, None).number == 3  # highest score
    assert sw.pick_best(front, 0.85).number == 1  # the cheapest reaching the target
    assert sw.pick_best(front, 0.99).number == 3  # nobody reaches it: the highest score


# -- real sweeps ------------------------------------------------------------------------------------------
def test_sweep_runs_center_first_skips_invalid_configs_and_writes_its_outputs(tmp_path, sweep_file):
    config, sweep = load_sweep_config(ENV_ID, sweep_file, ["--sweep.dir", str(tmp_path / "s")])
    launched = []

    def train(trial_config, stream, progress):
        from puffer_trainer.run import run

        launched.append(trial_config.train.minibatch_size)
        return run(trial_config, stream=stream, progress=progress, handle_signals=False)

    result = sw.run_sweep(config, sweep, stream=open(os.devnull, "w"), train_fn=train)
    done = [t for t in result.trials if t.state == "COMPLETE"]
    assert len(done) == 3 and len(launched) == 3
    first = result.trials[0]  # the config's own values
    assert first.values["train.learning_rate"] == config.train.learning_rate
    assert first.values["train.minibatch_size"] == 256 and first.values["policy.activation"] == "gelu"
    skipped = [t for t in result.trials if t.state == "FAIL"]
    # minibatch 512 or 1024 > the batch of 256: refused before any training
    assert skipped and all(t.values["train.minibatch_size"] > 256 and "never launched" in t.note
                           for t in skipped)  # fmt: skip
    assert launched == [256, 256, 256]
    logs = tmp_path / "s" / "logs"
    assert all(not (logs / f"ocean-squared-trial{t.number:04d}.log").exists() for t in skipped)
    for t in done:
        assert t.steps >= 2048 and t.cost_s > 0 and -1 <= t.score <= 1 and t.curve
    assert result.best is not None and result.best in result.front
    assert (tmp_path / "s" / "pareto.png").stat().st_size > 10_000
    assert (tmp_path / "s" / "trials.csv").read_text().count("\n") == len(result.trials) + 1
    best = load_config(ENV_ID, result.best_config)  # a file `puffer train --config` takes
    for key, value in result.best.values.items():
        section, name = key.split(".")
        assert getattr(getattr(best, section), name) == pytest.approx(value)


def test_cost_cap_and_pruning_stop_runs(tmp_path, sweep_file):
    config, sweep = load_sweep_config(
        ENV_ID, sweep_file,
        ["--train.total-timesteps", "10000000", "--sweep.max-cost-s", "3", "--sweep.prune-percentile", "50",
         "--sweep.prune-min-runs", "1", "--sweep.prune-warmup-s", "0.5", "--sweep.dir", str(tmp_path / "s")],
    )  # fmt: skip
    sweep.space = [p for p in sweep.space if p.key != "train.minibatch_size"]
    calls, results = [], []

    def train(trial_config, stream, progress):
        from puffer_trainer.run import run

        first = not calls
        calls.append(1)

        # The first run's curve rises with time and every later run's falls, so later runs fall behind.
        def shaped(step, seconds, score):
            return progress(step, seconds, seconds if first else -seconds)

        results.append(run(trial_config, stream=stream, progress=shaped, handle_signals=False))
        return results[-1]

    sw.CURVE_WRITE_S, saved = 0.2, sw.CURVE_WRITE_S
    try:
        result = sw.run_sweep(config, sweep, stream=open(os.devnull, "w"), train_fn=train)
    finally:
        sw.CURVE_WRITE_S = saved
    first, *later = result.trials
    assert first.state == "COMPLETE" and first.cost_s >= 3 and first.steps < 10_000_000  # capped
    assert first.note == "capped at max_cost_s" and first.curve[-1][0] >= 3
    # run()'s progress hook stopped it the clean way: a final checkpoint (which the sweep evaluated)
    assert results[0].stopped_by == "progress" and results[0].checkpoint.is_file()
    assert later and all(t.state == "PRUNED" and "below the 50th percentile" in t.note for t in later)
    assert all(t.curve[-1][0] < 3 for t in later)


def sweep_cmd(sweep_file: Path, folder: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "puffer_trainer", "sweep", ENV_ID, "--config", str(sweep_file),
            "--sweep.dir", str(folder), *extra]  # fmt: skip


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path, sweep_file):
    folder = tmp_path / "s"
    storage = f"sqlite:///{folder / 'study.db'}"
    # Runs long enough to be killed in the middle of one; resumed, they are capped at 2 s each (the cap is
    # the worker's own setting, the config is the study's).
    long = ["--train.total-timesteps", "400000"]
    cmd = sweep_cmd(sweep_file, folder, *long, "--sweep.max-cost-s", "60")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env())
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("[trial 0] start"):
                time.sleep(1.0)  # let it train a little
                break
        else:
            pytest.fail("the sweep never started a run:\n" + "".join(lines))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    killed = states(storage)
    assert [t.state.name for t in killed] == ["RUNNING"]  # left behind by the killed worker
    params = killed[0].params

    resume = sweep_cmd(sweep_file, folder, *long, "--sweep.max-runs", "1", "--sweep.max-cost-s", "2")
    done = subprocess.run(resume, capture_output=True, text=True, env=child_env(), timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trial 0 was running in process" in done.stdout and "again: trial 0 died" in done.stdout
    trials = states(storage)
    assert trials[0].state.name == "FAIL"
    assert trials[1].user_attrs["retry_of"] == 0 and trials[1].params == params  # the same values again
    assert trials[1].state.name == "COMPLETE"
    # max_runs counts finished runs: the killed one does not count, its retry does, and nothing else ran
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    # Started again with everything done, it only reports.
    config, sweep = load_sweep_config(ENV_ID, sweep_file, [*resume[resume.index("--config") + 2 :]])
    out = tmp_path / "again.txt"
    with open(out, "w") as stream:
        sw.run_sweep(config, sweep, stream=stream)
    assert "[trial" not in out.read_text() and len(states(storage)) == len(trials)


def two_workers(sweep_file: Path, tmp_path: Path, storage: str | None) -> list[optuna.trial.FrozenTrial]:
    # Runs of 2 s: long enough that one worker cannot take them all before the other has started.
    extra = ["--sweep.max-runs", "4", "--train.total-timesteps", "1000000", "--sweep.max-cost-s", "2"]
    extra += ["--sweep.storage", storage] if storage else []
    procs = [
        subprocess.Popen(sweep_cmd(sweep_file, tmp_path / "s", *extra), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=child_env())  # fmt: skip
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out
    trials = states(storage or f"sqlite:///{tmp_path / 's' / 'study.db'}")
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    # Both workers shared one count (one may start a run while the other's last is finishing: at most +1).
    assert 4 <= len(complete) <= 5, [t.state.name for t in trials]
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both took runs
    assert sum(bool(t.user_attrs.get("center")) for t in trials) == 1  # one study, one first run
    return trials


def test_two_workers_share_one_sqlite_study(tmp_path, sweep_file):
    two_workers(sweep_file, tmp_path, None)


@pytest.fixture
def postgres() -> str:
    """A throwaway PostgreSQL server (initdb + pg_ctl of this machine) on a free port; yields its URL."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not on PATH: this test starts a local PostgreSQL server")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver psycopg is not installed (sweep extra)")
    # Not under pytest's tmp folder: that is private to this user, and the server may run as another.
    root = Path(tempfile.mkdtemp(prefix="puffer-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as nobody
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: PostgreSQL cannot be started")
        prefix = [runuser, "-u", "nobody", "--"]
        os.chmod(root, 0o777)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = root / "data"
    for command in (
        [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        [pg_ctl, "-D", str(data), "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -F",
         "-l", str(root / "log"), "-w", "start"],
    ):  # fmt: skip
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                       timeout=120)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_one_postgresql_study(tmp_path, sweep_file, postgres):
    two_workers(sweep_file, tmp_path, postgres)
    assert not (tmp_path / "s" / "study.db").exists()  # the study is in PostgreSQL, not in a file


def test_storage_errors_are_one_line(tmp_path, sweep_file):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens here once the probe is closed
    for url, expected in [
        ("not a url", "bad sweep storage URL 'not a url'"),
        ("nosuchdb://x/y", "unknown database kind"),
        (f"postgresql://u:secret@127.0.0.1:{closed}/db", "cannot use the sweep storage"),
    ]:
        with pytest.raises(sw.StorageError) as caught:
            sw.open_storage(url)
        message = str(caught.value)
        assert "\n" not in message and expected in message and "secret" not in message, message
    # On the command line: one line and exit status 2.
    proc = subprocess.run(sweep_cmd(sweep_file, tmp_path / "s", "--sweep.storage", f"postgresql://127.0.0.1:{closed}/x"),
                          capture_output=True, text=True, env=child_env(), timeout=120)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("puffer: error: cannot use the sweep storage postgresql"), proc.stderr


def test_a_study_refuses_another_search(tmp_path, sweep_file):
    config, sweep = load_sweep_config(ENV_ID, sweep_file)
    storage = sw.open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    dims = resolve_space(sweep.space, config, num_agents=16)
    assert sw.open_study(config, _with(sweep, dims), storage, "s")[1]  # created
    assert not sw.open_study(config, _with(sweep, dims), storage, "s")[1]  # the same search continues
    wider = [ParamSpace(**{**d.__dict__, "max": d.max * 2}) if d.key == "train.learning_rate" else d
             for d in dims]  # fmt: skip
    with pytest.raises(ConfigError, match="started with another config or search space .*learning_rate"):
        sw.open_study(config, _with(sweep, wider), storage, "s")


def _with(sweep, space):
    import dataclasses

    return dataclasses.replace(sweep, space=space)
