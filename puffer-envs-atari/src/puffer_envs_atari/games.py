"""The Atari games ale-py ships ROMs for, found without importing ale-py.

ale-py bundles its ROMs as ``ale_py/roms/<game>.bin``; the file stems are ALE's snake_case game ids
(``breakout``, ``space_invaders``). Reading the folder (rather than ``ale_py.roms``) keeps ``puffer list``
from importing ale-py, whose import registers envs with gymnasium.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
from pathlib import Path

__all__ = ["games", "rom_path", "check_game"]


@functools.lru_cache(maxsize=1)
def _roms_dir() -> Path | None:
    spec = importlib.util.find_spec("ale_py")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "roms"


@functools.lru_cache(maxsize=1)
def games() -> tuple[str, ...]:
    """Every game id with a bundled ROM, sorted (empty when ale-py is not installed)."""
    folder = _roms_dir()
    if folder is None or not folder.is_dir():
        return ()
    return tuple(sorted(p.stem for p in folder.glob("*.bin")))


def check_game(game: object) -> str:
    """Return ``game`` if ale-py ships its ROM, else raise ValueError naming the closest ids."""
    known = games()
    if not known:
        raise ModuleNotFoundError("ale-py is not installed: `pip install ale-py` (it bundles the ROMs)")
    if isinstance(game, str) and game in known:
        return game
    close = difflib.get_close_matches(str(game), known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown Atari game {game!r}: expected one of ale-py's {len(known)} ROM ids{hint}")


def rom_path(game: str) -> Path:
    """The bundled ROM file of ``game``."""
    folder = _roms_dir()
    assert folder is not None  # check_game has raised otherwise
    return folder / f"{check_game(game)}.bin"
