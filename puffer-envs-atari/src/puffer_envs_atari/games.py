"""The Atari games ale-py ships ROMs for and its emulator supports.

ale-py bundles its ROMs as ``ale_py/roms/<game>.bin``; the file stems are ALE's snake_case game ids
(``breakout``, ``space_invaders``). A few bundled ROMs are not supported by the emulator of the same release
(ale-py 0.12.1: combat, joust, maze_craze, warlords; gymnasium registers none of them either): ALE ends the
whole process when asked to load one, so they are checked with ``ALEInterface.isSupportedROM`` (an MD5 lookup)
and left out. This module imports ale-py only when the list is first asked for (the registry's hook), never
at import.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
from pathlib import Path

__all__ = ["games", "unsupported_roms", "rom_path", "check_game"]


@functools.lru_cache(maxsize=1)
def _roms_dir() -> Path | None:
    spec = importlib.util.find_spec("ale_py")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "roms"


@functools.lru_cache(maxsize=1)
def _scan() -> tuple[tuple[str, ...], tuple[str, ...]]:
    folder = _roms_dir()
    if folder is None or not folder.is_dir():
        return (), ()
    import ale_py

    supported, unsupported = [], []
    for path in sorted(folder.glob("*.bin")):
        (supported if ale_py.ALEInterface.isSupportedROM(str(path)) else unsupported).append(path.stem)
    return tuple(supported), tuple(unsupported)


def games() -> tuple[str, ...]:
    """Every playable game id, sorted (empty when ale-py is not installed)."""
    return _scan()[0]


def unsupported_roms() -> tuple[str, ...]:
    """ROMs ale-py ships that its emulator does not load."""
    return _scan()[1]


def check_game(game: object) -> str:
    """Return ``game`` if it is playable, else raise ValueError naming the closest ids."""
    known = games()
    if not known:
        raise ModuleNotFoundError("ale-py is not installed: `pip install ale-py` (it bundles the ROMs)")
    if isinstance(game, str) and game in known:
        return game
    if game in unsupported_roms():
        raise ValueError(f"ale-py ships a ROM for {game!r} but its emulator does not support it")
    close = difflib.get_close_matches(str(game), known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown Atari game {game!r}: expected one of ale-py's {len(known)} games{hint}")


def rom_path(game: str) -> Path:
    """The bundled ROM file of ``game``."""
    folder = _roms_dir()
    assert folder is not None  # check_game has raised otherwise
    return folder / f"{check_game(game)}.bin"
