"""``puffer new-env``: write a complete third-party env plugin package from the templates in ``templates/``.

The templates are a real plugin (family ``myenvs``, env ``chase``) kept as files that ruff and the tests
check: ``common/`` holds what both kinds share (the entry-point module, the tests, ``.gitignore``),
``python/`` a numpy env built with hatchling, ``c/`` a C env built with scikit-build-core and loaded with
cffi. Generating copies ``common/`` and one of the two, renaming the template's names in paths and contents
in one pass (so a name that happens to be one of the template's is not renamed twice).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

__all__ = ["NewEnv", "new_env", "parse_name"]

TEMPLATE_FAMILY = "myenvs"
TEMPLATE_ENV = "chase"
#: The range of puffer-core the template declares; replaced by one around the installed version.
TEMPLATE_CORE_RANGE = "puffer-core>=0.1,<0.2"
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
#: Env names that would collide with the template's other modules.
RESERVED_ENVS = {"plugin", "test", "tests", "csrc"}


@dataclass(frozen=True)
class NewEnv:
    """What :func:`new_env` wrote."""

    path: Path
    distribution: str
    package: str
    env_id: str
    language: str
    files: tuple[Path, ...]


def parse_name(name: str) -> tuple[str, str]:
    """``"family/env"`` or ``"env"`` (then the family is the env's name) -> ``(family, env)``.

    Both must be lower-case identifiers (they name a Python package, a module and, for ``--c``, C symbols).
    """
    family, _, env = name.rpartition("/")
    family = family or env
    for what, value in (("family", family), ("env name", env)):
        if not IDENTIFIER.match(value) or keyword.iskeyword(value):
            raise ValueError(
                f"the {what} must be a lower-case identifier (a letter, then letters, digits or _), got "
                f"{value!r} in {name!r}"
            )
    if env in RESERVED_ENVS:
        raise ValueError(f"the env name {env!r} is taken by the package's own files; choose another")
    if family == "gym":
        raise ValueError("the family 'gym' is reserved for gymnasium ids (gym/<id>); choose another")
    return family, env


def _core_range() -> str:
    """``puffer-core>=X.Y,<NEXT``: the installed puffer-core's minor series (its API's compatibility unit)."""
    try:
        major, minor = (int(part) for part in metadata.version("puffer-core").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return TEMPLATE_CORE_RANGE
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"puffer-core>={major}.{minor},<{upper}"


def _replacements(family: str, env: str) -> dict[str, str]:
    class_name = "".join(part.capitalize() for part in env.split("_") if part) or env.capitalize()
    return {
        TEMPLATE_CORE_RANGE: _core_range(),
        f"puffer_envs_{TEMPLATE_FAMILY}": f"puffer_envs_{family}",
        f"puffer-envs-{TEMPLATE_FAMILY}": f"puffer-envs-{family.replace('_', '-')}",
        TEMPLATE_FAMILY.upper(): family.upper(),
        TEMPLATE_FAMILY: family,
        TEMPLATE_ENV.upper(): env.upper(),
        TEMPLATE_ENV.capitalize(): class_name,
        TEMPLATE_ENV: env,
    }


def _template_files(language: str) -> list[tuple[str, Any]]:
    """``(relative path, resource)`` of every template file of ``common/`` and ``language``'s folder."""
    root = resources.files("puffer_trainer") / "templates"
    found: list[tuple[str, Any]] = []

    def walk(folder: Any, prefix: str) -> None:
        for item in sorted(folder.iterdir(), key=lambda i: i.name):
            if item.name == "__pycache__" or item.name.endswith((".pyc", ".pyo")):
                continue
            if item.is_dir():
                walk(item, f"{prefix}{item.name}/")
            else:
                found.append((prefix + item.name, item))

    walk(root / "common", "")
    walk(root / language, "")
    return found


def new_env(name: str, *, c: bool = False, output: str | Path | None = None) -> NewEnv:
    """Write a new plugin package for env ``name`` (``env`` or ``family/env``); returns what it wrote.

    Args:
        name: the env's name, or ``family/name``; the env id is ``family/name`` and the distribution
            ``puffer-envs-<family>``.
        c: write the env in C (scikit-build-core + cffi) instead of Python with numpy.
        output: the folder to create (default ``./puffer-envs-<family>``); it must not exist or be empty.

    Raises:
        ValueError: a bad name. FileExistsError: ``output`` exists and is not empty.
    """
    family, env = parse_name(name)
    distribution = f"puffer-envs-{family.replace('_', '-')}"
    path = Path(output) if output is not None else Path.cwd() / distribution
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(f"{path} already exists and is not an empty folder; choose another --output")
    table = _replacements(family, env)
    pattern = re.compile("|".join(re.escape(token) for token in sorted(table, key=len, reverse=True)))

    def rename(text: str) -> str:
        return pattern.sub(lambda match: table[match.group(0)], text)

    language = "c" if c else "python"
    written = []
    for relative, resource in _template_files(language):
        target = path / rename(relative.replace("_gitignore", ".gitignore"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rename(resource.read_text(encoding="utf-8")), encoding="utf-8")
        written.append(target)
    return NewEnv(
        path=path,
        distribution=distribution,
        package=f"puffer_envs_{family}",
        env_id=f"{family}/{env}",
        language=language,
        files=tuple(written),
    )
