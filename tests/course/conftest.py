"""Shared, expensive fixtures of the course tests: one release and one graded batch.

``release_dir`` builds the student edition and the grader bundles from this repository once
per session; ``batch`` writes the generated A1 submissions (``_submissions.py``) and grades
them with the command line exactly as an instructor would (``minisegnet grade a1 ... -j 2
--hidden``), with a short time limit so that the time attacks stay cheap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minisegnet.course.config import load_course

from . import _submissions

ROOT = Path(__file__).resolve().parents[2]
TIME_LIMIT = 3.0
MEMORY_MB = 512
COURSE = load_course(ROOT)
ASSIGNMENTS = sorted(COURSE.assignments)
TAGS = {name.upper() for name in ASSIGNMENTS}
MARKED = sorted({f for a in COURSE.assignments.values() for f in a.files + a.extra_files})


def run(args, cwd, timeout=600, env=None):
    """Run a command; the environment keeps pytest from reading options of the outer run."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    full.update(env or {})
    return subprocess.run([str(a) for a in args], cwd=str(cwd), env=full, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory):
    from minisegnet.course.release import release

    out = tmp_path_factory.mktemp("release") / "out"
    release(ROOT, out, log=lambda *a: None)
    return out


@pytest.fixture(scope="session")
def edition(release_dir):
    return release_dir / "student"


@pytest.fixture(scope="session")
def manifests(release_dir):
    return {name: json.loads((release_dir / "grader" / name / "manifest.json").read_text())
            for name in ASSIGNMENTS}


@pytest.fixture(scope="session")
def solution_files():
    return {rel: (ROOT / rel).read_bytes() for rel in MARKED}


@pytest.fixture(scope="session")
def stub_files(edition):
    return {rel: (edition / rel).read_bytes() for rel in MARKED}


class Batch:
    def __init__(self, out, elapsed, console, names):
        self.out, self.elapsed, self.console, self.names = out, elapsed, console, names

    def results(self, student):
        return json.loads((self.out / student / "results.json").read_text())

    def log(self, student):
        return json.loads((self.out / student / "log.json").read_text())

    def failed(self, student):
        return {t["number"] for t in self.results(student)["tests"] if t["status"] != "passed"}

    def outputs(self, student):
        return "\n".join(t["output"] for t in self.results(student)["tests"])


@pytest.fixture(scope="session")
def batch(release_dir, solution_files, stub_files, tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    out = base / "out"
    bundle = release_dir / "grader" / "a1"
    trusted = bundle / "trusted"
    secrets = [trusted / "assignments/a1/tests/hidden/test_a1_hidden.py",
               trusted / "assignments/a1/tests/public/expected.json",
               trusted / "minisegnet/functional/conv_matrix.py", bundle / "manifest.json",
               ROOT / "assignments/a1/tests/hidden/test_a1_hidden.py",
               ROOT / "minisegnet/functional/conv_matrix.py", ROOT / "tests/reference.py"]
    subs = _submissions.build(solution_files, stub_files, {"out": out, "secrets": secrets})
    _submissions.write(base / "submissions", subs)
    started = time.monotonic()
    done = run([sys.executable, "-m", "minisegnet", "grade", "a1", base / "submissions", "-o", out,
                "-j", "2", "--hidden", "--bundle", release_dir, "--time-limit", TIME_LIMIT,
                "--memory-limit", MEMORY_MB, "--no-progress"], cwd=ROOT, timeout=900)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-4000:]
    return Batch(out, elapsed, done.stdout, sorted(subs))
