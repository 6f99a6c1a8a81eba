"""torchrun support: one trainer per rank, with rank 0 alone logging and writing files.

``torchrun --nproc-per-node N -m puffer_trainer train ENV`` starts N processes with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. :func:`setup` reads them, initializes the default
process group (NCCL for CUDA devices, gloo otherwise) and pins each rank to its own GPU. The Trainer then
wraps its policy in DDP and counts the global step over all ranks; this module does the plumbing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = ["DistInfo", "env_world_size", "setup", "teardown", "any_rank", "gather", "broadcast"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job. ``enabled`` is False for a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False
    initialized_here: bool = False
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that logs, prints and writes files."""
        return self.rank == 0


def env_world_size(environ: Mapping[str, str] | None = None) -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when absent)."""
    environ = os.environ if environ is None else environ
    value = environ.get("WORLD_SIZE", "1")
    try:
        size = int(value)
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be a positive integer, got {value!r}") from None
    if size < 1:
        raise ValueError(f"WORLD_SIZE must be a positive integer, got {value!r}")
    return size


def setup(device: str = "cpu", backend: str | None = None, timeout_s: float = 1800.0) -> DistInfo:
    """Join the torchrun job described by the environment, if any, and return this rank's place in it.

    Args:
        device: the configured training device (``"cpu"``, ``"cuda"``, ``"cuda:1"``). Under torchrun a
            ``"cuda"`` device becomes ``"cuda:<LOCAL_RANK>"``: each rank gets its own GPU.
        backend: process-group backend; default NCCL for CUDA devices and gloo for the CPU.
        timeout_s: collective timeout.

    Returns a :class:`DistInfo` whose ``device`` is the device this rank must train on.
    """
    import torch
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # someone else (a lab's own launcher) set it up
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        return DistInfo(rank, world, local, world > 1, False, _rank_device(device, local))
    world = env_world_size()
    if world == 1:
        return DistInfo(device=device)
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed support")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise RuntimeError(
                f"WORLD_SIZE={world} but {name} is not set: start multi-process runs with torchrun, e.g. "
                "`torchrun --nproc-per-node 2 -m puffer_trainer train ENV`"
            )
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    rank_device = _rank_device(device, local)
    if rank_device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} was requested but CUDA is not available on rank {rank}")
        torch.cuda.set_device(torch.device(rank_device))
    backend = backend or ("nccl" if rank_device.startswith("cuda") else "gloo")
    kwargs: dict[str, Any] = {"backend": backend, "timeout": timedelta(seconds=timeout_s)}
    if backend == "nccl":
        kwargs["device_id"] = torch.device(rank_device)
    dist.init_process_group(**kwargs)
    return DistInfo(rank, world, local, True, True, rank_device)


def _rank_device(device: str, local_rank: int) -> str:
    return f"cuda:{local_rank}" if device == "cuda" else device


def teardown(info: DistInfo) -> None:
    """Destroy the process group if :func:`setup` created it."""
    if info.initialized_here:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank if ``flag`` is True on any rank (so all ranks stop at the same update)."""
    if not info.enabled:
        return bool(flag)
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_collective_device(info))
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def gather(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj`` (picklable, from our own processes), in rank order, on every rank."""
    if not info.enabled:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    import torch.distributed as dist

    box = [obj if info.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _collective_device(info: DistInfo) -> str:
    import torch.distributed as dist

    return info.device if dist.get_backend() == "nccl" else "cpu"
