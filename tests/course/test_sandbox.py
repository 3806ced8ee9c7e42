"""The worker process on its own: limits, kills, and what it may not touch.

These drive ``sandbox.Worker`` directly with probes written for the purpose, so the
measurements are of the worker, not of a whole grading session.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from minisegnet.course._worker import landlock_abi
from minisegnet.course.errors import StudentFailure
from minisegnet.course.sandbox import Worker, prepare_worker_folder

from .conftest import ROOT

LIMIT = 1.5
PROBES = '''
import os, signal, subprocess, sys, time
import numpy as np


def ok(F, x):
    return {"y": x * 2}


def spin(F, x):
    while True:
        pass


def long_numpy(F, x):
    m = np.ones((400, 400))
    np.einsum("ij,jk,kl->il", m, m, m, optimize=False)


def ignore_alarm(F, x):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
    time.sleep(100)


def escape(F, x):
    """A grandchild in a session of its own, writing its pid, then living forever."""
    code = "import os, time; open('daemon.pid', 'w').write(str(os.getpid())); time.sleep(1000)"
    subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    time.sleep(0.5)
    return {"y": x}


def chatter(F, x):
    for _ in range(200000):
        print("x" * 100)
    return {"y": x}


def touch(F, x, paths=()):
    out = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
            out.append(1)
        except OSError:
            out.append(0)
    return {"readable": np.array(out)}
'''


@pytest.fixture
def worker(tmp_path):
    (tmp_path / "probes.py").write_text(PROBES)
    folder = prepare_worker_folder(tmp_path / "w", ROOT / "minisegnet", tmp_path / "probes.py")
    w = Worker(folder, {"time_s": LIMIT, "memory_mb": 1024, "output_kb": 64})
    yield w
    w.close()


X = {"x": np.arange(4.0)}


@pytest.mark.parametrize("probe", ["spin", "long_numpy", "ignore_alarm"])
def test_a_runaway_call_is_killed_within_twice_the_limit(worker, probe):
    assert worker.call("ok", X, {}, LIMIT)[0]["y"].tolist() == [0, 2, 4, 6]
    started = time.monotonic()
    with pytest.raises(StudentFailure) as info:
        worker.call(probe, X, {}, LIMIT)
    elapsed = time.monotonic() - started
    assert info.value.category == "timeout"
    assert LIMIT <= elapsed <= 2 * LIMIT, elapsed
    assert worker.call("ok", X, {}, LIMIT)[0]["y"].tolist() == [0, 2, 4, 6]  # a fresh worker


def test_escaped_grandchildren_are_killed(worker):
    worker.call("escape", X, {}, 5.0)
    pid = int(open(os.path.join(worker.root, "daemon.pid")).read())
    os.kill(pid, 0)  # alive, in a session of its own
    worker.stop()
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the escaped process {pid} survived the worker")


def test_output_is_capped_and_never_blocks(worker):
    mark = worker.output_mark()
    worker.call("chatter", X, {}, 10.0)
    printed = worker.output_since(mark, limit=10**9)
    assert 60_000 <= len(printed) <= 70_000
    assert worker.call("ok", X, {}, LIMIT)[0]["y"].tolist() == [0, 2, 4, 6]


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
def test_landlock_leaves_only_the_python_installation_and_the_worker_folder(worker, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("hidden")
    inside = os.path.join(worker.root, "probes.py")
    paths = [str(outside), str(ROOT / "assignments/a1/tests/hidden/test_a1_hidden.py"),
             str(ROOT / "tests/reference.py"), inside, np.__file__]
    readable = worker.call("touch", X, {"paths": paths}, 5.0)[0]["readable"].tolist()
    assert readable == [0, 0, 0, 1, 1]
    assert worker.sandbox["landlock"]["filesystem"] is True
    if os.geteuid() == 0:
        assert worker.sandbox["capabilities"] == "dropped"
