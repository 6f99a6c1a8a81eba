"""Driving scenarios: vehicles with logged trajectories and a road graph, in GPUDrive's JSON format.

GPUDrive's scenario files (converted from the Waymo Open Motion Dataset) are one JSON object per scenario::

    {
      "name": "...", "scenario_id": "...",
      "objects": [                                  # every road user
        {"id": 3, "type": "vehicle",                # also "pedestrian", "cyclist"
         "position": [{"x": .., "y": ..}, ...],     # one per log step (10 Hz)
         "heading": [..],                           # radians, one per step
         "velocity": [{"x": .., "y": ..}, ...],     # m/s, one per step
         "valid": [true, ...],                      # whether the object exists at that step
         "length": 4.5, "width": 1.9,
         "goalPosition": {"x": .., "y": ..},
         "mark_as_expert": false}                   # optional: true keeps it on its log
      ],
      "roads": [{"id": 0, "type": "road_edge",      # also "lane", "road_line", "crosswalk", ...
                 "geometry": [{"x": .., "y": ..}, ...]}],
      "tl_states": {}, "metadata": {...}
    }

:class:`Scenario` holds the same content as numpy arrays; :func:`load_scenario`/:func:`save_scenario` convert,
and :func:`load_folder` reads every ``*.json`` of a folder (real GPUDrive files or ours).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Scenario",
    "ROAD_TYPES",
    "ROAD_EDGE",
    "ROAD_LANE",
    "ROAD_LINE",
    "load_scenario",
    "save_scenario",
    "scenario_from_dict",
    "scenario_to_dict",
    "load_folder",
]

#: Road polyline types we distinguish (index = type code); every other GPUDrive type maps to "road_line".
ROAD_TYPES = ("road_edge", "lane", "road_line")
ROAD_EDGE, ROAD_LANE, ROAD_LINE = 0, 1, 2
_ROAD_TYPE_CODES = {"road_edge": ROAD_EDGE, "lane": ROAD_LANE, "road_line": ROAD_LINE}


@dataclass
class Scenario:
    """One scenario as arrays (``A`` objects, ``T`` log steps).

    Attributes:
        name: scenario name (the JSON's ``name``).
        position: ``float32 [A, T, 2]`` logged positions (m).
        heading: ``float32 [A, T]`` logged headings (rad).
        velocity: ``float32 [A, T, 2]`` logged velocities (m/s).
        valid: ``bool [A, T]`` whether each object exists at each step.
        length, width: ``float32 [A]`` vehicle sizes (m).
        goal: ``float32 [A, 2]`` goal positions.
        is_vehicle: ``bool [A]``: only vehicles may be controlled.
        expert: ``bool [A]``: objects that always follow their log (``mark_as_expert``).
        roads: list of ``(type code, float32 [P, 2] polyline)`` with type codes from :data:`ROAD_TYPES`.
    """

    name: str
    position: np.ndarray
    heading: np.ndarray
    velocity: np.ndarray
    valid: np.ndarray
    length: np.ndarray
    width: np.ndarray
    goal: np.ndarray
    is_vehicle: np.ndarray
    expert: np.ndarray
    roads: list[tuple[int, np.ndarray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        a, t = self.valid.shape if self.valid.ndim == 2 else (-1, -1)
        expected = {
            "position": (a, t, 2), "heading": (a, t), "velocity": (a, t, 2), "valid": (a, t),
            "length": (a,), "width": (a,), "goal": (a, 2), "is_vehicle": (a,), "expert": (a,),
        }  # fmt: skip
        for name, shape in expected.items():
            value = np.asarray(getattr(self, name))
            if value.shape != shape:
                raise ValueError(f"scenario {self.name!r}: {name} must have shape {shape}, got {value.shape}")
        for code, points in self.roads:
            if code not in (ROAD_EDGE, ROAD_LANE, ROAD_LINE):
                raise ValueError(f"scenario {self.name!r}: road type code must be 0, 1 or 2, got {code}")
            if np.asarray(points).ndim != 2 or np.asarray(points).shape[1] != 2:
                raise ValueError(f"scenario {self.name!r}: road polylines must be [P, 2] arrays")

    @property
    def num_objects(self) -> int:
        return int(self.valid.shape[0])

    @property
    def num_steps(self) -> int:
        return int(self.valid.shape[1])

    def controllable(self) -> np.ndarray:
        """``bool [A]``: vehicles that exist at step 0, are not experts and whose goal is not where they
        start (GPUDrive's "non-trivial" agents)."""
        far = np.linalg.norm(self.goal - self.position[:, 0], axis=-1) > 2.0
        return self.is_vehicle & ~self.expert & self.valid[:, 0] & far


def _xy_list(points: Any, what: str) -> np.ndarray:
    try:
        return np.asarray([[float(p["x"]), float(p["y"])] for p in points], dtype=np.float32).reshape(-1, 2)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"{what} must be a list of {{'x': .., 'y': ..}} objects ({exc!r})") from None


def scenario_from_dict(data: dict[str, Any], name: str | None = None) -> Scenario:
    """A :class:`Scenario` from a parsed GPUDrive JSON object; ValueError naming the field that is wrong."""
    if not isinstance(data, dict) or "objects" not in data or "roads" not in data:
        raise ValueError("a GPUDrive scenario is a JSON object with 'objects' and 'roads' lists")
    name = str(data.get("name", data.get("scenario_id", name or "scenario")))
    objects = data["objects"]
    if not objects:
        raise ValueError(f"scenario {name!r} has no objects")
    steps = max(len(o.get("position", [])) for o in objects)
    a = len(objects)
    position = np.zeros((a, steps, 2), np.float32)
    velocity = np.zeros((a, steps, 2), np.float32)
    heading = np.zeros((a, steps), np.float32)
    valid = np.zeros((a, steps), bool)
    length = np.zeros(a, np.float32)
    width = np.zeros(a, np.float32)
    goal = np.zeros((a, 2), np.float32)
    is_vehicle = np.zeros(a, bool)
    expert = np.zeros(a, bool)
    for i, obj in enumerate(objects):
        where = f"scenario {name!r} object {i}"
        for key in ("position", "length", "width", "goalPosition"):
            if key not in obj:
                raise ValueError(f"{where} has no {key!r}")
        pos = _xy_list(obj["position"], f"{where} 'position'")
        n = len(pos)
        position[i, :n] = pos
        vel = _xy_list(obj.get("velocity", []), f"{where} 'velocity'")
        velocity[i, : len(vel)] = vel[:n]
        head = np.asarray(obj.get("heading", [0.0] * n), dtype=np.float32)
        heading[i, : min(n, len(head))] = head[:n]
        obj_valid = np.asarray(obj.get("valid", [True] * n), dtype=bool)
        valid[i, : min(n, len(obj_valid))] = obj_valid[:n]
        length[i], width[i] = float(obj["length"]), float(obj["width"])
        goal[i] = _xy_list([obj["goalPosition"]], f"{where} 'goalPosition'")[0]
        is_vehicle[i] = obj.get("type", "vehicle") == "vehicle"
        expert[i] = bool(obj.get("mark_as_expert", False))
    roads: list[tuple[int, np.ndarray]] = []
    for j, road in enumerate(data["roads"]):
        points = _xy_list(road.get("geometry", []), f"scenario {name!r} road {j} 'geometry'")
        if len(points) == 0:
            continue
        roads.append((_ROAD_TYPE_CODES.get(road.get("type", "road_line"), ROAD_LINE), points))
    return Scenario(name, position, heading, velocity, valid, length, width, goal, is_vehicle, expert, roads)


def scenario_to_dict(scenario: Scenario, decimals: int = 3) -> dict[str, Any]:
    """The GPUDrive JSON object of ``scenario`` (coordinates rounded to ``decimals``)."""

    def xy(p: np.ndarray) -> dict[str, float]:
        return {"x": round(float(p[0]), decimals), "y": round(float(p[1]), decimals)}

    objects = []
    for i in range(scenario.num_objects):
        objects.append(
            {
                "id": i,
                "type": "vehicle" if scenario.is_vehicle[i] else "pedestrian",
                "position": [xy(p) for p in scenario.position[i]],
                "heading": [round(float(h), decimals) for h in scenario.heading[i]],
                "velocity": [xy(v) for v in scenario.velocity[i]],
                "valid": [bool(v) for v in scenario.valid[i]],
                "length": round(float(scenario.length[i]), decimals),
                "width": round(float(scenario.width[i]), decimals),
                "goalPosition": xy(scenario.goal[i]),
                "mark_as_expert": bool(scenario.expert[i]),
            }
        )
    roads = [
        {"id": j, "type": ROAD_TYPES[code], "geometry": [xy(p) for p in points]}
        for j, (code, points) in enumerate(scenario.roads)
    ]
    return {"name": scenario.name, "scenario_id": scenario.name, "objects": objects, "roads": roads,
            "tl_states": {}, "metadata": {"source": "puffer-envs-gpudrive"}}  # fmt: skip


def load_scenario(path: str | Path) -> Scenario:
    """Read one GPUDrive JSON scenario file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    return scenario_from_dict(data, name=path.stem)


def save_scenario(scenario: Scenario, path: str | Path, decimals: int = 3) -> None:
    """Write ``scenario`` as a GPUDrive JSON file."""
    Path(path).write_text(json.dumps(scenario_to_dict(scenario, decimals), separators=(",", ":")))


def load_folder(folder: str | Path, limit: int | None = None) -> list[Scenario]:
    """Every ``*.json`` scenario of ``folder`` in name order (at most ``limit``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"scenario folder {str(folder)!r} does not exist or is not a folder")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ValueError(f"scenario folder {str(folder)!r} holds no *.json files")
    return [load_scenario(f) for f in files[:limit]]
