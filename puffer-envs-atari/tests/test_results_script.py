"""benchmarks/atari_results.py: the final score is the mean of the last 100 games, not of the last records."""

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "atari_results.py"


@pytest.fixture(scope="module")
def results():
    spec = importlib.util.spec_from_file_location("atari_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_metrics(folder: Path, records: list[dict]) -> None:
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_final_score_weights_the_last_records_by_their_games(results):
    # 128 long games ending together, then a few short ones
    rows = [
        results.CurveRow("enduro", 1, 1.0, 100.0, 128),
        results.CurveRow("enduro", 2, 2.0, 500.0, 60),
        results.CurveRow("enduro", 3, 3.0, 200.0, 50),
    ]
    # the last 100 games: 50 at 200 and 60 at 500 (the record that crosses 100 counts whole)
    assert results.final_score(rows, episodes=100, tail=10) == pytest.approx((50 * 200 + 60 * 500) / 110)
    # fewer games than asked for in the whole run: all of them
    assert results.final_score(rows, episodes=1000, tail=10) == pytest.approx(
        (128 * 100 + 60 * 500 + 50 * 200) / 238
    )


def test_final_score_without_game_counts_is_the_mean_of_the_last_records(results):
    rows = [results.CurveRow("pong", s, float(s), float(s), None) for s in range(1, 21)]
    assert results.final_score(rows, episodes=100, tail=10) == pytest.approx(sum(range(11, 21)) / 10)
    assert math.isnan(results.final_score([], episodes=100, tail=10))


def test_table_and_csv_from_run_folders(results, tmp_path, monkeypatch, capsys):
    # the trainer's records: "episodes" and "episode/*" only where games ended; one interval without any
    write_metrics(tmp_path / "runs" / "enduro", [
        {"step": 1000, "elapsed_s": 1.0, "episodes": 128, "episode/score": 100.0},
        {"step": 2000, "elapsed_s": 2.0},
        {"step": 3000, "elapsed_s": 3.0, "episodes": 128, "episode/score": 400.0},
    ])  # fmt: skip
    monkeypatch.setattr("sys.argv", ["atari_results.py", str(tmp_path), "--games", "enduro"])
    results.main()
    out = capsys.readouterr().out
    assert "| enduro | 3,000 | 3 | 1,000 | 400.0 | 758.3 | no |" in out
    with open(tmp_path / "curves.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["step"], r["score"], r["episodes"]) for r in rows] == [
        ("1000", "100.0", "128"),
        ("3000", "400.0", "128"),
    ]


def test_from_csv_reads_files_without_the_games_column(results, tmp_path, monkeypatch, capsys):
    old_format = "game,step,elapsed_s,score\npong,1000,1.0,-20.0\npong,2000,2.0,-19.0\n"
    (tmp_path / "curves.csv").write_text(old_format)
    monkeypatch.setattr("sys.argv", ["atari_results.py", str(tmp_path), "--games", "pong", "--from-csv"])
    results.main()  # draws the PNGs where matplotlib is installed, else says it is not
    out = capsys.readouterr().out
    assert "curves.png" in out or "matplotlib is not installed" in out
