"""Scenario files (GPUDrive's JSON), the synthetic generator and the bundled set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from puffer_envs_gpudrive import generator
from puffer_envs_gpudrive.env import BUNDLED_DIR, DriveEnv
from puffer_envs_gpudrive.scenario import (
    ROAD_EDGE,
    load_folder,
    load_scenario,
    save_scenario,
    scenario_from_dict,
    scenario_to_dict,
)


@pytest.mark.parametrize("kind", generator.KINDS)
def test_json_round_trip(tmp_path, kind):
    scenario = generator.generate(kind, seed=7)
    save_scenario(scenario, tmp_path / "s.json", decimals=4)
    back = load_scenario(tmp_path / "s.json")
    assert back.name == scenario.name
    for name in ("position", "heading", "velocity", "length", "width", "goal"):
        np.testing.assert_allclose(getattr(back, name), getattr(scenario, name), atol=1e-4, err_msg=name)
    for name in ("valid", "is_vehicle", "expert"):
        np.testing.assert_array_equal(getattr(back, name), getattr(scenario, name))
    assert [c for c, _ in back.roads] == [c for c, _ in scenario.roads]
    for (_, a), (_, b) in zip(back.roads, scenario.roads):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_reads_gpudrive_fields_and_types():
    data = {
        "name": "womd_like",
        "objects": [
            {"position": [{"x": 1, "y": 2}, {"x": 2, "y": 2}], "heading": [0.0, 0.1],
             "velocity": [{"x": 10, "y": 0}, {"x": 10, "y": 0}], "valid": [True, False], "length": 4.5,
             "width": 2.0, "goalPosition": {"x": 30, "y": 2}, "type": "vehicle"},
            {"position": [{"x": 5, "y": 5}], "length": 0.5, "width": 0.5, "goalPosition": {"x": 5, "y": 9},
             "type": "pedestrian", "mark_as_expert": True},
        ],
        "roads": [{"geometry": [{"x": 0, "y": 0}, {"x": 9, "y": 0}], "type": "road_edge"},
                  {"geometry": [{"x": 0, "y": 1}, {"x": 9, "y": 1}], "type": "crosswalk"},
                  {"geometry": [], "type": "lane"}],
    }  # fmt: skip
    s = scenario_from_dict(data)
    assert s.position.shape == (2, 2, 2) and s.valid.tolist() == [[True, False], [True, False]]
    assert s.is_vehicle.tolist() == [True, False] and s.expert.tolist() == [False, True]
    assert [c for c, _ in s.roads] == [ROAD_EDGE, 2]  # crosswalk -> road line; empty polyline dropped
    assert s.controllable().tolist() == [True, False]
    assert scenario_to_dict(s)["objects"][1]["type"] == "pedestrian"


def test_bad_files_get_clear_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_scenario(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="'objects' and 'roads'"):
        scenario_from_dict({"objects": []})
    with pytest.raises(ValueError, match="object 0 has no 'goalPosition'"):
        scenario_from_dict({"objects": [{"position": [], "length": 1, "width": 1}], "roads": []})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no"):
        load_folder(tmp_path / "empty")


def test_generator_is_deterministic_and_varied():
    a = generator.generate_set(6, seed=3)
    b = generator.generate_set(6, seed=3)
    c = generator.generate_set(6, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.position, y.position)
    assert any(x.position.shape != y.position.shape or not np.array_equal(x.position, y.position)
               for x, y in zip(a, c))  # fmt: skip
    dense = generator.generate("multilane", seed=0, num_vehicles=64)
    assert dense.num_objects == 64 and dense.controllable().all()
    with pytest.raises(ValueError, match="kind must be one of"):
        generator.generate("roundabout", 0)


def test_generated_scenarios_start_on_the_road_without_overlaps():
    # Every logged vehicle starts clear of the road edges and of every other vehicle.
    env = DriveEnv(device="cpu", num_worlds=24, max_agents=16, num_scenarios=24, resample_scenarios=False,
                   scenarios="synthetic", scenario_seed=11)  # fmt: skip
    env.reset(seed=0)
    from puffer_envs_gpudrive.sim import box_overlaps, box_touches_segments

    sim = env.sim
    present = sim.present
    assert not (box_overlaps(sim.pos, sim.heading, sim.w_length, sim.w_width, present) & present).any()
    edges = sim.w_edge_a, sim.w_edge_b, sim.w_edge_valid
    offroad = box_touches_segments(sim.pos, sim.heading, sim.w_length, sim.w_width, *edges)
    assert not (offroad & present).any()


def test_bundled_set_loads_and_a_folder_of_json_files_drives(tmp_path):
    bundled = load_folder(BUNDLED_DIR)
    assert len(bundled) >= 12 and {s.name.split("_")[0] for s in bundled} == set(generator.KINDS)
    for s in bundled[:2]:
        (tmp_path / f"{s.name}.json").write_text(json.dumps(scenario_to_dict(s)))
    env = DriveEnv(device="cpu", num_worlds=2, max_agents=16, scenarios=str(tmp_path))
    obs, _ = env.reset(seed=0)
    assert env.sim.scenarios.names == sorted(s.name for s in bundled[:2])
    assert obs.shape == (32, env.config.obs_size) and env.masks.any()
    with pytest.raises(ValueError, match="does not exist"):
        DriveEnv(device="cpu", scenarios=str(tmp_path / "missing"))


def test_generated_logs_never_collide():
    import torch

    from puffer_envs_gpudrive.sim import box_overlaps

    for s in generator.generate_set(6, seed=21):
        pos = torch.from_numpy(s.position).transpose(0, 1)  # [T, A, 2]: steps as the batch
        heading = torch.from_numpy(s.heading).T
        t, a = heading.shape
        sizes = torch.from_numpy(s.length).expand(t, a), torch.from_numpy(s.width).expand(t, a)
        assert not box_overlaps(pos, heading, *sizes, torch.from_numpy(s.valid).T).any(), s.name
