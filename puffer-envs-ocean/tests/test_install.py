"""Build the wheel, install it into a fresh virtual environment, make and step every env there."""

import importlib.util
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from puffer_envs_ocean.plugin import ENV_MODULES

PACKAGE = Path(__file__).resolve().parents[1]
CORE = PACKAGE.parent / "puffer-core"

SMOKE = """
import numpy as np, puffer_core, puffer_envs_ocean
from puffer_envs_ocean._binding import library_path
from puffer_envs_ocean.plugin import ENV_MODULES
assert "site-packages" in puffer_envs_ocean.__file__, puffer_envs_ocean.__file__
assert str(library_path()).startswith(str(__import__("sys").prefix)), library_path()
from puffer_envs_ocean.native import include_dir
assert (include_dir() / "ocean.h").is_file() and str(include_dir()).startswith(__import__("sys").prefix)
for name in ENV_MODULES:
    env = puffer_core.make("ocean/" + name, num_envs=4, seed=0)
    env.reset()
    space = env.single_action_space
    rng = np.random.default_rng(0)
    for _ in range(100):
        high = space.n if hasattr(space, "n") else space.nvec
        env.step(rng.integers(0, high, size=env.actions.shape, dtype=np.int32))
    assert env.render().ndim == 3
    env.close()
    print("ok", name)
"""


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PUFFER_OCEAN_LIB"}
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env, **kwargs)


@pytest.mark.slow
def test_wheel_installs_and_runs_in_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    # Without build isolation when the build backends are installed here (nothing to download); otherwise
    # pip fetches them from the package index itself, as a user's install would.
    have_backends = all(importlib.util.find_spec(m) for m in ("scikit_build_core", "hatchling"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps"]
    if have_backends:
        pip_wheel.append("--no-build-isolation")
    for package in (PACKAGE, CORE):
        run(*pip_wheel, "-w", str(dist), str(package))
    (wheel,) = dist.glob("puffer_envs_ocean-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(("libocean.so", "libocean.dylib", "ocean.dll")) for n in names), names
    assert not any(n.endswith(".c") for n in names), "C sources do not belong in the wheel"
    # ...but the C API's header does: C programs link the installed libocean (see native.py)
    assert [n for n in names if n.endswith(".h")] == ["puffer_envs_ocean/csrc/ocean.h"], names
    assert "py3-none" in wheel.name, "cffi ABI mode: one wheel per platform, any Python 3"

    prefix = tmp_path / "venv"
    venv.create(prefix, with_pip=True)
    python = str(prefix / ("Scripts" if os.name == "nt" else "bin") / "python")
    wheels = [str(w) for w in dist.glob("*.whl")]
    run(python, "-m", "pip", "install", "--quiet", *wheels)
    result = run(python, "-c", SMOKE, cwd=tmp_path)
    assert result.stdout.count("ok ") == len(ENV_MODULES), result.stdout
