"""Developer tasks for the Puffer monorepo: ``nox -l`` lists them.

Every session builds its own virtualenv and installs the packages from the local folders, so it works on a
fresh machine with nothing but Python and access to the package registry.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = False

# torch is pinned: an unpinned install pulls a multi-GB CUDA build, and 2.13.0 has a local CPU wheel.
TORCH = "torch==2.13.0"

# What each package's test session installs, in dependency order (local folders, then pip extras).
PACKAGES: dict[str, list[str]] = {
    "puffer-core": ["./puffer-core[test]", "./examples/puffer-envs-example"],
    "puffer-kernels": [TORCH, "./puffer-kernels[test]"],
    "puffer-envs-ocean": ["./puffer-core", "./puffer-envs-ocean[test]"],
    "puffer-trainer": [
        TORCH, "./puffer-core", "./puffer-kernels", "./puffer-envs-ocean", "./puffer-trainer[test]"
    ],
}

# Tests that belong to a package's session but live outside its folder.
EXTRA_TEST_PATHS: dict[str, list[str]] = {
    "puffer-core": ["examples/puffer-envs-example/tests"],
    # ocean's default train configs are checked where the trainer is installed
    "puffer-trainer": ["puffer-envs-ocean/tests/test_package.py::test_train_config_loads_in_the_trainer"],
}


def install(session: nox.Session, *requirements: str) -> None:
    session.install(*requirements, env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"})


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
    session.run("puffer", "train", "ocean/breakout", *session.posargs)


@nox.session
def wheels(session: nox.Session) -> None:
    """Build a wheel of every package into dist/."""
    install(session, "build")
    for package in PACKAGES:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(ROOT / "dist"), package)


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
            "./puffer-trainer")
    session.run("python", "puffer-core/benchmarks/vector.py")
    session.run("python", "puffer-kernels/benchmarks/advantage_cpu.py")
    session.run("python", "puffer-envs-ocean/benchmarks/ocean.py")
