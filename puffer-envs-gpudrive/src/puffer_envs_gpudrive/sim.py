"""The batched driving simulator: every world stepped at once as torch tensor operations on one device.

State is ``[W, A]`` tensors (``W`` worlds, ``A`` object slots per world). Each world plays one scenario; its
slots hold the scenario's objects. Controlled slots are driven by actions through a kinematic bicycle model;
the other objects replay their logged trajectory (``non_controlled="log"``) or stay where they start
(``"static"``). Nothing here leaves the device except what :meth:`DriveSim.episode_stats` hands out.

Kinematic bicycle model (centre of gravity halfway along the vehicle, as Nocturne/GPUDrive's "classic"),
with ``dt`` seconds per step, steering angle ``delta`` and acceleration ``a``::

    v'     = clamp(v + a dt, -max_speed, max_speed)
    beta   = atan(tan(delta) / 2)                      # slip angle at the centre of gravity
    x'     = x + v' cos(theta + beta) dt
    y'     = y + v' sin(theta + beta) dt
    theta' = wrap(theta + v' cos(beta) tan(delta) / length * dt)

Events, tested after the move on the new state: *goal* (within ``goal_radius`` of the goal), *collision*
(the vehicle's box overlaps another present object's box: separating-axis test on oriented boxes), *off-road*
(the box touches a road-edge segment). Each controlled agent's episode ends on reaching its goal, and on a
collision/off-road when ``end_on_collision``/``end_on_offroad`` (then it is removed from the world, like
GPUDrive's ``"remove"`` behaviours); at ``episode_length`` steps the survivors are truncated. A world resets
(to a new scenario when ``resample_scenarios``) once all its controlled agents are done or time is up;
agents done earlier wait with ``alive`` False until then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .scenario import ROAD_EDGE, ROAD_LANE, ROAD_LINE
from .tensors import ScenarioTensors

__all__ = ["SimConfig", "DriveSim", "EGO_FEATURES", "PARTNER_FEATURES", "ROAD_FEATURES", "bicycle_step"]

#: Per-agent observation fields, in order (see :class:`DriveSim.observe`).
EGO_FEATURES = ("speed", "length", "width", "goal_x", "goal_y", "collided")
PARTNER_FEATURES = ("speed", "x", "y", "cos_heading", "sin_heading", "length", "width")
ROAD_FEATURES = ("x", "y", "length", "cos_dir", "sin_dir", "is_edge", "is_lane", "is_line")


def _default_steer() -> list[float]:
    return [round(-1.0 + k / 6.0, 4) for k in range(13)]  # GPUDrive's 13 steering angles in [-1, 1] rad


def _default_accel() -> list[float]:
    return [float(a) for a in range(-3, 4)]  # GPUDrive's 7 accelerations in [-3, 3] m/s^2


@dataclass
class SimConfig:
    """Everything about the simulation that is not a scenario. Units: metres, seconds, radians."""

    num_worlds: int = 64
    max_agents: int = 64
    #: At most this many vehicles per world are controlled (the first controllable ones).
    max_controlled: int = 64
    dt: float = 0.1
    episode_length: int = 91
    #: "discrete": one index over the steering x acceleration grid (steer-major);
    #: "continuous": [steer, accel].
    action_type: str = "discrete"
    steer_values: list[float] = field(default_factory=_default_steer)
    accel_values: list[float] = field(default_factory=_default_accel)
    #: Continuous actions: the vehicle's limits. Actions beyond them saturate unless clip_continuous is False,
    #: which raises instead.
    max_steer: float = 1.0
    max_accel: float = 3.0
    clip_continuous: bool = True
    #: Speed limit of the bicycle model (and the speed normalization of observations).
    max_speed: float = 30.0
    #: "log": uncontrolled objects replay their logs; "static": they stay at their first position.
    non_controlled: str = "log"
    goal_radius: float = 2.0
    goal_reward: float = 1.0
    collision_reward: float = -0.5
    offroad_reward: float = -0.5
    end_on_collision: bool = True
    end_on_offroad: bool = True
    resample_scenarios: bool = True
    #: Observation: partners and road segments within obs_radius, nearest first.
    num_partners: int = 8
    num_road_points: int = 32
    obs_radius: float = 50.0
    #: Goal offsets are divided by this in observations.
    goal_scale: float = 100.0

    def validate(self) -> None:
        for name in ("num_worlds", "max_agents", "max_controlled", "episode_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.action_type not in ("discrete", "continuous"):
            raise ValueError(f"action_type must be 'discrete' or 'continuous', got {self.action_type!r}")
        if self.non_controlled not in ("log", "static"):
            raise ValueError(f"non_controlled must be 'log' or 'static', got {self.non_controlled!r}")
        if not self.steer_values or not self.accel_values:
            raise ValueError("steer_values and accel_values must not be empty")
        for name in ("dt", "max_speed", "goal_radius", "obs_radius", "goal_scale", "max_steer", "max_accel"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("num_partners", "num_road_points"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be an int >= 0, got {getattr(self, name)!r}")

    @property
    def obs_size(self) -> int:
        return (
            len(EGO_FEATURES)
            + self.num_partners * len(PARTNER_FEATURES)
            + self.num_road_points * len(ROAD_FEATURES)
        )


def wrap_angle(angle: torch.Tensor) -> torch.Tensor:
    """Angles wrapped into ``[-pi, pi)``."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def bicycle_step(
    x: torch.Tensor, y: torch.Tensor, heading: torch.Tensor, speed: torch.Tensor, steer: torch.Tensor,
    accel: torch.Tensor, length: torch.Tensor, dt: float, max_speed: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """One step of the kinematic bicycle model (module docstring); returns ``x, y, heading, speed``."""
    v = torch.clamp(speed + accel * dt, -max_speed, max_speed)
    tan_steer = torch.tan(steer)
    beta = torch.atan(0.5 * tan_steer)
    x = x + v * torch.cos(heading + beta) * dt
    y = y + v * torch.sin(heading + beta) * dt
    heading = wrap_angle(heading + v * torch.cos(beta) * tan_steer / length * dt)
    return x, y, heading, v


def box_overlaps(
    pos: torch.Tensor, heading: torch.Tensor, length: torch.Tensor, width: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """``bool [W, A]``: each present box overlaps another present box of its world (separating axes).

    ``pos [W, A, 2]``, the rest ``[W, A]``.
    """
    return box_overlap_pairs(pos, heading, length, width, present).any(-1)


def box_overlap_pairs(
    pos: torch.Tensor, heading: torch.Tensor, length: torch.Tensor, width: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """``bool [W, A, A]``: which pairs of present boxes overlap. Two oriented boxes are disjoint iff one of
    the four box axes separates their projections."""
    d = pos[:, None, :, :] - pos[:, :, None, :]  # [W, i, j, 2]: p_j - p_i
    c, s = torch.cos(heading), torch.sin(heading)
    rel = heading[:, None, :] - heading[:, :, None]
    ac, as_ = torch.cos(rel).abs(), torch.sin(rel).abs()
    hl, hw = length / 2, width / 2
    hl_i, hw_i, hl_j, hw_j = hl[:, :, None], hw[:, :, None], hl[:, None, :], hw[:, None, :]
    dx, dy = d[..., 0], d[..., 1]
    on_ui = (dx * c[:, :, None] + dy * s[:, :, None]).abs()
    on_vi = (-dx * s[:, :, None] + dy * c[:, :, None]).abs()
    on_uj = (dx * c[:, None, :] + dy * s[:, None, :]).abs()
    on_vj = (-dx * s[:, None, :] + dy * c[:, None, :]).abs()
    separated = (
        (on_ui > hl_i + hl_j * ac + hw_j * as_)
        | (on_vi > hw_i + hl_j * as_ + hw_j * ac)
        | (on_uj > hl_j + hl_i * ac + hw_i * as_)
        | (on_vj > hw_j + hl_i * as_ + hw_i * ac)
    )
    a = pos.shape[1]
    pair = present[:, :, None] & present[:, None, :] & ~torch.eye(a, dtype=torch.bool, device=pos.device)
    return ~separated & pair


def box_touches_segments(
    pos: torch.Tensor, heading: torch.Tensor, length: torch.Tensor, width: torch.Tensor,
    seg_a: torch.Tensor, seg_b: torch.Tensor, seg_valid: torch.Tensor,
) -> torch.Tensor:  # fmt: skip
    """``bool [W, A]``: each box touches one of its world's segments (``seg_* [W, E, ...]``).

    Separating axes of a box and a segment: the box's two axes and the segment's normal.
    """
    c, s = torch.cos(heading)[:, :, None], torch.sin(heading)[:, :, None]
    hl, hw = (length / 2)[:, :, None], (width / 2)[:, :, None]
    ax = seg_a[:, None, :, 0] - pos[:, :, None, 0]  # [W, A, E]
    ay = seg_a[:, None, :, 1] - pos[:, :, None, 1]
    bx = seg_b[:, None, :, 0] - pos[:, :, None, 0]
    by = seg_b[:, None, :, 1] - pos[:, :, None, 1]
    au, bu = ax * c + ay * s, bx * c + by * s
    av, bv = -ax * s + ay * c, -bx * s + by * c
    sep_u = (torch.minimum(au, bu) > hl) | (torch.maximum(au, bu) < -hl)
    sep_v = (torch.minimum(av, bv) > hw) | (torch.maximum(av, bv) < -hw)
    sx, sy = bx - ax, by - ay
    norm = torch.sqrt(sx * sx + sy * sy).clamp_min(1e-9)
    nx, ny = -sy / norm, sx / norm
    q = (ax * nx + ay * ny).abs()
    radius = hl * (c * nx + s * ny).abs() + hw * (-s * nx + c * ny).abs()
    sep_n = q > radius
    return (~(sep_u | sep_v | sep_n) & seg_valid[:, None, :]).any(-1)


def nearest(dist: torch.Tensor, visible: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the ``k`` nearest visible entries along the last axis (nearest first) and whether each is
    visible. Distances are compared at millimetre resolution with ties broken by index, so the order is
    the same on every device (exact ties are common: a vehicle centred between two parallel lines)."""
    n = dist.shape[-1]
    mm = torch.where(visible, torch.floor(dist * 1000.0), torch.full_like(dist, 1e9)).to(torch.int64)
    key = mm * n + torch.arange(n, device=dist.device)
    j = torch.topk(key, k, dim=-1, largest=False).indices
    return j, torch.gather(visible, -1, j)


class DriveSim:
    """``num_worlds`` driving worlds over a pool of packed scenarios, all on ``scenarios``' device.

    Args:
        config: the :class:`SimConfig` (validated here).
        scenarios: the pool, packed by :func:`~puffer_envs_gpudrive.tensors.pack_scenarios` with the same
            ``max_agents``.
    """

    def __init__(self, config: SimConfig, scenarios: ScenarioTensors) -> None:
        config.validate()
        if scenarios.traj_pos.shape[1] != config.max_agents:
            raise ValueError(
                f"scenarios were packed for {scenarios.traj_pos.shape[1]} agent slots, the config has "
                f"max_agents={config.max_agents}"
            )
        self.config, self.scenarios = config, scenarios
        self.device = scenarios.traj_pos.device
        w, a, dev = config.num_worlds, config.max_agents, self.device
        self.generator = torch.Generator(device=dev)
        self.steer_values = torch.tensor(config.steer_values, dtype=torch.float32, device=dev)
        self.accel_values = torch.tensor(config.accel_values, dtype=torch.float32, device=dev)
        f32 = dict(dtype=torch.float32, device=dev)
        self.scenario_index = torch.zeros(w, dtype=torch.long, device=dev)
        self.t = torch.zeros(w, dtype=torch.long, device=dev)
        self.pos = torch.zeros(w, a, 2, **f32)
        self.heading = torch.zeros(w, a, **f32)
        self.speed = torch.zeros(w, a, **f32)
        self.alive = torch.zeros(w, a, dtype=torch.bool, device=dev)  # controlled and not done
        self.present = torch.zeros(w, a, dtype=torch.bool, device=dev)  # in the world this step
        self.collided = torch.zeros(w, a, dtype=torch.bool, device=dev)  # this step
        self.offroad = torch.zeros(w, a, dtype=torch.bool, device=dev)  # this step
        self.goal_reached = torch.zeros(w, a, dtype=torch.bool, device=dev)  # this step
        # Per-world copies of the scenario data, refreshed when a world resets.
        self._world_fields = ("traj_pos", "traj_heading", "traj_speed", "traj_valid", "length", "width",
                              "goal", "controlled", "present", "edge_a", "edge_b", "edge_valid", "seg_mid",
                              "seg_dir", "seg_len", "seg_type", "seg_valid")  # fmt: skip
        for name in self._world_fields:
            src = getattr(scenarios, name)
            setattr(self, "w_" + name, torch.zeros((w, *src.shape[1:]), dtype=src.dtype, device=dev))
        # Episode bookkeeping per agent, and statistics summed over finished agent episodes.
        self.ep_return = torch.zeros(w, a, **f32)
        self.ep_length = torch.zeros(w, a, **f32)
        self.ep_collided = torch.zeros(w, a, dtype=torch.bool, device=dev)
        self.ep_offroad = torch.zeros(w, a, dtype=torch.bool, device=dev)
        #: [episodes, return, length, goal, collision, offroad, truncated] summed over finished episodes.
        self.stats = torch.zeros(7, dtype=torch.float64, device=dev)
        #: Agent steps taken by controlled agents (live slots) since construction, on the device.
        self.agent_steps = torch.zeros((), dtype=torch.long, device=dev)
        self.step_events: dict[str, torch.Tensor] = {}
        a_idx = torch.arange(a, device=dev)
        self._not_self = a_idx[None, :, None] != a_idx[None, None, :]

    # -- resets -------------------------------------------------------------------------------------------
    def seed(self, seed: int) -> None:
        self.generator.manual_seed(int(seed))

    def reset_all(self) -> None:
        """Every world to step 0 of a scenario: world ``i`` plays scenario ``i mod N`` at the first reset."""
        n = self.scenarios.count
        first = torch.arange(self.config.num_worlds, device=self.device) % n
        self._load(torch.ones(self.config.num_worlds, dtype=torch.bool, device=self.device), first)
        self.stats.zero_()

    def _load(self, worlds: torch.Tensor, scenario: torch.Tensor) -> None:
        """Put worlds ``worlds`` (a bool [W] mask) at step 0 of ``scenario [W]`` (read where ``worlds``).

        Branch-free on accelerators (a host sync to skip the work would cost more than the masked copies);
        on the CPU the copies are skipped when no world resets.
        """
        if self.device.type == "cpu" and not bool(worlds.any()):
            return
        self.scenario_index = torch.where(worlds, scenario, self.scenario_index)
        idx = self.scenario_index
        sel = worlds
        for name in self._world_fields:
            dst = getattr(self, "w_" + name)
            src = getattr(self.scenarios, name)[idx]
            shape = (-1,) + (1,) * (dst.dim() - 1)
            dst.copy_(torch.where(sel.view(shape), src, dst))
        sel2 = sel[:, None]
        self.t = torch.where(sel, torch.zeros_like(self.t), self.t)
        self.pos = torch.where(sel2[..., None], self.w_traj_pos[:, :, 0], self.pos)
        self.heading = torch.where(sel2, self.w_traj_heading[:, :, 0], self.heading)
        self.speed = torch.where(sel2, self.w_traj_speed[:, :, 0], self.speed)
        self.alive = torch.where(sel2, self.w_controlled, self.alive)
        start_present = self.w_present & self.w_traj_valid[:, :, 0]
        self.present = torch.where(sel2, start_present, self.present)
        for name in ("ep_return", "ep_length"):
            setattr(self, name, torch.where(sel2, torch.zeros_like(getattr(self, name)), getattr(self, name)))
        for name in ("ep_collided", "ep_offroad", "collided", "offroad", "goal_reached"):
            setattr(self, name, getattr(self, name) & ~sel2)

    # -- the step -----------------------------------------------------------------------------------------
    def decode_actions(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(steer, accel)`` ``[W, A]`` from discrete indices ``[W, A]`` or continuous ``[W, A, 2]``."""
        if self.config.action_type == "discrete":
            n_accel = len(self.config.accel_values)
            idx = actions.long()
            return self.steer_values[idx // n_accel], self.accel_values[idx % n_accel]
        act = actions.float()
        steer, accel = act[..., 0], act[..., 1]
        if self.config.clip_continuous:
            steer = steer.clamp(-self.config.max_steer, self.config.max_steer)
            accel = accel.clamp(-self.config.max_accel, self.config.max_accel)
        return steer, accel

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Advance every world one step with ``actions`` for the controlled slots (others are ignored).

        Returns ``(rewards, terminals, truncations, acted)``, each ``[W, A]``: ``acted`` marks the agents
        that were alive for this transition (their rewards and flags are real). Worlds whose episode is over
        are reset afterwards; :meth:`observe` then sees the new episode.
        """
        cfg = self.config
        acted = self.alive
        steer, accel = self.decode_actions(actions)
        x, y, heading, speed = bicycle_step(
            self.pos[..., 0], self.pos[..., 1], self.heading, self.speed, steer, accel, self.w_length,
            cfg.dt, cfg.max_speed,
        )  # fmt: skip
        self.t = self.t + 1
        t_log = self.t.clamp(max=self.w_traj_pos.shape[2] - 1)
        gather = t_log[:, None, None].expand(-1, cfg.max_agents, 1)
        log = cfg.non_controlled == "log"
        if log:
            log_pos = torch.gather(self.w_traj_pos, 2, gather[..., None].expand(-1, -1, 1, 2)).squeeze(2)
            log_heading = torch.gather(self.w_traj_heading, 2, gather).squeeze(2)
            log_speed = torch.gather(self.w_traj_speed, 2, gather).squeeze(2)
            in_log = (self.t < self.w_traj_pos.shape[2])[:, None]
            log_valid = torch.gather(self.w_traj_valid, 2, gather).squeeze(2) & in_log
        else:
            log_pos, log_heading, log_speed = self.pos, self.heading, self.speed
            log_valid = self.w_traj_valid[:, :, 0]
        drive = self.w_controlled
        self.pos = torch.where(drive[..., None], torch.stack([x, y], -1), log_pos)
        self.heading = torch.where(drive, heading, log_heading)
        self.speed = torch.where(drive, speed, log_speed)
        uncontrolled_present = self.w_present & ~drive & log_valid
        self.present = torch.where(drive, acted, uncontrolled_present)

        self.collided = (
            box_overlaps(self.pos, self.heading, self.w_length, self.w_width, self.present) & acted
        )
        self.offroad = (
            box_touches_segments(
                self.pos,
                self.heading,
                self.w_length,
                self.w_width,
                self.w_edge_a,
                self.w_edge_b,
                self.w_edge_valid,
            )
            & acted
        )
        dist = torch.linalg.vector_norm(self.pos - self.w_goal, dim=-1)
        self.goal_reached = (dist < cfg.goal_radius) & acted

        rewards = (
            cfg.goal_reward * self.goal_reached.float()
            + cfg.collision_reward * self.collided.float()
            + cfg.offroad_reward * self.offroad.float()
        ) * acted.float()
        terminals = self.goal_reached.clone()
        if cfg.end_on_collision:
            terminals |= self.collided
        if cfg.end_on_offroad:
            terminals |= self.offroad
        time_up = self.t >= cfg.episode_length
        truncations = acted & ~terminals & time_up[:, None]

        self.ep_return += rewards
        self.ep_length += acted.float()
        self.ep_collided |= self.collided
        self.ep_offroad |= self.offroad
        ended = terminals | truncations
        endf = ended.float()
        self.stats += torch.stack(
            [
                endf.sum(),
                (self.ep_return * endf).sum(),
                (self.ep_length * endf).sum(),
                (self.goal_reached.float() * endf).sum(),
                (self.ep_collided.float() * endf).sum(),
                (self.ep_offroad.float() * endf).sum(),
                truncations.float().sum(),
            ]
        ).double()
        self.alive = acted & ~ended
        self.present = self.present & ~(ended & drive)  # finished agents leave the world
        #: This step's events and the agents that acted in it, as they were before worlds reset.
        self.step_events = {"goal": self.goal_reached, "collided": self.collided, "offroad": self.offroad,
                            "acted": acted}  # fmt: skip
        self.agent_steps += acted.sum()

        world_done = time_up | ~self.alive.any(1)
        self._reset_worlds(world_done)
        return rewards, terminals, truncations, acted

    def _reset_worlds(self, worlds: torch.Tensor) -> None:
        n = self.scenarios.count
        if self.config.resample_scenarios and n > 1:
            nxt = torch.randint(0, n, (self.config.num_worlds,), device=self.device, generator=self.generator)
        else:
            nxt = self.scenario_index
        self._load(worlds, nxt)

    # -- observations -------------------------------------------------------------------------------------
    def observe(self) -> torch.Tensor:
        """``float32 [W, A, obs_size]`` observations; rows of slots that are not alive are zero.

        Layout (every position and direction in the ego frame: x forward, y to the left):

        * ego (6): speed / max_speed, length / 10, width / 10, goal x and y / goal_scale, collided this step.
        * partners (``num_partners`` x 7), the nearest present objects within ``obs_radius`` first, zeros
          when fewer: speed / max_speed, x and y / obs_radius, cos and sin of the relative heading,
          length / 10, width / 10.
        * road (``num_road_points`` x 8), the nearest road segments (midpoints) within ``obs_radius`` first,
          zeros when fewer: midpoint x and y / obs_radius, length / 10, cos and sin of the direction,
          one-hot type (road edge, lane centre, road line).
        """
        cfg = self.config
        w, a = self.alive.shape
        c, s = torch.cos(self.heading), torch.sin(self.heading)

        def to_ego(dx: torch.Tensor, dy: torch.Tensor, ci: torch.Tensor, si: torch.Tensor):
            return dx * ci + dy * si, -dx * si + dy * ci

        gx, gy = to_ego(self.w_goal[..., 0] - self.pos[..., 0], self.w_goal[..., 1] - self.pos[..., 1], c, s)
        parts = [
            torch.stack(
                [
                    self.speed / cfg.max_speed,
                    self.w_length / 10,
                    self.w_width / 10,
                    gx / cfg.goal_scale,
                    gy / cfg.goal_scale,
                    self.collided.float(),
                ],
                -1,
            )  # fmt: skip
        ]
        ci, si = c[:, :, None], s[:, :, None]
        if cfg.num_partners:
            k = min(cfg.num_partners, a - 1) if a > 1 else 0
            dx = self.pos[:, None, :, 0] - self.pos[:, :, None, 0]
            dy = self.pos[:, None, :, 1] - self.pos[:, :, None, 1]
            dist = torch.sqrt(dx * dx + dy * dy)
            visible = self.present[:, None, :] & self._not_self & (dist <= cfg.obs_radius)
            partners = torch.zeros(w, a, cfg.num_partners, len(PARTNER_FEATURES), device=self.device)
            if k:
                j, ok = nearest(dist, visible, k)
                px, py = to_ego(torch.gather(dx, 2, j), torch.gather(dy, 2, j), ci, si)
                rel = self.heading.gather(1, j.view(w, -1)).view(w, a, k) - self.heading[:, :, None]
                sel = j.view(w, -1)
                def pick(x: torch.Tensor) -> torch.Tensor:
                    return x.gather(1, sel).view(w, a, k)

                feats = torch.stack(
                    [pick(self.speed) / cfg.max_speed, px / cfg.obs_radius, py / cfg.obs_radius,
                     torch.cos(rel), torch.sin(rel), pick(self.w_length) / 10, pick(self.w_width) / 10],
                    -1,
                )  # fmt: skip
                partners[:, :, :k] = feats * ok[..., None]
            parts.append(partners.flatten(2))
        if cfg.num_road_points:
            r = self.w_seg_mid.shape[1]
            k = min(cfg.num_road_points, r)
            dx = self.w_seg_mid[:, None, :, 0] - self.pos[:, :, None, 0]  # [W, A, R]
            dy = self.w_seg_mid[:, None, :, 1] - self.pos[:, :, None, 1]
            dist = torch.sqrt(dx * dx + dy * dy)
            visible = self.w_seg_valid[:, None, :] & (dist <= cfg.obs_radius)
            j, ok = nearest(dist, visible, k)
            px, py = to_ego(torch.gather(dx, 2, j), torch.gather(dy, 2, j), ci, si)
            sel = j.view(w, -1)
            sdx = self.w_seg_dir[..., 0].gather(1, sel).view(w, a, k)
            sdy = self.w_seg_dir[..., 1].gather(1, sel).view(w, a, k)
            dc, ds = to_ego(sdx, sdy, ci, si)
            kind = self.w_seg_type.gather(1, sel).view(w, a, k)
            seg_len = self.w_seg_len.gather(1, sel).view(w, a, k)
            feats = torch.stack(
                [px / cfg.obs_radius, py / cfg.obs_radius, seg_len / 10, dc, ds, (kind == ROAD_EDGE).float(),
                 (kind == ROAD_LANE).float(), (kind == ROAD_LINE).float()],
                -1,
            )  # fmt: skip
            road = torch.zeros(w, a, cfg.num_road_points, len(ROAD_FEATURES), device=self.device)
            road[:, :, :k] = feats * ok[..., None]
            parts.append(road.flatten(2))
        obs = torch.cat(parts, -1)
        return obs * self.alive[..., None].float()

    def take_stats(self) -> torch.Tensor:
        """The summed statistics of agent episodes finished since the last call (``stats``), then zeroes."""
        out = self.stats.clone()
        self.stats.zero_()
        return out
