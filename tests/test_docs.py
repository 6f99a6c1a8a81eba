"""The documentation site builds without a warning, and every code sample in it runs.

* Python blocks of one page run in order as one script (later blocks may use names from earlier ones), in a
  fresh interpreter, from a temporary folder: the way a reader pastes them into a file.
* ``puffer ...`` lines of ``bash`` blocks go through the real command line: ``puffer train`` with
  ``--print-config`` appended (every documented flag and config key is checked without training), the other
  subcommands through the parser and, where they take config overrides, the config loader.
* ``bash`` blocks preceded by ``<!-- docs-test: run -->`` run as they are.
* ``toml`` blocks load as a config file.
* A block preceded by ``<!-- docs-test: skip (reason) -->`` is not run; the reason is required.

Included files (``literalinclude``) are real source files, tested where they live. Runs in the trainer's test
session, the one with every package and the docs requirements installed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # the trainer depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(
    p for p in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(p.parts) and p != DOCS / "README.md"
)
MARK = r"(?:<!-- docs-test: (?:(?P<run>run)|skip \((?P<why>[^)]+)\)) -->\s*)?"
BLOCK = re.compile(MARK + r"^```(?P<lang>[\w{}-]*)[^\n]*\n(?P<body>.*?)^```", re.S | re.M)


def blocks(page: Path, lang: str, *, run: bool | None = None) -> list[str]:
    """Bodies of the page's ``lang`` blocks that are not skipped (``run``: only those marked, or unmarked)."""
    found = []
    for match in BLOCK.finditer(page.read_text()):
        if match["lang"] != lang or match["why"]:
            continue
        if run is None or run == bool(match["run"]):
            found.append(match["body"])
    return found


def puffer_lines(page: Path) -> list[list[str]]:
    """argv (after ``puffer``) of every ``puffer ...`` command in the page's unmarked bash blocks."""
    commands = []
    for body in blocks(page, "bash", run=False):
        for line in body.replace("\\\n", " ").splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("puffer "):
                commands.append(shlex.split(command)[1:])
            elif command.startswith("python -m puffer_trainer "):
                commands.append(shlex.split(command)[3:])
    return commands


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def run_python(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_pages_are_found():
    assert {"index.md", "install.md", "kernels.md", "benchmarks.md"} <= {p.name for p in PAGES}
    assert sum(bool(blocks(p, "python")) for p in PAGES) >= 10


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "python")], ids=name)
def test_python_blocks_run_as_one_script(page, tmp_path):
    script = tmp_path / "docs_example.py"
    script.write_text("\n".join(blocks(page, "python")))
    result = run_python([str(script)], tmp_path, timeout=600)
    assert result.returncode == 0, f"{name(page)}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"


@pytest.mark.parametrize("page", [p for p in PAGES if puffer_lines(p)], ids=name)
def test_documented_commands_parse(page, tmp_path):
    (tmp_path / "my.toml").write_text("[train]\nlearning_rate = 0.01\n")  # the file the docs pass to --config
    checks = []
    for argv in puffer_lines(page):
        if argv[0] == "train" and "--resume" not in argv:  # resuming needs a run; its flags are parsed below
            checks.append((argv, ["-m", "puffer_trainer", *argv, "--print-config"]))
        else:  # list, eval, autotune, train --resume: the parser, then the config keys with the env's config
            code = (
                "import sys; from puffer_trainer.cli import build_parser, split_overrides\n"
                "from puffer_trainer.config import load_config\n"
                "rest, overrides = split_overrides(sys.argv[1:])\n"
                "args = build_parser().parse_args(rest)\n"
                "if getattr(args, 'env', None):\n"
                "    load_config(args.env, getattr(args, 'config', None), overrides)\n"
            )
            checks.append((argv, ["-c", code, *argv]))
    for argv, command in checks:
        result = run_python(command, tmp_path, timeout=120)
        assert result.returncode == 0, f"{name(page)}: puffer {shlex.join(argv)}\n{result.stderr[-2000:]}"


def shell_lines(page: Path) -> list[list[str]]:
    """argv of every command of the page's unmarked bash blocks."""
    lines = []
    for body in blocks(page, "bash", run=False):
        for line in body.replace("\\\n", " ").splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                lines.append(shlex.split(command))
    return lines


NOX_SESSIONS = set(
    re.findall(r"@nox\.session[^\n]*\n(?:@[^\n]*\n)*def (\w+)\(", (ROOT / "noxfile.py").read_text())
)


def test_other_shell_commands_name_what_exists():
    """Commands that are not run still name real things: repo paths, nox sessions, known tools."""
    for page in PAGES:
        # Programs a documented `puffer export ... --out DIR` writes (DIR/ocean_play) may be run after it.
        exported = {
            argv[argv.index("--out") + 1] for argv in shell_lines(page)
            if argv[:2] == ["puffer", "export"] and "--out" in argv[:-1]
        }  # fmt: skip
        for argv in shell_lines(page):
            where = f"{name(page)}: {shlex.join(argv)}"
            tool, args = argv[0], argv[1:]
            if tool.split("/")[0] in exported and tool.count("/") == 1:
                continue
            if tool == "puffer" or argv[:3] == ["python", "-m", "puffer_trainer"]:
                continue  # run through the real CLI by test_documented_commands_parse
            if tool == "nox":
                assert args[0] == "-s" and args[1] in NOX_SESSIONS, where
            elif tool in ("pip", "pytest", "cmake", "python"):
                paths = [a for a in args if a.startswith("./") or a.split("/")[0] in TOP_LEVEL]
                for path in paths:
                    assert (ROOT / path.split("[")[0].split("::")[0]).exists(), where
                assert tool != "pytest" or paths, where
            elif tool.startswith("build/"):  # built by a cmake line of the same block
                continue
            elif tool in ("cc", "gcc", "clang"):  # compiling the reader's own C program against ours
                assert any(a.endswith(".c") for a in args), where
            else:
                raise AssertionError(
                    f"{where}: an unknown tool; run the block (docs-test: run) or check it here"
                )


TOP_LEVEL = {p.name for p in ROOT.iterdir()} - {".git"}


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "bash", run=True)], ids=name)
def test_runnable_shell_blocks(page, tmp_path):
    bindir = str(Path(sys.executable).parent)  # where the session's `puffer` console script is
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for body in blocks(page, "bash", run=True):
        command = ["bash", "-euo", "pipefail", "-c", body]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        output = f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        assert result.returncode == 0, f"{name(page)}:\n{body}\n{output}"


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "toml")], ids=name)
def test_toml_blocks_are_valid_configs(page, tmp_path):
    from puffer_trainer.config import load_config

    for body in blocks(page, "toml"):
        data = tomllib.loads(body)
        if set(data) <= {"train", "vec", "policy", "run", "env"}:  # a run config: it must load
            path = tmp_path / "config.toml"
            path.write_text(body)
            load_config("ocean/squared", path)


def test_every_mark_is_well_formed_and_precedes_a_block():
    for page in PAGES:
        text = page.read_text()
        for match in re.finditer(r"<!-- docs-test:(.*?)-->", text):
            assert re.fullmatch(r" (run|skip \([^)]+\)) ", match[1]), f"{name(page)}: {match[0]}"
            follows = text[match.end() :].lstrip()
            assert follows.startswith("```"), f"{name(page)}: {match[0]} precedes no block"


def test_site_builds_with_warnings_as_errors(tmp_path):
    """The same build as ``nox -s docs``: any Sphinx warning (a broken docstring, link or include) fails."""
    result = run_python(
        ["-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path / "html")],
        ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    html = (tmp_path / "html" / "reference" / "config.html").read_text()
    assert "train.learning_rate" in html and "vec.num_env_objects" in html  # generated from the code
    assert (tmp_path / "html" / "_images" / "breakout_h200.png").exists()  # the plots were drawn
