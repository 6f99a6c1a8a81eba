"""Independent versions: each package has its own version and CHANGELOG, and the ranges it declares for its
siblings admit the siblings' current versions (a bump that leaves a range behind fails here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

sys.path.insert(0, str(Path(__file__).resolve().parent / "packaging"))
from project_metadata import (  # noqa: E402
    PUBLISHED,
    Package,
    all_packages,
    declared_module_version,
    sibling_range_problems,
)

PACKAGES = all_packages()


def test_every_published_package_is_found():
    assert set(PUBLISHED) <= set(PACKAGES)
    assert "puffer-envs-example" in PACKAGES


def test_sibling_ranges_admit_the_current_sibling_versions():
    assert sibling_range_problems(PACKAGES) == []
    # every package that imports a sibling declares it (the import direction of the architecture)
    needs = {
        "puffer-envs-ocean": {"puffer-core"},
        "puffer-envs-atari": {"puffer-core"},
        "puffer-envs-gpudrive": {"puffer-core"},
        "puffer-trainer": {"puffer-core", "puffer-kernels"},
    }
    for name, siblings in needs.items():
        declared = {r.name for r in PACKAGES[name].requirements if not r.marker}
        assert siblings <= declared, f"{name} declares {sorted(declared)}"
    for name in ("puffer-core", "puffer-kernels"):  # they import nothing of ours
        assert not [r for r in PACKAGES[name].requirements if r.name in PACKAGES], name


def _with(package: Package, requirement: str) -> dict[str, Package]:
    changed = Package(package.folder, package.name, package.version, (Requirement(requirement),))
    return {**PACKAGES, package.name: changed}


def test_a_range_that_leaves_the_current_version_out_is_caught():
    trainer = PACKAGES["puffer-trainer"]
    core = PACKAGES["puffer-core"].version
    nxt = f"{core.major}.{core.minor + 1}"
    [problem] = sibling_range_problems(_with(trainer, f"puffer-core>={nxt},<{core.major}.{core.minor + 2}"))
    assert f"does not admit puffer-core {core}" in problem
    [problem] = sibling_range_problems(_with(trainer, f"puffer-core>={core.major}.{core.minor}"))
    assert "no upper bound" in problem


@pytest.mark.parametrize("name", PUBLISHED)
def test_each_package_has_its_own_version_and_changelog(name):
    package = PACKAGES[name]
    assert package.version >= Version("0.1")
    declared = declared_module_version(package)
    assert declared in (None, str(package.version)), f"__version__ {declared} != pyproject {package.version}"
    changelog = (package.folder / "CHANGELOG.md").read_text()
    headings = [line for line in changelog.splitlines() if line.startswith("## ")]
    assert headings, f"{name}/CHANGELOG.md has no release section"
    # the newest section is the current version, or work not released yet
    assert str(package.version) in headings[0] or "unreleased" in headings[0].lower(), headings[0]


def test_the_readme_table_names_every_published_package():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "\n## Which package do I need\n" in readme
    table = readme.split("\n## Which package do I need\n", 1)[1].split("\n## ", 1)[0]
    for name in PUBLISHED:
        assert f"`{name}`" in table, name
