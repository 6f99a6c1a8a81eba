"""Build the sanitizer harness and fuzz every env briefly (the nox ``sanitize`` session runs 10^6 steps)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from puffer_envs_ocean.plugin import ENV_MODULES

PACKAGE = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    if not (shutil.which("cmake") and (shutil.which("cc") or shutil.which("gcc"))):
        pytest.skip("cmake and a C compiler are needed to build the harness")
    build = tmp_path_factory.mktemp("ocean-sanitize")
    configure = ["cmake", "-S", str(PACKAGE), "-B", str(build), "-DOCEAN_SANITIZE=ON"]
    configure.append("-DCMAKE_BUILD_TYPE=Debug")
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    subprocess.run(configure, check=True, capture_output=True)
    result = subprocess.run(
        ["cmake", "--build", str(build), "--target", "ocean_fuzz"], capture_output=True, text=True
    )
    if result.returncode != 0:
        if "asan" in result.stdout + result.stderr:  # no sanitizer runtime on this machine
            pytest.skip("the compiler has no AddressSanitizer runtime")
        raise AssertionError(result.stdout + result.stderr)
    assert "warning" not in result.stdout.lower(), result.stdout
    return build / "ocean_fuzz"


def test_every_env_survives_a_short_fuzz(fuzzer):
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1"}
    result = subprocess.run([str(fuzzer), "20000", "7"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"all {len(ENV_MODULES)} env(s) clean" in result.stdout, result.stdout


def test_unknown_env_name_is_an_error(fuzzer):
    result = subprocess.run([str(fuzzer), "10", "1", "no_such_env"], capture_output=True, text=True)
    assert result.returncode == 2
