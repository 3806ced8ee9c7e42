"""Fixtures for ``pytest assignments/aN``: the assignment tests run in this process.

``student`` runs your code, ``expected`` replays the expected values recorded with the
student edition, ``check`` compares the two and ``data`` makes test inputs. The isolated
runner (``minisegnet check aN``, and the autograder) uses the same tests through
``minisegnet.course.plugin`` instead of this file.

The tests always run the files of this folder: ``pyproject.toml`` puts the project folder
first on ``sys.path`` (pytest's ``pythonpath`` option), and this file stops the session at
once, saying why, if ``minisegnet`` still comes from somewhere else (say, a copy installed
with ``pip install .`` and a pytest run from another folder).

The tests grade the reference tier, the code you write: the library's fast tier (Numba
kernels and the like, ``minisegnet.backend``) is switched off for the whole session. A
function that is not written yet fails its tests with one line naming it, its file and its
assignment, and a file that does not compile with one line naming the file and the line,
not with a traceback.
"""

from pathlib import Path

import pytest

_PROJECT = Path(__file__).resolve().parents[1]


def _imported_from_here():
    import minisegnet

    where = Path(minisegnet.__file__).resolve().parent
    if where != _PROJECT / "minisegnet":
        raise pytest.UsageError(
            f"these tests must run the files of {_PROJECT}, but `import minisegnet` finds "
            f"{where}. Run pytest from the project folder ({_PROJECT}), where pyproject.toml "
            f"puts it first on the path, or install the project editable: "
            f'python -m pip install -e ".[course]"')


_imported_from_here()

from minisegnet import backend  # noqa: E402  (after the check above)
from minisegnet._stubs import is_stub, stub_line  # noqa: E402
from minisegnet.course.harness import check, data, expected, register_markers, student  # noqa: E402, F401


def pytest_configure(config):
    backend.set_impl("reference")
    register_markers(config)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    error = call.excinfo.value if call.excinfo is not None else None
    if is_stub(error):
        outcome.get_result().longrepr = stub_line(error)
    elif isinstance(error, SyntaxError) and error.filename:
        name = Path(error.filename).name
        outcome.get_result().longrepr = (f"{name} does not compile (line {error.lineno}: "
                                         f"{error.msg}): {error.filename}")
