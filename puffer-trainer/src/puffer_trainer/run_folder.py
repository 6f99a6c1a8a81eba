"""The run folder: ``<run_dir>/<run_name>/`` with config, metrics, curve and checkpoints."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .checkpoint import atomic_write

__all__ = ["RunFolder", "default_run_name", "to_toml"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def default_run_name(env_id: str) -> str:
    """``<family>_<name>_<UTC timestamp>``, e.g. ``ocean_breakout_20261123-145512``."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", env_id.replace("/", "_")) + "_" + stamp


class RunFolder:
    """Paths of one run. Creating the object creates nothing; :meth:`create` makes the folders."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.config = self.root / "config.toml"
        self.metrics = self.root / "metrics.jsonl"
        self.curve = self.root / "curve.png"
        self.checkpoints = self.root / "checkpoints"

    def create(self) -> RunFolder:
        """Make the folders; remove temporaries that a killed run left half-written (``.NAME.XXXX.tmp``).

        Only one run writes a run folder at a time, so every temporary found here is debris.
        """
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.checkpoints):
            for debris in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    debris.unlink()
        return self

    def write_config(self, config_dict: Mapping[str, Any]) -> None:
        """Write the resolved config as TOML (loadable again with ``puffer train ENV --config``)."""
        text = (
            "# Resolved config of this run (trainer defaults <- env defaults <- --config file <- overrides)\n"
        )
        text += to_toml(config_dict)
        with atomic_write(self.config) as handle:
            handle.write(text.encode())


def to_toml(data: Mapping[str, Any]) -> str:
    """Serialize a dict of plain data (str, bool, int, float, lists, nested dicts) as TOML.

    TOML has no null: keys whose value is None are written as comments so the file still shows them.
    """
    lines: list[str] = []
    _write_table(lines, data, ())
    return "\n".join(lines).strip() + "\n"


def _write_table(lines: list[str], table: Mapping[str, Any], path: tuple[str, ...]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if path and (scalars or not tables):
        lines.append("")
        lines.append("[" + ".".join(_key(p) for p in path) + "]")
    for key, value in scalars:
        if value is None:
            lines.append(f"# {_key(key)} = (unset)")
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables:
        _write_table(lines, value, (*path, str(key)))


def _key(key: Any) -> str:
    key = str(key)
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if hasattr(value, "item"):  # numpy scalars
        return _value(value.item())
    if isinstance(value, os.PathLike):
        return json.dumps(os.fspath(value))
    raise TypeError(f"cannot write {type(value).__name__} value {value!r} to TOML (expected plain data)")
