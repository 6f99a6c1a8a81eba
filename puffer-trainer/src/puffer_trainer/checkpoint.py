"""Checkpoints: atomic writes, safe loads and the checks that make a resumed run continue where it stopped.

A checkpoint is the :meth:`Trainer.state_dict` (model, optimizer, scheduler, global step, epoch, RNG states)
plus plain-data metadata: the resolved config as a dict and a ``puffer`` header (format, version, env id,
number of ranks). Everything in it loads with ``torch.load(weights_only=True)``, so opening a checkpoint never
runs code from it.

Files are written to a temporary file in the destination folder and moved into place with :func:`os.replace`,
so a crash mid-write leaves the previous file untouched.
"""

from __future__ import annotations

import os
import pickle
import pickletools
import shutil
import tempfile
import time
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "atomic_write",
    "check_compatible",
    "checkpoint_name",
    "find_latest",
    "load_checkpoint",
    "make_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "puffer-trainer-checkpoint"
CHECKPOINT_VERSION = 1
LATEST = "latest.pt"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit the env/policy/run it is loaded into."""


def checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint written after ``epoch``: ``epoch_000123.pt``."""
    return f"epoch_{int(epoch):06d}.pt"


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path`` for writing; on success move it over ``path`` atomically.

    The temporary file lives in the same folder so that :func:`os.replace` is a rename on one file system.
    If the body raises, the temporary file is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600 files; results are meant to be read by others
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def make_checkpoint(trainer: Any, config_dict: Mapping[str, Any], env_id: str, world_size: int = 1) -> dict:
    """The dict saved to disk: the trainer's state plus the resolved config and a plain-data header."""
    state = dict(trainer.state_dict())
    state["config"] = _plain(dict(config_dict))
    state["puffer"] = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "env_id": env_id,
        "world_size": int(world_size),
        "global_step": int(getattr(trainer, "global_step", 0)),
        "epoch": int(getattr(trainer, "epoch", 0)),
        "saved_at": time.time(),
    }
    return state


def _plain(value: Any) -> Any:
    """Config values as types ``weights_only`` loading accepts (numpy scalars and paths become plain data)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def save_checkpoint(state: Mapping[str, Any], folder: str | os.PathLike[str], epoch: int) -> Path:
    """Write ``state`` to ``folder/epoch_XXXXXX.pt`` and update ``folder/latest.pt``, both atomically."""
    import torch

    folder = Path(folder)
    path = folder / checkpoint_name(epoch)
    with atomic_write(path) as handle:
        torch.save(dict(state), handle)
    # latest.pt is a copy rather than a link: links are not portable and a copy survives pruning old files.
    with atomic_write(folder / LATEST) as handle, open(path, "rb") as source:
        shutil.copyfileobj(source, handle, length=1 << 20)
    return path


def _pickled_globals(path: Path) -> list[str]:
    """The globals (``module.name``) a plain pickle file would import, found without running it."""
    if zipfile.is_zipfile(path):
        return []
    found: list[str] = []
    strings: list[str] = []
    try:
        with open(path, "rb") as handle:
            for opcode, arg, _ in pickletools.genops(handle):
                if opcode.name == "GLOBAL":
                    found.append(str(arg).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str):
                    strings.append(arg)
    except Exception:  # not a pickle at all, or cut short: then it is just corrupt
        pass
    return found


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``) and check it is one of ours.

    Raises:
        CheckpointError: the file is missing, truncated or corrupt, holds anything but tensors and plain
            data, or is not a puffer-trainer checkpoint (or one of a newer format).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not exist (expected a .pt file written by puffer)"
        )
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing a plain pickle
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        detail = _weights_only_detail(error)
        found = _pickled_globals(path) if "GLOBAL" not in detail else []
        if found:  # a plain pickle (not torch's zip) that the weights-only reader could not even parse
            detail = f"it imports {', '.join(found[:3])}"
        if "GLOBAL" in detail or found:
            raise CheckpointError(
                f"checkpoint {str(path)!r} holds objects other than tensors and plain data; it is not "
                f"loaded, as loading would run code from the file: {detail}"
            ) from error
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or truncated, or not a torch file: {detail}"
        ) from error
    except Exception as error:  # noqa: BLE001 - random bytes make the unpickler raise nearly anything
        # (IndexError, TypeError, struct.error, ... besides the usual EOFError and BadZipFile): all mean the
        # same to the user.
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or truncated and cannot be read: {_first_line(error)}"
        ) from error
    header = state.get("puffer") if isinstance(state, dict) else None
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not a puffer-trainer checkpoint (no '{CHECKPOINT_FORMAT}' header)"
        )
    if int(header.get("version", 0)) > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format version {header.get('version')}, newer than this "
            f"puffer-trainer reads ({CHECKPOINT_VERSION}); upgrade puffer-trainer"
        )
    if not isinstance(state.get("config"), dict):
        raise CheckpointError(f"checkpoint {str(path)!r} has no config dict")
    return state


def check_compatible(state: Mapping[str, Any], trainer: Any, env_id: str, world_size: int = 1) -> None:
    """Raise :class:`CheckpointError` unless ``state`` can be loaded into ``trainer`` for ``env_id``.

    Checks the env id, the number of ranks it was saved with, and that every tensor of the model has the
    same name and shape, so a mismatch is reported by name rather than as a deep torch error.
    """
    header = state["puffer"]
    if header.get("env_id") != env_id:
        raise CheckpointError(
            f"checkpoint was trained on env {header.get('env_id')!r}, but this run is for {env_id!r}"
        )
    saved_ranks = int(header.get("world_size", 1))
    if saved_ranks != int(world_size):
        raise CheckpointError(
            f"checkpoint was saved by a run with {saved_ranks} rank(s); resume it with the same number of "
            f"ranks (this run has {world_size})"
        )
    current = trainer.state_dict()
    for key in ("policy", "model"):
        if key in current and key in state:
            _compare_tensors(state[key], current[key], key)


def _compare_tensors(saved: Any, expected: Any, where: str) -> None:
    if not isinstance(saved, Mapping) or not isinstance(expected, Mapping):
        return
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {where} does not match this policy: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]} "
            "(was it trained with a different policy config?)"
        )
    wrong = []
    for name, tensor in expected.items():
        old = saved[name]
        if hasattr(tensor, "shape") and hasattr(old, "shape") and tuple(old.shape) != tuple(tensor.shape):
            wrong.append(f"{name}: checkpoint {tuple(old.shape)} vs policy {tuple(tensor.shape)}")
    if wrong:
        raise CheckpointError(
            f"checkpoint {where} does not match this env/policy (different observation/action spaces "
            "or policy "
            f"config?): {'; '.join(wrong[:5])}"
        )


def find_latest(
    run_dir: str | os.PathLike[str], env_id: str | None = None, run_name: str | None = None
) -> Path:
    """Path of ``latest.pt`` of the named run, else of the newest run of ``env_id``."""
    run_dir = Path(run_dir)
    if run_name:
        path = run_dir / run_name / "checkpoints" / LATEST
        if not path.is_file():
            raise CheckpointError(
                f"run {run_name!r} in {str(run_dir)!r} has no checkpoint ({path} is missing)"
            )
        return path
    candidates = []
    for path in run_dir.glob(f"*/checkpoints/{LATEST}"):
        if env_id is None or _run_env_id(path.parent.parent) in (env_id, None):
            candidates.append(path)
    if not candidates:
        what = f" for env {env_id!r}" if env_id else ""
        raise CheckpointError(
            f"no run with a checkpoint{what} in {str(run_dir)!r}: nothing to resume as 'latest'"
        )
    return max(candidates, key=lambda p: p.stat().st_mtime)


def _run_env_id(run_folder: Path) -> str | None:
    """The env id recorded in a run folder's ``config.toml``, or None when it cannot be read."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            return None
    try:
        with open(run_folder / "config.toml", "rb") as handle:
            return tomllib.load(handle).get("env_id")
    except (OSError, ValueError):
        return None


def _weights_only_detail(error: BaseException) -> str:
    """The useful line of torch's weights-only refusal (its boilerplate about torch 2.6 left out)."""
    boilerplate = (
        "Weights only load failed",
        "Please file an issue",
        "Check the documentation",
        "In PyTorch",
    )
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(boilerplate)]
    return useful[0] if useful else _first_line(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
