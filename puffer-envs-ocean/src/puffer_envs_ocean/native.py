"""What a C program needs to run an ocean env without Python: the C API's header and the installed libocean.

``ocean.h`` declares the dispatcher API (``ocean_create``, ``ocean_step``, ``ocean_log``, ...) that
``libocean`` exports; both ship in the wheel. :meth:`OceanEnv.native_runtime` describes one env with its
resolved parameters, for tools (``puffer export``) that build a C program around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._binding import library_path

__all__ = ["NativeRuntime", "include_dir", "library_path"]


def include_dir() -> Path:
    """The folder holding ``ocean.h`` (compile with ``-I include_dir()``)."""
    folder = Path(__file__).resolve().parent / "csrc"
    if not (folder / "ocean.h").is_file():
        raise FileNotFoundError(f"ocean.h is missing from {folder}; reinstall puffer-envs-ocean")
    return folder


@dataclass(frozen=True)
class NativeRuntime:
    """One ocean env as a C program makes it: ``ocean_create(c_name, params, ..., num_envs, seed, ...)``.

    ``params`` are the resolved values in the C declaration's order (``OceanEnvDef.params``).
    """

    c_name: str
    params: tuple[tuple[str, float], ...]
    num_envs: int
    include_dir: Path
    library: Path
