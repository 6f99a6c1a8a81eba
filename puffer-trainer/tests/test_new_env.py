"""``puffer new-env``: the generated plugin package builds, installs, shows in ``puffer list``, passes its
own tests and trains, for the Python and the C template."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest
from shell_helpers import child_env

from puffer_trainer.cli import main
from puffer_trainer.new_env import new_env, parse_name


def test_generated_names_replace_every_template_name(tmp_path):
    made = new_env("lab/grid_walk", c=True, output=tmp_path / "pkg")
    assert made.env_id == "lab/grid_walk" and made.distribution == "puffer-envs-lab"
    files = sorted(str(f.relative_to(made.path)) for f in made.files)
    assert files == [
        ".gitignore", "CMakeLists.txt", "README.md", "pyproject.toml",
        "src/puffer_envs_lab/__init__.py", "src/puffer_envs_lab/_binding.py",
        "src/puffer_envs_lab/csrc/grid_walk.c", "src/puffer_envs_lab/grid_walk.py",
        "src/puffer_envs_lab/plugin.py", "tests/test_grid_walk.py",
    ]  # fmt: skip
    text = "\n".join(f.read_text() for f in made.files)
    assert not re.search("chase|myenvs", text, re.I), "a template name was left behind"
    assert 'lab = "puffer_envs_lab.plugin"' in text and "class GridWalk(PufferEnv)" in text
    assert "GRID_WALK_API int grid_walk_step" in text and 'id="lab/grid_walk"' in text
    # the sibling range follows the installed puffer-core's minor series
    major, minor = metadata.version("puffer-core").split(".")[:2]
    assert f'"puffer-core>={major}.{minor},<' in text

    python = new_env("maze", output=tmp_path / "py")
    assert python.env_id == "maze/maze" and python.language == "python"
    assert not any(f.suffix in (".c", ".txt") for f in python.files)
    assert "hatchling" in (python.path / "pyproject.toml").read_text()


def test_bad_names_and_used_folders_are_refused(tmp_path, capsys):
    for name in ("Maze", "my-maze", "lab/", "2d", "gym/maze", "lab/plugin", "class"):
        with pytest.raises(ValueError):
            parse_name(name)
    assert main(["new-env", "My-Maze", "-o", str(tmp_path / "x")]) == 2
    assert "lower-case identifier" in capsys.readouterr().err and not (tmp_path / "x").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    assert main(["new-env", "maze", "-o", str(tmp_path / "used")]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["keep.txt"]


def _venv_seeing_this_one(prefix: Path) -> Path:
    """A fresh venv whose own site-packages comes first and which also sees every path this interpreter
    does (torch, puffer-core, the trainer, pip, the build backends): nothing is installed twice."""
    venv.create(prefix, with_pip=False)
    python = prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "_parent_paths.pth").write_text("\n".join(p for p in sys.path if p and Path(p).is_dir()))
    return python


def _run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=child_env())
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
@pytest.mark.parametrize("language", ["python", "c"])
def test_generated_plugin_builds_installs_lists_passes_its_tests_and_trains(tmp_path, language):
    backend = {"python": "hatchling", "c": "scikit_build_core"}[language]
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (puffer-trainer[test] installs it)")
    made = new_env("lab/walker", c=language == "c", output=tmp_path / "puffer-envs-lab")
    python = _venv_seeing_this_one(tmp_path / "venv")
    # No build isolation: the backend is installed here, so nothing is downloaded.
    _run(str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", str(made.path),
         cwd=tmp_path)  # fmt: skip
    if language == "c":  # the wheel carries the compiled library, not the C source
        where = _run(str(python), "-c", "import puffer_envs_lab._binding as b; print(b.library_path())",
                     cwd=tmp_path).stdout.strip()  # fmt: skip
        assert Path(where).name in ("libwalker.so", "libwalker.dylib", "walker.dll"), where
        assert str(tmp_path / "venv") in where

    listed = _run(str(python), "-m", "puffer_trainer", "list", cwd=tmp_path).stdout
    assert re.search(r"^  lab/walker +walk a grid to a target cell.*\[lab\]$", listed, re.M), listed
    assert "plugin problem" not in listed, listed  # no misnamed hook, no clash

    tests = _run(str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=made.path).stdout
    assert re.search(r"\b7 passed\b", tests), tests

    trained = _run(
        str(python), "-m", "puffer_trainer", "train", "lab/walker", "--train.total-timesteps", "4096",
        "--train.torch-threads", "1", "--run.log", "plain", "--run.run-dir", str(tmp_path / "runs"),
        cwd=tmp_path,
    ).stdout  # fmt: skip
    assert "training lab/walker" in trained and re.search(r"done: 4,096 steps, 1 epochs", trained), trained
    assert list((tmp_path / "runs").glob("lab_walker_*/checkpoints/*.pt"))
