"""Weights & Biases logging (the ``wandb`` extra), imported only when a run asks for it.

With no API key configured the run is logged in offline mode (``wandb sync`` uploads it later), so
``--wandb`` works on a machine with no account. Only rank 0 creates this sink.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import Snapshot

__all__ = ["WandbLogger", "choose_mode"]

INSTALL_HINT = "pip install 'puffer-trainer[wandb]'"


def choose_mode(environ: Mapping[str, str] | None = None) -> str:
    """``WANDB_MODE`` if set; else "online" with an API key (env or netrc login), else "offline"."""
    environ = os.environ if environ is None else environ
    if environ.get("WANDB_MODE"):
        return environ["WANDB_MODE"]
    if environ.get("WANDB_API_KEY"):
        return "online"
    netrc = Path(environ.get("NETRC", Path.home() / ".netrc"))
    try:
        if "api.wandb.ai" in netrc.read_text(errors="ignore"):
            return "online"
    except OSError:
        pass
    return "offline"


class WandbLogger:
    """Logs each snapshot's flat metrics to a wandb run."""

    def __init__(
        self,
        project: str,
        run_name: str,
        config: Mapping[str, Any],
        run_folder: str | os.PathLike[str],
        resume_id: str | None = None,
        group: str | None = None,
    ) -> None:
        try:
            import wandb
        except ImportError as error:
            raise ImportError(
                f"--wandb needs the wandb package, which is not installed: {INSTALL_HINT} "
                "(or run without --wandb / --run.wandb false)"
            ) from error
        self.mode = choose_mode()
        self.run = wandb.init(
            project=project,
            name=run_name,
            id=resume_id or _run_id(run_name),
            resume="allow",
            group=group,
            config=dict(config),
            dir=str(run_folder),
            mode=self.mode,
        )

    def log(self, snapshot: Snapshot) -> None:
        record = snapshot.flat()
        step = int(record.pop("step"))
        record["global_step"] = step
        self.run.log(record, step=step)

    def message(self, text: str) -> None:
        """Console messages are not sent to wandb."""

    def close(self) -> None:
        self.run.finish()


def _run_id(run_name: str) -> str:
    # wandb ids allow letters, digits, '-' and '_'; the run name is unique per run folder.
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in run_name)[:64]
