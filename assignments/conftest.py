"""Fixtures for ``pytest assignments/aN``: the assignment tests run in this process.

``student`` runs your code, ``expected`` replays the expected values recorded with the
student edition, ``check`` compares the two and ``data`` makes test inputs. The isolated
runner (``minisegnet check aN``, and the autograder) uses the same tests through
``minisegnet.course.plugin`` instead of this file.

The tests grade the reference tier, the code you write: the library's fast tier (Numba
kernels and the like, ``minisegnet.backend``) is switched off for the whole session.
"""

from minisegnet import backend
from minisegnet.course.harness import check, data, expected, register_markers, student  # noqa: F401


def pytest_configure(config):
    backend.set_impl("reference")
    register_markers(config)
