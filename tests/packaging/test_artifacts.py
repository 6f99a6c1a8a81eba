"""The release artifacts in ``dist/`` (made by ``nox -s wheels``): clean contents, then installs into fresh
virtual environments that reach only the package registry, each followed by a smoke check.

Run by ``nox -s wheels`` after it builds (``PUFFER_DIST`` names the folder; default ``dist/``). Our own
packages are installed from the artifact files given by path, never looked up by name, so a same-named
distribution on the registry cannot stand in for them; their third-party dependencies come from the registry.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
from project_metadata import COMPILED, PUBLISHED, ROOT, all_packages

DIST = Path(os.environ.get("PUFFER_DIST", ROOT / "dist"))
PACKAGES = all_packages()
#: Nothing of these belongs in a wheel: build trees, objects, caches, tests, C sources, measurement logs.
LEFTOVERS = re.compile(
    r"(^|/)(build|_skbuild|CMakeFiles|__pycache__|tests?|benchmarks|\.nox|\.git)/|CMakeCache\.txt$|"
    r"\.(o|obj|a|pyc|pyo|c|cu|h|gif|mp4|png|npz|pt)$"
)
#: C files that are the packages' documented C API, compiled into users' programs (docs/export.md).
C_API = {
    "puffer_kernels/csrc/infer.h", "puffer_kernels/csrc/infer.c", "puffer_envs_ocean/csrc/ocean.h",
    "puffer_trainer/csrc/ocean_play.c",
}  # fmt: skip
WHEEL_LIMIT = 4 * 2**20  # the CUDA library, when built in, is about 1.1 MB
SDIST_LIMIT = 1 * 2**20


def artifact(name: str, kind: str) -> Path:
    stem = name.replace("-", "_")
    pattern = f"{stem}-{PACKAGES[name].version}{'-*.whl' if kind == 'wheel' else '.tar.gz'}"
    found = sorted(DIST.glob(pattern))
    if len(found) != 1:
        found_names = [f.name for f in found]
        pytest.fail(f"expected one {pattern} in {DIST}, found {found_names}: run `nox -s wheels`")
    return found[0]


# -- contents ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PUBLISHED)
def test_wheel_holds_the_package_and_nothing_else(name):
    wheel = artifact(name, "wheel")
    names = zipfile.ZipFile(wheel).namelist()
    module = name.replace("-", "_")
    assert {n.split("/")[0] for n in names} == {module, f"{module}-{PACKAGES[name].version}.dist-info"}, names
    left = [n for n in names if LEFTOVERS.search(n) and "/templates/" not in n and n not in C_API]
    if name in ("puffer-kernels", "puffer-envs-ocean", "puffer-trainer"):
        shipped = {n for n in names if n in C_API}
        expected = {n for n in C_API if n.startswith(name.replace("-", "_") + "/")}
        assert shipped == expected, f"{wheel.name} should ship its C API files {sorted(expected)}"
    assert not left, f"{wheel.name} holds build leftovers or sources: {left}"
    assert wheel.stat().st_size < WHEEL_LIMIT, f"{wheel.name}: {wheel.stat().st_size} bytes"
    if name in COMPILED:  # one wheel per platform (cffi ABI mode), repaired to a manylinux tag on Linux
        assert "-py3-none-" in wheel.name
        if sys.platform.startswith("linux"):
            assert "manylinux" in wheel.name and "linux_x86_64.whl" not in wheel.name.replace("manylinux", "")
        assert any(n.endswith((".so", ".dylib", ".dll")) for n in names)
    else:
        assert wheel.name.endswith("-py3-none-any.whl")
        assert not any(n.endswith((".so", ".dylib", ".dll")) for n in names)


def test_the_trainer_wheel_carries_the_new_env_templates():
    names = zipfile.ZipFile(artifact("puffer-trainer", "wheel")).namelist()
    templates = [n for n in names if "/templates/" in n]
    for part in ("common/tests/test_chase.py", "c/src/puffer_envs_myenvs/csrc/chase.c", "c/CMakeLists.txt",
                 "python/pyproject.toml", "common/_gitignore"):  # fmt: skip
        assert f"puffer_trainer/templates/{part}" in templates, part


@pytest.mark.parametrize("name", PUBLISHED)
def test_sdist_holds_the_sources_and_no_build_output(name):
    sdist = artifact(name, "sdist")
    root = f"{name.replace('-', '_')}-{PACKAGES[name].version}"
    with tarfile.open(sdist) as archive:
        names = [m.name for m in archive.getmembers() if m.isfile()]
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "PKG-INFO"):
        assert f"{root}/{needed}" in names, needed
    if name in COMPILED:
        assert f"{root}/CMakeLists.txt" in names
    build_output = r"/(build|_skbuild|dist|\.nox|benchmarks/results)/|\.(so|o|pyc)$"
    bad = [n for n in names if re.search(build_output, n)]
    assert not bad, f"{sdist.name} holds build output or measurement logs: {bad}"
    assert sdist.stat().st_size < SDIST_LIMIT, f"{sdist.name}: {sdist.stat().st_size} bytes"


# -- installs into fresh venvs ----------------------------------------------------------------------------
class Venv:
    """A fresh virtual environment driven by this interpreter's pip (``pip --python``)."""

    def __init__(self, prefix: Path, see: list[Path] = ()) -> None:
        venv.create(prefix, with_pip=False)
        self.prefix = prefix
        self.python = prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if see:  # extra folders on its path (a shared torch), as nox's sessions do
            purelib = self.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
            Path(purelib, "_seen.pth").write_text("".join(f"{p}\n" for p in see))

    def pip(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "pip", "--python", str(self.python), *args]
        result = subprocess.run(command, capture_output=True, text=True, env=env or os.environ.copy(),
                                timeout=1200)  # fmt: skip
        if check:
            output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            assert result.returncode == 0, f"pip {' '.join(args)}\n{output}"
        return result

    def run(self, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run([str(self.python), *args], capture_output=True, text=True, cwd=cwd,
                                timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
        assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result.stdout

    def distributions(self) -> set[str]:
        code = (
            "import importlib.metadata as m\n"
            "print('\\n'.join(d.metadata['Name'].lower() for d in m.distributions()))"
        )
        return set(self.run("-c", code).split())


def wheels(*names: str) -> list[str]:
    return [str(artifact(name, "wheel")) for name in names]


def test_ocean_installs_alone_and_pulls_no_torch(tmp_path):
    env = Venv(tmp_path / "venv")
    env.pip("install", "--quiet", *wheels("puffer-envs-ocean", "puffer-core"))
    installed = env.distributions()
    assert {"puffer-envs-ocean", "puffer-core", "numpy", "cffi"} <= installed
    assert not {d for d in installed if d == "torch" or d.startswith("nvidia-")}, sorted(installed)
    out = env.run("-c", (
        "import sys, numpy as np, puffer_core\n"
        "env = puffer_core.make('ocean/breakout', num_envs=8, seed=0)\n"
        "env.reset()\n"
        "rng = np.random.default_rng(0)\n"
        "for _ in range(200): env.step(rng.integers(0, 3, env.actions.shape, dtype=np.int32))\n"
        "assert 'torch' not in sys.modules\n"
        "print('ids', len(puffer_core.list_envs()), 'broken', len(puffer_core.broken_plugins()))\n"
    ), cwd=tmp_path)  # fmt: skip
    assert "broken 0" in out and int(out.split()[1]) >= 8, out


ADVANTAGE = """
import numpy as np, puffer_kernels
rows, horizon = 8, 16
rng = np.random.default_rng(0)
values, rewards = rng.random((rows, horizon), np.float32), rng.random((rows, horizon), np.float32)
dones = np.zeros((rows, horizon), np.float32)
out = np.zeros_like(values)
puffer_kernels.gae(values, rewards, dones, out, gamma=0.99, gae_lambda=0.95)
# GAE by its definition, one row at a time
expected = np.zeros_like(values)
for r in range(rows):
    last = 0.0
    for t in reversed(range(horizon - 1)):
        delta = rewards[r, t + 1] + 0.99 * values[r, t + 1] - values[r, t]
        last = delta + 0.99 * 0.95 * last
        expected[r, t] = last
np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
from puffer_kernels import _loader
print("cuda-library", _loader.cuda_lib()[0] is not None, "cuda-available", puffer_kernels.cuda_available())
"""


def _gae_convention_matches(tmp_path: Path, env: Venv) -> str:
    return env.run("-c", ADVANTAGE, cwd=tmp_path)


def test_kernels_wheel_installs_and_computes(tmp_path):
    env = Venv(tmp_path / "venv")
    env.pip("install", "--quiet", *wheels("puffer-kernels"))
    assert "torch" not in env.distributions()
    out = _gae_convention_matches(tmp_path, env)
    assert "cuda-library" in out


def _without_cuda_toolkit() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("CUDACXX", "CUDA_HOME", "CUDA_PATH")}
    folders = environ.get("PATH", "").split(os.pathsep)
    environ["PATH"] = os.pathsep.join(f for f in folders if not Path(f, "nvcc").exists())
    return environ


def test_kernels_sdist_builds_without_a_cuda_toolkit(tmp_path):
    env = Venv(tmp_path / "venv")
    sdist = str(artifact("puffer-kernels", "sdist"))
    no_toolkit = _without_cuda_toolkit()
    # Asking for CUDA without a toolkit fails the build, naming what is missing and what to do.
    refused = env.pip("install", "--no-cache-dir", sdist, env={**no_toolkit, "PUFFER_KERNELS_CUDA": "ON"},
                      check=False)  # fmt: skip
    assert refused.returncode != 0 and "found no CUDA compiler" in refused.stdout + refused.stderr
    # The default (AUTO) builds the C library alone, and says so when CUDA is asked for.
    env.pip("install", "--quiet", "--no-cache-dir", sdist, env={**no_toolkit, "PUFFER_KERNELS_CUDA": "AUTO"})
    out = _gae_convention_matches(tmp_path, env)
    assert "cuda-library False cuda-available False" in out, out


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no CUDA toolkit (nvcc) on this machine")
def test_kernels_sdist_builds_the_cuda_library_with_a_toolkit(tmp_path):
    env = Venv(tmp_path / "venv")
    env.pip("install", "--quiet", "--no-cache-dir", str(artifact("puffer-kernels", "sdist")),
            env={**os.environ, "PUFFER_KERNELS_CUDA": "ON"})  # fmt: skip
    out = _gae_convention_matches(tmp_path, env)
    assert "cuda-library True" in out, out  # loads without a GPU too; cuda-available says whether one is seen


def test_atari_and_gpudrive_install_with_core(tmp_path):
    # gpudrive's simulator runs on torch: where it requires torch, this interpreter's copy stands in for a
    # download of several GB.
    torch = importlib.util.find_spec("torch")
    env = Venv(tmp_path / "venv", see=[Path(torch.origin).parents[1]] if torch and torch.origin else [])
    env.pip("install", "--quiet", *wheels("puffer-envs-atari", "puffer-envs-gpudrive", "puffer-core"))
    env.pip("check")
    out = env.run("-c", (
        "import puffer_core, puffer_envs_atari, puffer_envs_gpudrive\n"
        "print('broken', [b.name for b in puffer_core.broken_plugins()])\n"
    ), cwd=tmp_path)  # fmt: skip
    assert "broken []" in out, out


def _torch_folder() -> Path:
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        pytest.skip("torch is not installed here (the trainer's venv would download it: several GB)")
    return Path(spec.origin).parents[1]


def test_trainer_pulls_what_it_needs_and_trains(tmp_path):
    # torch is seen from this interpreter's copy (a fresh download is several GB); everything else the trainer
    # needs must come from its own requirements.
    env = Venv(tmp_path / "venv", see=[_torch_folder()])
    ours = wheels("puffer-trainer", "puffer-kernels", "puffer-core", "puffer-envs-ocean")
    env.pip("install", "--quiet", *ours)
    env.pip("check")
    assert {"puffer-trainer", "rich", "matplotlib", "imageio", "cffi", "pluggy"} <= env.distributions()
    puffer = env.prefix / ("Scripts/puffer.exe" if os.name == "nt" else "bin/puffer")
    listed = subprocess.run([str(puffer), "list"], capture_output=True, text=True, check=True).stdout
    assert "ocean/squared" in listed and "plugin problem" not in listed, listed
    trained = env.run(
        "-m", "puffer_trainer", "train", "ocean/squared", "--env.num-envs", "16", "--train.horizon", "16",
        "--train.total-timesteps", "512", "--train.torch-threads", "1", "--run.log", "plain",
        "--run.run-dir", str(tmp_path / "runs"), cwd=tmp_path,
    )  # fmt: skip
    assert "done:" in trained, trained
