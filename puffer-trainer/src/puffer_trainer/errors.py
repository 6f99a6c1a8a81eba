"""Errors a training run raises (torch-free, so that ``import puffer_trainer`` stays light)."""

from __future__ import annotations

__all__ = ["NonFiniteLossError", "RankFailedError"]


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; raised before the optimizer step, so the weights are still good.

    Under ``torch.distributed`` every rank raises it with the same message when any rank's loss went bad.

    Attributes:
        term: the first non-finite term (``"policy_loss"``, ``"value_loss"``, ``"entropy"`` or ``"loss"``).
        step: the global step (agent steps collected) when it happened.
        epoch, minibatch: where in the update it happened (None when unknown).
        rank: the rank whose loss went bad in a multi-process run, else None.
    """

    def __init__(
        self,
        term: str,
        step: int,
        epoch: int | None = None,
        minibatch: int | None = None,
        rank: int | None = None,
    ) -> None:
        self.term = term
        self.step = step
        self.epoch = epoch
        self.minibatch = minibatch
        self.rank = rank
        where = f"global step {step}"
        if epoch is not None:
            where += f" (epoch {epoch}, minibatch {minibatch})"
        if rank is not None:
            where += f" on rank {rank}"
        super().__init__(
            f"non-finite {term} at {where}: the update was not applied. Usual causes: a learning rate too "
            "high, unbounded rewards or observations (try train.reward_clip / train.normalize_obs), or NaN "
            "from the env"
        )

    def __reduce__(self):  # picklable with its attributes (multiprocessing, torch.multiprocessing.spawn)
        return (type(self), (self.term, self.step, self.epoch, self.minibatch, self.rank))


class RankFailedError(RuntimeError):
    """Another rank of a multi-process run failed; this rank stops too instead of waiting for it forever.

    Attributes:
        rank: the failed rank (the lowest one when several failed).
        error_type: the class name of that rank's error.
        detail: that rank's error message.
        where: ``"train"`` or ``"evaluate"``.
    """

    def __init__(self, rank: int, error_type: str, detail: str, where: str) -> None:
        self.rank = rank
        self.error_type = error_type
        self.detail = detail
        self.where = where
        super().__init__(
            f"rank {rank} failed in {where}(): {error_type}: {detail} (see rank {rank}'s output); "
            "this rank stopped too"
        )

    def __reduce__(self):
        return (type(self), (self.rank, self.error_type, self.detail, self.where))
