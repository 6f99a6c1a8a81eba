"""Register every package's pytest markers for runs from the repository root.

``nox -s tests`` runs pytest from here over one package's tests plus a few of its neighbours' (see
``EXTRA_TEST_PATHS`` in noxfile.py). pytest then reads no package's ``pyproject.toml``, so their ``markers``
would be unknown. Each package keeps its own list; this file only reads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

ROOT = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    if tomllib is None:  # the markers then warn as unknown; the tests still run
        return
    seen = set()
    for pyproject in sorted(ROOT.glob("*/pyproject.toml")):
        tool = tomllib.loads(pyproject.read_text()).get("tool", {})
        options = tool.get("pytest", {}).get("ini_options", {})
        for marker in options.get("markers", []):
            name = marker.split(":")[0].split("(")[0].strip()
            if name not in seen:  # packages describe a shared marker (slow, cuda) each in their own words
                seen.add(name)
                config.addinivalue_line("markers", marker)
