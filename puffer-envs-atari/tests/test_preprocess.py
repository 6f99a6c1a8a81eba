"""Preprocessing on known frames: area resize, grayscale, max-pool of the last two frames, stack order."""

import numpy as np
import pytest
from puffer_envs_atari.preprocess import AreaResize, area_weights, push_frame

from conftest import make


def test_area_weights_average_exactly_the_covered_pixels():
    w = area_weights(5, 2)  # each output covers 2.5 source pixels
    np.testing.assert_allclose(w, [[0.4, 0.4, 0.2, 0, 0], [0, 0, 0.2, 0.4, 0.4]], atol=1e-7)
    np.testing.assert_allclose(area_weights(210, 84).sum(1), 1, atol=1e-6)
    with pytest.raises(ValueError, match="only downscales"):
        area_weights(84, 210)


def test_resize_of_known_frames():
    resize = AreaResize((210, 160), (84, 84))
    out = np.empty((84, 84), dtype=np.uint8)
    np.testing.assert_array_equal(resize(np.full((210, 160), 77, np.uint8), out), 77)
    # Horizontal bands 5 source rows high are 2 output rows high: every output row sees one band.
    bands = np.repeat(np.arange(42, dtype=np.uint8) * 6, 5)[:, None].repeat(160, 1)
    np.testing.assert_array_equal(resize(bands, out), np.repeat(np.arange(42) * 6, 2)[:, None].repeat(84, 1))
    # Halves round to nearest, half up: rows alternating 0/1 average to 0.4 or 0.6 per output row.
    stripes = (np.arange(210) % 2).astype(np.uint8)[:, None].repeat(160, 1)
    assert set(np.unique(resize(stripes, out))) == {0, 1}
    with pytest.raises(ValueError, match="expected a frame of shape"):
        resize(np.zeros((84, 84), np.uint8), out)


def test_resize_matches_opencv_inter_area_up_to_rounding():
    cv2 = pytest.importorskip("cv2")
    frame = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
    ours = AreaResize((210, 160), (84, 84))(frame, np.empty((84, 84), np.uint8))
    theirs = cv2.resize(frame, (84, 84), interpolation=cv2.INTER_AREA)
    diff = np.abs(ours.astype(int) - theirs)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.02


def test_push_frame_keeps_the_oldest_first():
    stack = np.zeros((3, 2, 2), np.uint8)
    for value in (1, 2, 3, 4):
        push_frame(stack, np.full((2, 2), value, np.uint8))
    assert stack[:, 0, 0].tolist() == [2, 3, 4]


class FakeALE:
    """Frame ``k`` is a screen filled with ``k``, but for one pixel that flickers: 200 on odd frames."""

    def __init__(self) -> None:
        self.frame = 0

    def act(self, action: int, strength: float = 1.0) -> int:
        self.frame += 1
        return 1

    def getScreenGrayscale(self, buffer: np.ndarray) -> None:  # noqa: N802 (ALE's name)
        buffer[:] = self.frame
        buffer[0, 0] = 200 if self.frame % 2 else 0

    def game_over(self) -> bool:
        return False

    def lives(self) -> int:
        return 3


@pytest.mark.parametrize("max_pool", [True, False])
def test_python_engine_max_pools_the_last_two_frames_and_stacks_oldest_first(max_pool):
    env = make("pong", "python", seed=None, height=210, width=160, max_pool=max_pool, noop_max=0)
    env.reset()
    env._ales[0] = FakeALE()
    for _ in range(3):
        obs, rew, *_ = env.step(np.zeros(1, dtype=np.int32))
        assert rew[0] == 4  # one point per frame, four frames per step
    # Step s ends on frame 4s; with max_pool its observation is max(frame 4s - 1, frame 4s).
    last = obs[0, -1]
    assert last[1, 1] == 12 and obs[0, -2, 1, 1] == 8 and obs[0, -3, 1, 1] == 4
    assert last[0, 0] == (200 if max_pool else 0)  # the flicker of odd frame 11 survives only the max


def test_observations_are_ales_grayscale_screen_resized():
    env = make(
        "breakout", "python", seed=None, frameskip=1, max_pool=False, frame_stack=1, render_mode="rgb_array"
    )
    obs, _ = env.reset()
    ale = env._ales[0]
    gray = ale.getScreenGrayscale()
    resized = AreaResize((210, 160), (84, 84))(gray, np.empty((84, 84), np.uint8))
    np.testing.assert_array_equal(obs[0, 0], resized)
    # ALE's grayscale is the luminance of its RGB screen (ITU-R 601 weights), as render() shows.
    rgb = env.render().astype(np.float64)
    luminance = rgb @ [0.299, 0.587, 0.114]
    assert np.abs(luminance - gray).max() <= 1.0
