from __future__ import annotations

import zlib

import numpy as np
import pytest


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    # Different inputs for every test, reproducible run to run: the seed comes from the test's id.
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
