"""Scenarios packed into padded tensors on one device, the form the batched simulator reads.

Object slots: each scenario's objects are put into ``max_agents`` slots, controllable vehicles first (at most
``max_controlled`` of them are controlled), then the others; objects beyond ``max_agents`` are dropped.
Road polylines become two sets of segments: every road-edge segment as it is (for off-road tests), and every
polyline of any type cut into pieces of at most ``max_segment_length`` metres (for the road observation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .scenario import ROAD_EDGE, Scenario

__all__ = ["ScenarioTensors", "pack_scenarios"]


@dataclass
class ScenarioTensors:
    """``N`` scenarios, ``A`` object slots, ``T`` log steps, ``E`` edge segments, ``R`` road segments."""

    names: list[str]
    traj_pos: torch.Tensor  #: float32 [N, A, T, 2]
    traj_heading: torch.Tensor  #: float32 [N, A, T]
    traj_speed: torch.Tensor  #: float32 [N, A, T] (signed along the heading)
    traj_valid: torch.Tensor  #: bool [N, A, T]
    length: torch.Tensor  #: float32 [N, A]
    width: torch.Tensor  #: float32 [N, A]
    goal: torch.Tensor  #: float32 [N, A, 2]
    controlled: torch.Tensor  #: bool [N, A]: slots the policy drives
    present: torch.Tensor  #: bool [N, A]: slots that hold an object
    edge_a: torch.Tensor  #: float32 [N, E, 2]
    edge_b: torch.Tensor  #: float32 [N, E, 2]
    edge_valid: torch.Tensor  #: bool [N, E]
    seg_mid: torch.Tensor  #: float32 [N, R, 2]
    seg_dir: torch.Tensor  #: float32 [N, R, 2] unit direction
    seg_len: torch.Tensor  #: float32 [N, R]
    seg_type: torch.Tensor  #: int64 [N, R] (road type code)
    seg_valid: torch.Tensor  #: bool [N, R]

    @property
    def count(self) -> int:
        return int(self.traj_pos.shape[0])

    @property
    def steps(self) -> int:
        return int(self.traj_pos.shape[2])


def _segments(
    roads: list[tuple[int, np.ndarray]], max_len: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start points, end points and type codes of the polylines' segments, cut to at most ``max_len``."""
    starts, ends, types = [], [], []
    for code, points in roads:
        p = np.asarray(points, np.float64)
        for a, b in zip(p[:-1], p[1:]):
            n = max(1, int(np.ceil(np.linalg.norm(b - a) / max_len))) if np.isfinite(max_len) else 1
            k = np.arange(n + 1)[:, None] / n
            cuts = a + (b - a) * k
            starts.append(cuts[:-1])
            ends.append(cuts[1:])
            types.append(np.full(n, code, np.int64))
    if not starts:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(types)


def pack_scenarios(
    scenarios: list[Scenario],
    max_agents: int,
    max_controlled: int,
    device: torch.device,
    max_segment_length: float = 5.0,
) -> ScenarioTensors:
    """Pack ``scenarios`` for the simulator. Raises ValueError if one has no controllable vehicle."""
    if not scenarios:
        raise ValueError("at least one scenario is needed")
    n, a = len(scenarios), max_agents
    t = max(s.num_steps for s in scenarios)
    traj_pos = np.zeros((n, a, t, 2), np.float32)
    traj_heading = np.zeros((n, a, t), np.float32)
    traj_speed = np.zeros((n, a, t), np.float32)
    traj_valid = np.zeros((n, a, t), bool)
    length = np.ones((n, a), np.float32)
    width = np.ones((n, a), np.float32)
    goal = np.zeros((n, a, 2), np.float32)
    controlled = np.zeros((n, a), bool)
    present = np.zeros((n, a), bool)
    edges, segs = [], []
    for i, s in enumerate(scenarios):
        can = s.controllable()
        if not can.any():
            raise ValueError(
                f"scenario {s.name!r} has no controllable vehicle (a vehicle valid at step 0, not an "
                "expert, whose goal is more than 2 m from its start)"
            )
        order = np.concatenate([np.flatnonzero(can), np.flatnonzero(~can & s.valid.any(1))])[:a]
        k, steps = len(order), s.num_steps
        traj_pos[i, :k, :steps] = s.position[order]
        traj_heading[i, :k, :steps] = s.heading[order]
        heading = s.heading[order]
        vel = s.velocity[order]
        traj_speed[i, :k, :steps] = vel[..., 0] * np.cos(heading) + vel[..., 1] * np.sin(heading)
        traj_valid[i, :k, :steps] = s.valid[order]
        length[i, :k], width[i, :k] = s.length[order], s.width[order]
        goal[i, :k] = s.goal[order]
        present[i, :k] = True
        controlled[i, :k] = can[order] & (np.cumsum(can[order]) <= max_controlled)
        edges.append(_segments([(c, p) for c, p in s.roads if c == ROAD_EDGE], float("inf")))
        segs.append(_segments(s.roads, max_segment_length))
    e = max(1, max(len(x[0]) for x in edges))
    r = max(1, max(len(x[0]) for x in segs))
    edge_a = np.zeros((n, e, 2), np.float32)
    edge_b = np.zeros((n, e, 2), np.float32)
    edge_valid = np.zeros((n, e), bool)
    seg_mid = np.zeros((n, r, 2), np.float32)
    seg_dir = np.zeros((n, r, 2), np.float32)
    seg_len = np.zeros((n, r), np.float32)
    seg_type = np.zeros((n, r), np.int64)
    seg_valid = np.zeros((n, r), bool)
    for i in range(n):
        ea, eb, _ = edges[i]
        edge_a[i, : len(ea)], edge_b[i, : len(ea)], edge_valid[i, : len(ea)] = ea, eb, True
        sa, sb, st = segs[i]
        d = sb - sa
        ln = np.linalg.norm(d, axis=-1)
        k = len(sa)
        seg_mid[i, :k] = (sa + sb) / 2
        seg_dir[i, :k] = d / np.maximum(ln, 1e-6)[:, None]
        seg_len[i, :k], seg_type[i, :k], seg_valid[i, :k] = ln, st, True

    def put(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).to(device)

    return ScenarioTensors(
        [s.name for s in scenarios],
        put(traj_pos), put(traj_heading), put(traj_speed), put(traj_valid), put(length), put(width),
        put(goal), put(controlled), put(present), put(edge_a), put(edge_b), put(edge_valid),
        put(seg_mid), put(seg_dir), put(seg_len), put(seg_type), put(seg_valid),
    )  # fmt: skip
