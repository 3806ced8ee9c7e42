"""Test configuration: the CuPy test mode.

Run the op tests on the GPU with ``pytest --device=gpu`` or ``MINISEGNET_TEST_DEVICE=gpu``,
and the whole suite on the reference tier with ``pytest --impl=reference`` (or
``MINISEGNET_IMPL=reference``): see ``minisegnet.backend``.
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
    parser.addoption(
        "--impl",
        action="store",
        default=os.environ.get("MINISEGNET_IMPL", "auto"),
        choices=backend.IMPLS,
        help="which tier the ops take: auto (fast where it pays), reference (the readable "
             "tier students write) or fast (wherever one exists)",
    )


def pytest_configure(config):
    backend.set_impl(config.getoption("--impl"))


def pytest_report_header(config):
    return f"minisegnet: device={config.getoption('--device')} impl={backend.get_impl()}"


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


@pytest.fixture
def on_both_tiers():
    """``ref, fast = on_both_tiers(f, *args)``: ``f(*args)`` on the reference, then the fast tier.

    The tier-agreement tests of each op family use it; ``f`` should return fresh arrays
    (forward outputs and backward gradients) so that the two results can be compared.
    """

    def run(f, *args, **kwargs):
        with backend.use_impl("reference"):
            reference = f(*args, **kwargs)
        with backend.use_impl("fast"):
            fast = f(*args, **kwargs)
        return reference, fast

    return run
