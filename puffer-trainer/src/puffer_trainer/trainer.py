"""The Trainer: collect experience from an async vector env, then PPO updates with puff advantage and replay.

Drive it in your own loop::

    trainer = Trainer(load_config("ocean/squared"))
    while not trainer.done:
        episode_stats = trainer.evaluate()   # one batch of experience
        losses = trainer.train()             # one update over it
    trainer.close()
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from .buffer import ExperienceBuffer
from .config import Config, batch_sizes, resolve_device
from .cuda_graphs import GraphedOptimizerStep, GraphedPolicyStep
from .distributed import Collectives
from .optim import build_optimizer, build_scheduler
from .policies import ActionDist, ObsNormalizer, make_policy, torch_dtype
from .ppo import ppo_update

# ObsNormalizer lives beside the policies; it is still importable from here as in 0.1.0.
__all__ = ["Trainer", "ObsNormalizer"]

#: Most captured rollout steps kept (one per batch layout: an async vector env alternates a few).
MAX_GRAPHS = 8


def _choose_threads(config: Config, env_workers: int, world_size: int) -> tuple[int, int]:
    """Torch intra-op threads for (learning, collection).

    Learning uses ``train.torch_threads`` if set, else every core left by the vector env's worker processes
    (and by the other ranks): while the policy learns, the env waits for actions, so nothing else of this run
    needs a core. Collection uses as many when the env steps in this process (no workers: it and inference
    take turns), else at most half of them: worker processes step while the policy infers, and oversubscribed
    cores make OpenMP threads spin and wait (on 2 busy cores one thread ran collection 20x faster than two).
    On 2 quiet cores, breakout's CPU config (serial env) trained at 43k SPS with one thread for each, 62k with
    two learning threads, 72k with two for collection too (2026-11-30).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    available = max(1, cores // max(world_size, 1) - env_workers)
    learn = int(config.train.torch_threads) if config.train.torch_threads > 0 else available
    return learn, learn if env_workers == 0 else max(1, min(learn, available // 2))


class Trainer:
    """PPO trainer over a vector env.

    Args:
        config: the resolved :class:`~puffer_trainer.config.Config`.
        vecenv: a ``puffer_core.vector`` env; ``None`` builds one from ``config`` (closed by :meth:`close`).
        policy: any ``nn.Module`` following the :mod:`puffer_trainer.policies` protocol; ``None`` builds the
            default one from ``config.policy``.

    Under ``torch.distributed`` each rank runs its own Trainer with its own env and seed (``seed + rank``);
    rank 0's initial weights are broadcast and gradients are averaged over ranks before every optimizer step,
    all through one :class:`~puffer_trainer.distributed.Collectives` (``self.sync``).
    """

    def __init__(self, config: Config, vecenv: Any = None, policy: nn.Module | None = None) -> None:
        self.config = config
        tc = config.train
        self.device = torch.device(resolve_device(tc.device)[0])
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"train.device is {tc.device!r} but CUDA is not available in this torch build")
        self.sync = Collectives(self.device)
        self.rank, self.world_size = self.sync.rank, self.sync.world_size
        self.seed = int(tc.seed) + self.rank
        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        torch.manual_seed(self.seed)

        self._owns_vecenv = vecenv is None
        if vecenv is None:
            import puffer_core.vector

            vc = config.vec
            vecenv = puffer_core.vector.make(
                config.env_id,
                num_envs=vc.num_env_objects,
                backend=vc.backend,
                num_workers=vc.num_workers,
                batch_size=vc.batch_size,
                seed=self.seed * 100_003,
                env_kwargs=dict(config.env),
            )
        self.vecenv = vecenv
        # The vector env decided how many worker processes it runs; the threads fit around them.
        workers = int(getattr(vecenv, "num_workers", 0) or 0)
        self.torch_threads, self._collect_threads = _choose_threads(config, workers, self.world_size)
        if self.torch_threads != torch.get_num_threads():
            torch.set_num_threads(self.torch_threads)
        try:
            self._setup(policy)
        except BaseException:
            self.close()
            raise

    # -- construction -------------------------------------------------------------------------------------
    def _setup(self, policy: nn.Module | None) -> None:
        tc = self.config.train
        vecenv = self.vecenv
        self.num_agents = int(vecenv.num_agents)
        sizes = batch_sizes(tc, self.num_agents)
        self.horizon = sizes.horizon
        self.segments = sizes.segments
        self.minibatch_segments = sizes.minibatch_segments
        #: Human-readable lines on sizes the Trainer derived (``puffer train`` prints them; it never logs).
        self.notes: list[str] = list(sizes.notes)
        if tc.accumulate_minibatches < 1 or tc.update_epochs < 1:
            raise ValueError("train.accumulate_minibatches and train.update_epochs must be >= 1")
        if not 0 <= tc.prio_beta0 <= 1:
            raise ValueError(f"train.prio_beta0 must lie in [0, 1], got {tc.prio_beta0}")

        obs_space = vecenv.single_observation_space
        self.obs_shape = tuple(obs_space.shape)
        self.dist = ActionDist(vecenv.single_action_space)
        if policy is None:
            policy = make_policy(self.config, vecenv)
        if not isinstance(policy, nn.Module):
            raise TypeError(f"policy must be a torch.nn.Module, got {type(policy).__name__}")
        self.policy = policy.to(self.device)
        self.recurrent = bool(getattr(policy, "is_recurrent", False))
        self._use_graphs = bool(tc.cuda_graphs) and self.device.type == "cuda" and not tc.compile
        self.buffer = ExperienceBuffer(
            self.segments,
            self.horizon,
            self.num_agents,
            self.obs_shape,
            torch_dtype(obs_space.dtype),
            self.dist.buffer_shape,
            self.dist.buffer_dtype,
            self.device,
            cuda_graphs=self._use_graphs,
        )
        self.obs_norm = ObsNormalizer(self.obs_shape).to(self.device) if tc.normalize_obs else None
        self.sync.broadcast_module(self.policy)

        self.optimizer = build_optimizer(self.policy, tc)
        # Steady state: each row holds horizon - 1 new steps (rows of an agent overlap by one).
        steps_per_epoch = self.segments * (self.horizon - 1) * self.world_size
        self.total_epochs = max(1, math.ceil(tc.total_timesteps / steps_per_epoch))
        self.scheduler = build_scheduler(self.optimizer, self.total_epochs, tc.anneal_lr, tc.min_lr_ratio)

        self._train_forward = self.policy
        self._eval_forward = self.policy
        if tc.compile:
            self._train_forward = torch.compile(self.policy)
            self._eval_forward = torch.compile(self.policy)
        self._autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16) if tc.bf16 else contextlib.nullcontext()
        )
        #: Captured rollout steps by (first agent, batch size); see :mod:`puffer_trainer.cuda_graphs`.
        self._graphs: dict[tuple[int, int], GraphedPolicyStep] = {}
        if tc.cuda_graphs and not self._use_graphs:
            why = "train.compile is on" if tc.compile else f"the device is {self.device}"
            self.notes.append(f"train.cuda_graphs is ignored: {why}")
        # The optimizer step too, when the optimizer can read its learning rate from a tensor (muon).
        self._optimizer_step: GraphedOptimizerStep | None = None
        if self._use_graphs and hasattr(self.optimizer, "use_lr_tensors"):
            trainable = [p for p in self.policy.parameters() if p.requires_grad]
            self._optimizer_step = GraphedOptimizerStep(self.optimizer, trainable, tc.max_grad_norm)
        self._state = self.policy.initial_state(self.num_agents, self.device) if self.recurrent else None

        self.global_step = 0
        self.epoch = 0
        self.timings = {"env": 0.0, "inference": 0.0, "copy": 0.0, "learn": 0.0}
        self._info_sums: dict[str, float] = {}
        self._info_counts: dict[str, float] = {}
        #: How many episodes (or env reports) each statistic of the last :meth:`evaluate` averaged, so that
        #: a caller averaging several epochs can weight each by its episodes.
        self.last_info_counts: dict[str, float] = {}
        env_device = str(getattr(vecenv, "device", "cpu"))
        # A tensor env ("cpu:0", "cuda", ...) hands its tensors straight to the policy and the buffer.
        self._gpu_env = env_device != "cpu"
        if self._gpu_env and not _same_device(torch.device(env_device), self.device):
            self.notes.append(
                f"the env keeps its tensors on {env_device} but train.device is {self.device}: every step is "
                f"copied between them; set --train.device {torch.device(env_device).type} to train where the "
                "env lives"
            )
        self._pinned: tuple[torch.Tensor, torch.Tensor] | None = None
        self._staged: torch.cuda.Event | None = None
        if self.device.type == "cuda" and not self._gpu_env:
            capacity = int(getattr(vecenv, "agents_per_batch", self.num_agents) or self.num_agents)
            self._pinned = (
                torch.empty((capacity, *self.obs_shape), dtype=torch_dtype(obs_space.dtype), pin_memory=True),
                torch.empty(4 * capacity, dtype=torch.float32, pin_memory=True),
            )
            self._device_staging = (
                torch.empty_like(self._pinned[0], device=self.device),
                torch.empty_like(self._pinned[1], device=self.device),
            )
        self.vecenv.async_reset(self.seed * 100_003)

    # -- public state --------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once ``global_step`` reached ``train.total_timesteps``."""
        return self.global_step >= self.config.train.total_timesteps

    # -- collection ----------------------------------------------------------------------------------------
    def _to_device(self, array: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
        if isinstance(array, torch.Tensor):
            tensor = array
        else:
            tensor = torch.from_numpy(np.ascontiguousarray(array))
        tensor = tensor.to(self.device, non_blocking=True)
        return tensor if dtype is None or tensor.dtype == dtype else tensor.to(dtype)

    def _stage(self, obs: Any, *flags: Any) -> tuple[torch.Tensor, ...]:
        """Host step data to the GPU in two copies through reused pinned buffers (no pageable stalls).

        The copies land in reused device tensors too, so every step hands the policy and the buffer the same
        storage (what their captured CUDA graphs replay on); flags stay float 0/1 and are compared on use.
        """
        pin_obs, pin_misc = self._pinned
        dev_obs, dev_misc = self._device_staging
        n = len(obs)
        if self._staged is not None:
            self._staged.synchronize()  # the last step's copies must have left the staging buffers
        pin_obs[:n].copy_(torch.from_numpy(np.asarray(obs)))
        misc = pin_misc[: 4 * n].view(4, n)
        for i, flag in enumerate(flags):
            misc[i].copy_(torch.from_numpy(np.asarray(flag)))
        obs_t = dev_obs[:n]
        obs_t.copy_(pin_obs[:n], non_blocking=True)
        misc_t = dev_misc[: 4 * n].view(4, n)
        misc_t.copy_(misc, non_blocking=True)
        self._staged = torch.cuda.Event()
        self._staged.record()
        return obs_t, misc_t[0], misc_t[1], misc_t[2], misc_t[3]

    def _add_infos(self, infos: list[dict[str, float]]) -> None:
        sums, counts = self._info_sums, self._info_counts
        for info in infos:
            n = float(info.get("n", 1.0))
            for key, value in info.items():
                if key == "n":
                    continue
                try:
                    v = float(value)
                except (TypeError, ValueError):
                    continue
                sums[key] = sums.get(key, 0.0) + v * n
                counts[key] = counts.get(key, 0.0) + n

    def evaluate(self) -> dict[str, float]:
        """Collect experience until the buffer is full; return mean finished-episode stats since last call."""
        was_training = self.policy.training
        self.policy.eval()
        if torch.get_num_threads() != self._collect_threads:
            torch.set_num_threads(self._collect_threads)
        failure: Exception | None = None
        local_steps = 0
        try:
            local_steps = self._collect()
        except Exception as error:
            if self.world_size == 1:
                raise
            failure = error  # the other ranks must hear of it, or they would wait for this rank forever
        finally:
            if was_training:
                self.policy.train()
        self.global_step += self.sync.agree("evaluate", failure, local_steps, self.global_step, self.epoch)
        if self.obs_norm is not None:
            self.sync.average_((self.obs_norm.mean, self.obs_norm.var))
        sums, counts = self._info_sums, self._info_counts
        stats = {k: sums[k] / counts[k] for k in sums if counts[k]}
        self.last_info_counts = {k: counts[k] for k in stats}
        self._info_sums, self._info_counts = {}, {}
        return stats

    def _collect(self) -> int:
        """Fill the buffer from the vector env; returns the number of agent steps this rank received."""
        tc = self.config.train
        buf = self.buffer
        timings = self.timings
        policy = self._eval_forward
        clock = time.perf_counter
        local_steps = 0
        if self._state is not None:
            # Training runs every segment from a zero state; starting each batch's collection from zero too
            # keeps the two within one step of each other (the row's bootstrap step), as the reference does.
            for s in self._state:
                s.zero_()
        with torch.no_grad():
            while not buf.full:
                t0 = clock()
                obs, rewards, terminals, truncations, infos, env_ids, masks = self.vecenv.recv()
                t1 = clock()
                timings["env"] += t1 - t0
                if infos:
                    self._add_infos(infos)
                # GPU-native envs may hand back their slot ids as a device tensor.
                ids = env_ids.cpu().numpy() if isinstance(env_ids, torch.Tensor) else np.asarray(env_ids)
                n = ids.shape[0]
                local_steps += n
                staged = None
                if self._pinned is not None and n <= self._pinned[0].shape[0]:
                    staged = self._stage(obs, rewards, terminals, truncations, masks)
                    obs_t, rew_t, term_t, trunc_t, mask_t = staged
                else:
                    obs_t = self._to_device(obs)
                    rew_t = self._to_device(rewards, torch.float32)
                    term_t = self._to_device(terminals, torch.bool)
                    trunc_t = self._to_device(truncations, torch.bool)
                    mask_t = self._to_device(masks, torch.bool)
                if tc.reward_clip > 0 and staged is not None:
                    rew_t.clamp_(-tc.reward_clip, tc.reward_clip)  # our staging copy: same storage each step
                elif tc.reward_clip > 0:
                    rew_t = rew_t.clamp(-tc.reward_clip, tc.reward_clip)  # the env's own tensor stays as sent
                policy_obs = obs_t
                if self.obs_norm is not None:
                    self.obs_norm.update(obs_t.reshape(n, -1).reshape(obs_t.shape), mask_t.bool())
                    policy_obs = self.obs_norm(obs_t)
                t2 = clock()
                timings["copy"] += t2 - t1

                contiguous = False
                if self.recurrent:
                    span = n > 0 and ids[-1] - ids[0] + 1 == n
                    contiguous = span and (n == 1 or bool((np.diff(ids) == 1).all()))
                graphed = None
                if self._use_graphs and n > 0 and (contiguous or not self.recurrent):
                    graphed = self._graph(int(ids[0]) if self.recurrent else 0, n, policy_obs)
                if graphed is not None:
                    actions, logprobs, values = graphed(policy_obs)
                else:
                    actions, logprobs, values = self._infer(policy, policy_obs, ids, contiguous)
                t3 = clock()
                timings["inference"] += t3 - t2

                buf.store(
                    ids, obs_t, actions, logprobs, values, rew_t, term_t, trunc_t, mask_t, gamma=tc.gamma
                )
                env_actions = actions if self._gpu_env else self.dist.to_env(actions)
                t4 = clock()
                timings["copy"] += t4 - t3
                self.vecenv.send(env_actions)
                timings["env"] += clock() - t4
        return local_steps

    def _infer(
        self, policy: Any, obs: torch.Tensor, ids: np.ndarray, contiguous: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One eager rollout step for the agents ``ids``: actions, logprobs, values; the state is updated."""
        with self._autocast:
            if not self.recurrent:
                params, values, _ = policy(obs, None)
            else:
                if contiguous:
                    where: Any = slice(int(ids[0]), int(ids[0]) + len(ids))
                else:
                    where = self._to_device(ids.astype(np.int64))
                params, values, new_state = policy(obs, tuple(s[where] for s in self._state))
                for s, ns in zip(self._state, new_state):
                    s[where] = ns
            actions, logprobs = self.dist.sample(params)
        return actions, logprobs, values

    def _graph(self, first: int, n: int, obs: torch.Tensor) -> GraphedPolicyStep | None:
        """The captured step for agents ``first .. first + n`` (captured on first use), or None for eager."""
        key = (first, n)
        graphed = self._graphs.get(key)
        if graphed is not None or len(self._graphs) >= MAX_GRAPHS:
            return graphed  # beyond MAX_GRAPHS batch layouts (varying batches) the rest run eagerly
        state = tuple(s[first : first + n] for s in self._state) if self.recurrent else None
        bf16 = self.config.train.bf16
        try:
            graphed = GraphedPolicyStep(
                self._eval_forward, self.dist.sample, obs, state,
                lambda: torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
                if bf16 else contextlib.nullcontext(),
            )  # fmt: skip
        except Exception as error:  # e.g. a custom policy that syncs with the host inside forward()
            self._use_graphs = False
            warnings.warn(
                f"train.cuda_graphs: capturing the policy step failed ({type(error).__name__}: {error}); "
                "the rollout runs eagerly",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        self._graphs[key] = graphed
        return graphed

    # -- learning ------------------------------------------------------------------------------------------
    def train(self) -> dict[str, float]:
        """One PPO update over the collected batch; returns loss statistics.

        Raises:
            NonFiniteLossError: a loss term became NaN/inf (no optimizer step was taken with it). Under
                ``torch.distributed`` every rank raises it, naming the rank whose loss went bad.
            RankFailedError: under ``torch.distributed``, another rank failed with some other error.
        """
        if not self.buffer.full:
            raise RuntimeError("train() needs a full buffer: call evaluate() first")
        start = time.perf_counter()
        if torch.get_num_threads() != self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        try:
            stats = ppo_update(
                self.buffer, self.policy, self.optimizer, self.config.train, self.sync,
                minibatch_segments=self.minibatch_segments,
                progress=self.global_step / max(self.config.train.total_timesteps, 1),
                obs_norm=self.obs_norm, forward=self._train_forward, autocast=self._autocast,
                action_dist=self.dist, global_step=self.global_step, epoch=self.epoch,
                optimizer_step=self._optimizer_step,
            )  # fmt: skip
            self.scheduler.step()
            self.epoch += 1
            self.sync.agree("train", global_step=self.global_step, epoch=self.epoch)  # a late failure
        except Exception as error:
            self.optimizer.zero_grad(set_to_none=True)
            self.timings["learn"] += time.perf_counter() - start
            if self.world_size == 1 or error is self.sync.agreed_error:
                raise  # this rank's own error in a single process, or one every rank already raises
            # Tell the other ranks; raises on every rank, this one included.
            self.sync.agree("train", error, global_step=self.global_step, epoch=self.epoch)
            raise
        self.buffer.reset()
        self.timings["learn"] += time.perf_counter() - start
        return stats

    # -- checkpoints ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Model, optimizer, scheduler, counters and RNG states: tensors and plain data only.

        Loads with ``torch.load(path, weights_only=True)``.
        """
        np_state = np.random.get_state()
        py_state = random.getstate()
        state: dict[str, Any] = {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "global_step": int(self.global_step),
            "epoch": int(self.epoch),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy": {
                    "kind": str(np_state[0]),
                    "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                    "pos": int(np_state[2]),
                    "has_gauss": int(np_state[3]),
                    "cached_gaussian": float(np_state[4]),
                },
                "python": {"version": int(py_state[0]), "state": list(py_state[1]), "gauss": py_state[2]},
            },
        }
        if self.obs_norm is not None:
            state["obs_norm"] = self.obs_norm.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (ValueError on a policy or optimizer that does not match)."""
        try:
            self.policy.load_state_dict(state["policy"])
        except RuntimeError as exc:
            raise ValueError(f"checkpoint does not match this policy: {exc}") from None
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise ValueError(f"checkpoint optimizer state does not match this optimizer: {exc}") from None
        self.scheduler.load_state_dict(state["scheduler"])
        self.global_step = int(state["global_step"])
        self.epoch = int(state["epoch"])
        if self.obs_norm is not None and "obs_norm" in state:
            self.obs_norm.load_state_dict(state["obs_norm"])
        rng = state.get("rng")
        if rng:
            torch.set_rng_state(rng["torch"])
            if rng.get("cuda") and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])
            npr = rng["numpy"]
            np.random.set_state(
                (npr["kind"], npr["keys"].numpy().astype(np.uint32), npr["pos"], npr["has_gauss"],
                 npr["cached_gaussian"])
            )  # fmt: skip
            py = rng["python"]
            random.setstate((py["version"], tuple(py["state"]), py["gauss"]))

    def close(self) -> None:
        """Close the vector env if this Trainer made it. Safe to call twice."""
        if getattr(self, "_owns_vecenv", False) and self.vecenv is not None:
            self.vecenv.close()
            self._owns_vecenv = False


def _same_device(a: torch.device, b: torch.device) -> bool:
    """Whether tensors on ``a`` and ``b`` share memory (``cpu`` and ``cpu:0`` do; ``cuda`` is ``cuda:0``)."""
    if a.type != b.type:
        return False
    if a.type == "cpu":
        return True
    current = torch.cuda.current_device() if a.type == "cuda" and torch.cuda.is_available() else 0
    return (current if a.index is None else a.index) == (current if b.index is None else b.index)
