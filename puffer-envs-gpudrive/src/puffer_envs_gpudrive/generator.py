"""Synthetic driving scenarios: four-way intersections, on-ramp merges and multi-lane roads.

Each scenario is built from a seed alone (``numpy.random.default_rng(seed)``), so a set of scenarios is
reproducible anywhere with no data download. Vehicles follow lane paths at a constant speed per lane; like
real logs, the logs have no collisions (vehicles whose paths would overlap another's are dropped). Each
vehicle's goal is where its log is at a random step between 40% and 80% of the episode, leaving slack for a
policy that drives a little slower than the log. Road edges bound the
drivable area: crossing one is going off-road.

``python -m puffer_envs_gpudrive.generator OUT_DIR --count 24 --seed 0`` writes a set as GPUDrive JSON files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .scenario import ROAD_EDGE, ROAD_LANE, ROAD_LINE, Scenario, save_scenario

__all__ = ["KINDS", "generate", "generate_set", "main"]

KINDS = ("intersection", "merge", "multilane")
#: Log steps per scenario and seconds per step (GPUDrive's 9.1 s at 10 Hz).
STEPS, DT = 91, 0.1
LANE_WIDTH = 4.0


def _resample(points: np.ndarray, spacing: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A dense polyline through ``points`` and the cumulative arc length at each of its vertices."""
    points = np.asarray(points, dtype=np.float64)
    out = [points[:1]]
    for a, b in zip(points[:-1], points[1:]):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / spacing)))
        out.append(a + (b - a) * (np.arange(1, n + 1) / n)[:, None])
    dense = np.concatenate(out)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
    return dense, arc


def _bezier(p0: np.ndarray, c: np.ndarray, p2: np.ndarray, n: int = 16) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t**2 * p2


def _drive(path: np.ndarray, start: float, speed: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, headings and velocities of a vehicle driving ``path`` from arc length ``start``."""
    dense, arc = _resample(path)
    s = np.minimum(start + speed * DT * np.arange(STEPS), arc[-1])
    x = np.interp(s, arc, dense[:, 0])
    y = np.interp(s, arc, dense[:, 1])
    ahead = np.minimum(s + 0.5, arc[-1])
    behind = np.maximum(ahead - 1.0, 0.0)
    dx = np.interp(ahead, arc, dense[:, 0]) - np.interp(behind, arc, dense[:, 0])
    dy = np.interp(ahead, arc, dense[:, 1]) - np.interp(behind, arc, dense[:, 1])
    heading = np.arctan2(dy, dx)
    moving = s < arc[-1]
    v = speed * moving
    velocity = np.stack([v * np.cos(heading), v * np.sin(heading)], axis=-1)
    return np.stack([x, y], axis=-1), heading, velocity


class _Builder:
    """Collects vehicles and roads, then makes the :class:`Scenario`."""

    def __init__(self, name: str, rng: np.random.Generator) -> None:
        self.name, self.rng = name, rng
        self.vehicles: list[tuple[np.ndarray, np.ndarray, np.ndarray, float, float, np.ndarray]] = []
        self.roads: list[tuple[int, np.ndarray]] = []

    def road(self, code: int, *points: tuple[float, float] | np.ndarray) -> None:
        self.roads.append((code, np.asarray(points, dtype=np.float32).reshape(-1, 2)))

    def vehicle(self, path: np.ndarray, start: float, speed: float) -> None:
        pos, heading, vel = _drive(path, start, speed)
        goal_step = int(self.rng.integers(int(0.4 * STEPS), int(0.8 * STEPS)))
        length = float(self.rng.uniform(4.0, 5.0))
        width = float(self.rng.uniform(1.8, 2.1))
        self.vehicles.append((pos, heading, vel, length, width, pos[goal_step]))

    def drop_log_collisions(self) -> None:
        """Remove vehicles until no two logs overlap at any step (real logs have no collisions): each round
        drops the vehicle that overlaps the most others (the later one on ties)."""
        import torch

        from .sim import box_overlap_pairs

        while len(self.vehicles) > 1:
            pos = torch.from_numpy(np.stack([v[0] for v in self.vehicles], 1)).float()  # [T, A, 2]
            heading = torch.from_numpy(np.stack([v[1] for v in self.vehicles], 1)).float()
            t, a = heading.shape
            length = torch.tensor([v[3] for v in self.vehicles]).expand(t, a)
            width = torch.tensor([v[4] for v in self.vehicles]).expand(t, a)
            pairs = box_overlap_pairs(pos, heading, length, width, torch.ones(t, a, dtype=torch.bool)).any(0)
            counts = pairs.sum(1).numpy()
            if not counts.any():
                return
            worst = int(np.flatnonzero(counts == counts.max())[-1])
            del self.vehicles[worst]

    def build(self) -> Scenario:
        a = len(self.vehicles)
        return Scenario(
            name=self.name,
            position=np.stack([v[0] for v in self.vehicles]).astype(np.float32),
            heading=np.stack([v[1] for v in self.vehicles]).astype(np.float32),
            velocity=np.stack([v[2] for v in self.vehicles]).astype(np.float32),
            valid=np.ones((a, STEPS), bool),
            length=np.asarray([v[3] for v in self.vehicles], np.float32),
            width=np.asarray([v[4] for v in self.vehicles], np.float32),
            goal=np.stack([v[5] for v in self.vehicles]).astype(np.float32),
            is_vehicle=np.ones(a, bool),
            expert=np.zeros(a, bool),
            roads=self.roads,
        )


def _place(rng: np.random.Generator, count: int, lo: float, hi: float, gap: float) -> list[float]:
    """Up to ``count`` start positions in ``[lo, hi]`` at least ``gap`` apart."""
    slots = np.arange(lo, hi, gap)
    if len(slots) == 0:
        return []
    chosen = rng.choice(len(slots), size=min(count, len(slots)), replace=False)
    return sorted(float(slots[i] + rng.uniform(0, gap * 0.3)) for i in chosen)


def intersection(seed: int, num_vehicles: int | None = None) -> Scenario:
    """A four-way intersection of two-lane roads (one lane each way), right-hand traffic, with chamfered
    corners; vehicles go straight, turn left or turn right."""
    rng = np.random.default_rng(seed)
    b = _Builder(f"intersection_{seed}", rng)
    w, box, arm = LANE_WIDTH, LANE_WIDTH + 4.5, 55.0
    u = [np.array(d, float) for d in ((1, 0), (0, 1), (-1, 0), (0, -1))]
    n = [np.array((-d[1], d[0])) for d in u]  # left normal of each arm's outward direction
    for k in range(4):
        nxt = (k + 1) % 4
        b.road(ROAD_EDGE, u[k] * box + n[k] * w, u[k] * arm + n[k] * w)
        b.road(ROAD_EDGE, u[k] * box - n[k] * w, u[k] * arm - n[k] * w)
        b.road(ROAD_EDGE, u[k] * box + n[k] * w, u[nxt] * box - n[nxt] * w)  # chamfered corner
        b.road(ROAD_LANE, u[k] * arm + n[k] * w / 2, u[k] * box + n[k] * w / 2)  # incoming
        b.road(ROAD_LANE, u[k] * box - n[k] * w / 2, u[k] * arm - n[k] * w / 2)  # outgoing
        b.road(ROAD_LINE, u[k] * box, u[k] * arm)
    total = int(num_vehicles) if num_vehicles is not None else int(rng.integers(5, 11))
    per_arm = [total // 4 + (1 if k < total % 4 else 0) for k in range(4)]
    for i in range(4):
        speed = float(rng.uniform(5.0, 8.0))
        for start in _place(rng, per_arm[i], 0.0, arm - box - 10.0, 8.0):
            j = (i + int(rng.choice([1, 2, 3]))) % 4  # 1: left turn... relative to the arm order
            p0 = u[i] * box + n[i] * w / 2
            p2 = u[j] * box - n[j] * w / 2
            if (j - i) % 4 == 2:
                middle = np.stack([p0, p2])
            else:
                c = np.linalg.solve(np.stack([n[i], n[j]]), np.array([w / 2, -w / 2]))
                middle = _bezier(p0, c, p2)
            path = np.concatenate([[u[i] * arm + n[i] * w / 2], middle, [u[j] * arm - n[j] * w / 2]])
            b.vehicle(path, start, speed)
    b.drop_log_collisions()
    return b.build()


def merge(seed: int, num_vehicles: int | None = None) -> Scenario:
    """A two-lane road along +x with an on-ramp joining its right lane from below."""
    rng = np.random.default_rng(seed)
    b = _Builder(f"merge_{seed}", rng)
    w, x0, x1 = LANE_WIDTH, -80.0, 100.0
    ramp_a, ramp_b, join = np.array([-70.0, -20.0]), np.array([-5.0, -2.0]), np.array([25.0, w / 2])
    d = (ramp_b - ramp_a) / np.linalg.norm(ramp_b - ramp_a)
    nr = np.array([-d[1], d[0]])
    upper_a = ramp_a + nr * w / 2
    t = -upper_a[1] / d[1]  # where the ramp's upper edge meets the main road's lower edge (y = 0)
    upper_meet = upper_a + d * t
    b.road(ROAD_EDGE, (x0, 2 * w), (x1, 2 * w))
    b.road(ROAD_EDGE, (x0, 0.0), upper_meet)
    b.road(ROAD_EDGE, upper_a, upper_meet)
    b.road(ROAD_EDGE, ramp_a - nr * w / 2, ramp_b - nr * w / 2, (join[0], 0.0), (x1, 0.0))
    b.road(ROAD_LINE, (x0, w), (x1, w))
    b.road(ROAD_LANE, (x0, w / 2), (x1, w / 2))
    b.road(ROAD_LANE, (x0, 1.5 * w), (x1, 1.5 * w))
    b.road(ROAD_LANE, ramp_a, ramp_b, join)
    total = int(num_vehicles) if num_vehicles is not None else int(rng.integers(4, 10))
    ramp_count = max(1, total // 3)
    speed = float(rng.uniform(6.0, 9.0))
    ramp_path = np.concatenate(
        [[ramp_a], _bezier(ramp_b, (ramp_b + join) / 2 + [0, -1.0], join), [[x1, w / 2]]]
    )
    for start in _place(rng, ramp_count, 0.0, 40.0, 9.0):
        b.vehicle(ramp_path, start, speed)
    main = total - ramp_count
    for lane in range(2):
        lane_speed = float(rng.uniform(6.0, 10.0))
        y = (lane + 0.5) * w
        for start in _place(rng, main // 2 + (lane < main % 2), 0.0, 70.0, 9.0):
            path = np.array([[x0, y], [x1, y]])
            if rng.random() < 0.3:  # change lane part way
                other = (1.5 - lane) * w
                xs = x0 + start + float(rng.uniform(15.0, 40.0))
                path = np.array([[x0, y], [xs, y], [xs + 15.0, other], [x1, other]])
            b.vehicle(path, start, lane_speed)
    b.drop_log_collisions()
    return b.build()


def multilane(seed: int, num_vehicles: int | None = None) -> Scenario:
    """A straight road of 2-4 lanes along +x; some vehicles change lanes on the way to their goal. With
    ``num_vehicles`` set the road grows long enough to hold them all, each keeping its lane (64 make a dense
    benchmark scene)."""
    rng = np.random.default_rng(seed)
    b = _Builder(f"multilane_{seed}", rng)
    lanes = int(rng.integers(2, 5))
    total = int(num_vehicles) if num_vehicles is not None else int(rng.integers(4, 13))
    per_lane = -(-total // lanes)
    w, gap = LANE_WIDTH, 10.0
    span = max(80.0, per_lane * gap * 1.4)
    x0, x1 = -20.0, span + 120.0
    b.road(ROAD_EDGE, (x0, 0.0), (x1, 0.0))
    b.road(ROAD_EDGE, (x0, lanes * w), (x1, lanes * w))
    for k in range(lanes):
        b.road(ROAD_LANE, (x0, (k + 0.5) * w), (x1, (k + 0.5) * w))
        if k:
            b.road(ROAD_LINE, (x0, k * w), (x1, k * w))
    left = total
    for k in range(lanes):
        speed = float(rng.uniform(5.0, 11.0))
        y = (k + 0.5) * w
        for start in _place(rng, min(per_lane, left), 0.0, span, gap):
            left -= 1
            path = np.array([[x0, y], [x1, y]])
            if lanes > 1 and num_vehicles is None and rng.random() < 0.4:
                target = int(np.clip(k + rng.choice([-1, 1]), 0, lanes - 1))
                xs = x0 + start + float(rng.uniform(10.0, 35.0))
                path = np.array([[x0, y], [xs, y], [xs + 15.0, (target + 0.5) * w], [x1, (target + 0.5) * w]])
            b.vehicle(path, start, speed)
    b.drop_log_collisions()
    return b.build()


_MAKERS = {"intersection": intersection, "merge": merge, "multilane": multilane}


def generate(kind: str, seed: int, num_vehicles: int | None = None) -> Scenario:
    """One scenario of ``kind`` (one of :data:`KINDS`) from ``seed``."""
    if kind not in _MAKERS:
        raise ValueError(f"scenario kind must be one of {KINDS}, got {kind!r}")
    if num_vehicles is not None and (not isinstance(num_vehicles, int) or num_vehicles < 1):
        raise ValueError(f"num_vehicles must be a positive int or None, got {num_vehicles!r}")
    return _MAKERS[kind](seed, num_vehicles)


def generate_set(count: int, seed: int = 0, kinds: tuple[str, ...] = KINDS,
                 num_vehicles: int | None = None) -> list[Scenario]:  # fmt: skip
    """``count`` scenarios cycling through ``kinds``; scenario ``i`` uses seed ``seed * 100_003 + i``."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return [generate(kinds[i % len(kinds)], seed * 100_003 + i, num_vehicles) for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write synthetic driving scenarios as GPUDrive JSON files")
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decimals", type=int, default=2)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for scenario in generate_set(args.count, args.seed):
        save_scenario(scenario, args.out / f"{scenario.name}.json", decimals=args.decimals)
    print(f"wrote {args.count} scenarios to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
