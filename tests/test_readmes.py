"""Every README's code runs as written.

Python blocks of one README run in order as one script (later blocks may use names from earlier ones), in a
fresh interpreter, from a temporary folder: the way a user pastes them into a file. ``puffer train ...``
lines of shell blocks run with ``--print-config`` appended, so every documented flag is checked without
training. A block preceded by ``<!-- readme-test: skip (reason) -->`` is not run; the reason is required.

Runs in the trainer's test session, the one with every package installed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
READMES = [
    ROOT / "README.md",
    *sorted(ROOT.glob("puffer-*/README.md")),
    *sorted(ROOT.glob("examples/*/README.md")),
]
SKIP = r"(<!-- readme-test: skip \((?P<why>[^)]+)\) -->\s*)?"
BLOCK = re.compile(SKIP + r"```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def blocks(readme: Path, lang: str) -> list[str]:
    return [m["body"] for m in BLOCK.finditer(readme.read_text()) if m["lang"] == lang and not m["why"]]


def puffer_train_lines(readme: Path) -> list[str]:
    lines = []
    for body in blocks(readme, "bash"):
        for line in body.replace("\\\n", " ").splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("puffer train "):
                lines.append(command)
    return lines


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("readme", [r for r in READMES if blocks(r, "python")], ids=name)
def test_python_blocks_run_as_one_script(readme, tmp_path):
    script = tmp_path / "readme_example.py"
    script.write_text("\n".join(blocks(readme, "python")))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert result.returncode == 0, f"{name(readme)}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"


@pytest.mark.parametrize("readme", [r for r in READMES if puffer_train_lines(r)], ids=name)
def test_documented_train_commands_parse(readme, tmp_path):
    (tmp_path / "my.toml").write_text("[train]\nlearning_rate = 0.01\n")  # the file the docs pass to --config
    for line in puffer_train_lines(readme):
        argv = shlex.split(line)[1:]
        if "--resume" in argv:  # needs a run to resume; its flags are checked by the trainer's own tests
            continue
        command = [sys.executable, "-m", "puffer_trainer", *argv, "--print-config"]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{name(readme)}: {line}\n{result.stderr[-2000:]}"


def test_every_skipped_block_says_why():
    for readme in READMES:
        for match in re.finditer(r"<!-- readme-test: skip(.*?)-->", readme.read_text()):
            assert re.fullmatch(r" \([^)]+\) ", match[1]), f"{name(readme)}: {match[0]}"
