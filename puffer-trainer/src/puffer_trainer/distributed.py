"""torchrun support: one trainer per rank, with rank 0 alone logging and writing files.

``torchrun --nproc-per-node N -m puffer_trainer train ENV`` starts N processes with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. :func:`setup` reads them, initializes the default
process group (NCCL for CUDA devices, gloo otherwise) and pins each rank to its own GPU. Inside training
every collective goes through one :class:`Collectives` object, which does nothing in a single process: the
Trainer and ``ppo_update`` call it at the same points whether or not they run under torchrun.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = [
    "Collectives", "DistInfo", "env_world_size", "setup", "teardown", "any_rank", "gather", "broadcast"
]  # fmt: skip


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
    # torch.distributed.nn's functions take `group=group.WORLD` as a default, evaluated when it is first
    # imported, and building the first torch optimizer imports it (through torch._dynamo). Imported after
    # init_process_group, those defaults keep the group alive past destroy_process_group (teardown), so its
    # gloo worker threads outlive the interpreter's shutdown and one releasing a tensor then aborts the
    # process (SIGABRT, "terminate called without an active exception", about 1 run in 40). Imported now,
    # the defaults are None.
    import torch.distributed.nn  # noqa: F401

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


#: Loss terms a NonFiniteLossError may name, in the order of their codes in :meth:`Collectives.agree`.
LOSS_TERMS = ("policy_loss", "value_loss", "entropy", "loss")


class Collectives:
    """Every collective a training rank takes part in; for a single process each one is a no-op.

    Args:
        device: the rank's training device (NCCL collectives run on it, gloo's on the CPU).

    The ranks must call the same methods in the same order: :meth:`agree` after collection, before every
    gradient all-reduce and at the end of an update; :meth:`average_gradients` before each optimizer step;
    :meth:`average_` for statistics every rank must share (observation normalization).
    """

    def __init__(self, device: Any) -> None:
        import torch

        self.device = torch.device(device)
        self.enabled = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.rank = torch.distributed.get_rank() if self.enabled else 0
        self.world_size = torch.distributed.get_world_size() if self.enabled else 1
        if self.world_size == 1:
            self.enabled = False
        #: The error :meth:`agree` last raised on every rank (so a caller does not report it twice).
        self.agreed_error: BaseException | None = None

    def _device(self) -> Any:
        import torch

        return self.device if torch.distributed.get_backend() == "nccl" else torch.device("cpu")

    def broadcast_module(self, module: Any) -> None:
        """Rank 0's parameters and buffers of ``module`` on every rank (the same initial weights)."""
        if not self.enabled:
            return
        import torch

        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                torch.distributed.broadcast(tensor.data, src=0)

    def agree(
        self,
        where: str,
        failure: Exception | None = None,
        steps: int = 0,
        global_step: int = 0,
        epoch: int = 0,
    ) -> int:
        """Every rank's status in one small all-reduce; raise on every rank if any rank failed.

        Called by all ranks at the same points, also by a rank that has just failed, so that the others stop
        at once with the same diagnosis instead of waiting in the next collective until the process-group
        timeout. Each rank fills its own row ``[status, loss term, minibatch, steps]``; returns the steps
        summed over ranks (``steps`` itself, or ``failure`` raised, in a single process).
        """
        from .errors import NonFiniteLossError, RankFailedError

        if not self.enabled:
            if failure is not None:
                raise failure
            return int(steps)
        import torch

        row = [0.0, 0.0, -1.0, float(steps)]
        if isinstance(failure, NonFiniteLossError):
            term = LOSS_TERMS.index(failure.term) if failure.term in LOSS_TERMS else 0
            minibatch = -1 if failure.minibatch is None else failure.minibatch
            row[:3] = [1.0, float(term), float(minibatch)]
        elif failure is not None:
            row[0] = 2.0
        status = torch.zeros((self.world_size, 4), dtype=torch.float64)
        status[self.rank] = torch.tensor(row, dtype=torch.float64)
        status = status.to(self._device())
        torch.distributed.all_reduce(status)
        rows = status.tolist()
        failed = [rank for rank, r in enumerate(rows) if r[0] > 0]
        if not failed:
            return int(round(sum(r[3] for r in rows)))
        first = failed[0]  # the lowest failed rank's diagnosis, identical on every rank
        kind, term, minibatch, _ = rows[first]
        error: Exception
        if kind == 1:
            mb = None if minibatch < 0 else int(minibatch)
            error = NonFiniteLossError(LOSS_TERMS[int(term)], global_step, epoch, mb, first)
        else:
            # Any other error: one more collective, on this failure path only, to share its type and text.
            texts: list[Any] = [None] * self.world_size
            mine = None if failure is None else (type(failure).__name__, str(failure))
            torch.distributed.all_gather_object(texts, mine)
            error_type, detail = texts[first] or ("Exception", "")
            error = RankFailedError(first, error_type, detail, where)
            if first == self.rank and failure is not None:
                error = failure  # the failed rank keeps its own error and traceback
        self.agreed_error = error
        if error is failure:
            raise error
        raise error from (None if first == self.rank else failure)

    def average_gradients(self, parameters: Any) -> None:
        """Replace every gradient by its mean over ranks (one flat all-reduce)."""
        if not self.enabled:
            return
        import torch

        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        moved = flat.to(self._device())
        torch.distributed.all_reduce(moved)
        moved /= self.world_size
        flat = moved.to(flat.device)
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def average_(self, tensors: Any) -> None:
        """Average each tensor over ranks, in place."""
        if not self.enabled:
            return
        import torch

        for tensor in tensors:
            moved = tensor.to(self._device())
            torch.distributed.all_reduce(moved)
            tensor.copy_(moved / self.world_size)
