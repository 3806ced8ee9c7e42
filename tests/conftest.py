"""Test configuration: the CuPy test mode.

Run the op tests on the GPU with ``pytest --device=gpu`` or ``MINISEGNET_TEST_DEVICE=gpu``.
Tests that take the ``device`` fixture then receive ``"gpu"`` and build their inputs with
``to_dev``; without CuPy or a GPU they skip cleanly. The default is ``"cpu"`` (NumPy).
"""

import os

import numpy as np
import pytest

from minisegnet import backend


def pytest_addoption(parser):
    parser.addoption(
        "--device",
        action="store",
        default=os.environ.get("MINISEGNET_TEST_DEVICE", "cpu"),
        choices=("cpu", "gpu"),
        help="run the op tests on NumPy (cpu) or CuPy (gpu) arrays",
    )


@pytest.fixture
def device(request):
    """``"cpu"`` or ``"gpu"``: the device the op tests run on."""
    name = request.config.getoption("--device")
    if name == "gpu" and not backend.gpu_available():
        pytest.skip("CuPy test mode asked for, but CuPy or a GPU is not available")
    return name


@pytest.fixture
def to_dev(device):
    """Move a NumPy array to the test device (identity on the CPU)."""
    return lambda a: backend.to_device(a, device)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
