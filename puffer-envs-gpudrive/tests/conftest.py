"""Shared helpers: hand-built scenarios and one torch thread (the CI box has 2 cores shared by all)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from puffer_envs_gpudrive.scenario import ROAD_EDGE, ROAD_LANE, Scenario


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


def straight_scenario(
    starts: list[tuple[float, float]],
    goals: list[tuple[float, float]],
    speed: float = 0.0,
    steps: int = 91,
    edges: bool = True,
    name: str = "hand",
) -> Scenario:
    """Vehicles 4 m x 2 m heading +x at ``starts`` (logs at a standstill, reporting ``speed``), on a road
    with edges at y = -10 and y = 10."""
    a = len(starts)
    pos = np.repeat(np.asarray(starts, np.float32)[:, None, :], steps, axis=1)
    vel = np.zeros((a, steps, 2), np.float32)
    vel[..., 0] = speed
    roads = [(ROAD_LANE, np.array([[-100.0, 0.0], [100.0, 0.0]], np.float32))]
    if edges:
        roads += [
            (ROAD_EDGE, np.array([[-100.0, -10.0], [100.0, -10.0]], np.float32)),
            (ROAD_EDGE, np.array([[-100.0, 10.0], [100.0, 10.0]], np.float32)),
        ]
    return Scenario(
        name=name,
        position=pos,
        heading=np.zeros((a, steps), np.float32),
        velocity=vel,
        valid=np.ones((a, steps), bool),
        length=np.full(a, 4.0, np.float32),
        width=np.full(a, 2.0, np.float32),
        goal=np.asarray(goals, np.float32),
        is_vehicle=np.ones(a, bool),
        expert=np.zeros(a, bool),
        roads=roads,
    )
