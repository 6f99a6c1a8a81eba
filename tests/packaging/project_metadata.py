"""The monorepo's packages as their pyproject files describe them, and the checks on their sibling ranges.

Shared by ``tests/test_versions.py`` (fast, in the default test run) and ``tests/packaging`` (the artifacts
that ``nox -s wheels`` builds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
#: The published distributions, in dependency order.
PUBLISHED = [
    "puffer-core",
    "puffer-kernels",
    "puffer-envs-ocean",
    "puffer-envs-atari",
    "puffer-envs-gpudrive",
    "puffer-trainer",
]
#: Those with compiled code: their Linux wheels are repaired to manylinux tags.
COMPILED = {"puffer-kernels", "puffer-envs-ocean"}


@dataclass(frozen=True)
class Package:
    folder: Path
    name: str
    version: Version
    requirements: tuple[Requirement, ...]

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")


def load(folder: Path) -> Package:
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    requirements = [*project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return Package(
        folder=folder,
        name=canonicalize_name(project["name"]),
        version=Version(project["version"]),
        requirements=tuple(Requirement(r) for r in requirements),
    )


def all_packages() -> dict[str, Package]:
    """Every package of the monorepo (the published ones and the example plugin), by name."""
    examples = sorted(p.parent for p in ROOT.glob("examples/*/pyproject.toml"))
    folders = [ROOT / name for name in PUBLISHED] + examples
    return {package.name: package for package in map(load, folders)}


def sibling_range_problems(packages: dict[str, Package]) -> list[str]:
    """Every sibling requirement that is unbounded above or does not admit the sibling's current version."""
    problems = []
    for package in packages.values():
        for requirement in package.requirements:
            sibling = packages.get(canonicalize_name(requirement.name))
            if sibling is None:
                continue
            where = f"{package.name} requires {requirement}"
            if requirement.url:
                problems.append(f"{where}: a sibling must be a version range, not a URL")
            elif not any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier):
                problems.append(f"{where}: no upper bound (a sibling's next minor series may break it)")
            if not requirement.specifier.contains(sibling.version, prereleases=True):
                current = f"{sibling.name} {sibling.version}"
                problems.append(f"{where}, which does not admit {current} (the current one)")
    return problems


def declared_module_version(package: Package) -> str | None:
    """``__version__`` as written in the package's ``__init__.py``, or None where it has none."""
    init = package.folder / "src" / package.module / "__init__.py"
    if not init.is_file():
        return None
    match = re.search(r'^__version__ = "([^"]+)"', init.read_text(), re.M)
    return match[1] if match else None
