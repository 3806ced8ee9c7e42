"""Shared, expensive fixtures of the course tests: one release and one graded batch.

``release_dir`` builds the student edition and the grader bundles from this repository once
per session; ``batch`` writes the generated A1 submissions (``_submissions.py``) and grades
them with the command line exactly as an instructor would (``minisegnet grade a1 ... -j 2
--hidden``), with a short time limit so that the time attacks stay cheap.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from minisegnet.course.config import load_course
from minisegnet.course.sandbox import importable_solutions

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
    lines = []
    release(ROOT, out, log=lines.append)
    (out.parent / "release.log").write_text("\n".join(map(str, lines)) + "\n", encoding="utf-8")
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
    def __init__(self, out, elapsed, console, names, **facts):
        self.out, self.elapsed, self.console, self.names = out, elapsed, console, names
        self.facts = facts

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
    outside = base / "outside-secret.txt"
    outside.write_text("untouched")
    os.chmod(outside, 0o600)
    solutions = [ROOT / "minisegnet/functional/conv_matrix.py",
                 trusted / "minisegnet/functional/conv_matrix.py"]
    solutions += [Path(p) / "functional/conv_matrix.py" for p in importable_solutions()]
    hosts, udp = _udp_listener()
    token = f"msn-batch-{uuid.uuid4().hex[:10]}"
    paths = {"out": out, "secrets": secrets, "outside": outside, "solutions": solutions,
             "udp_hosts": hosts, "udp_port": udp.getsockname()[1], "token": token}
    subs = _submissions.build(solution_files, stub_files, paths)
    _submissions.write(base / "submissions", subs)
    _submissions.write_archives(base / "submissions", solution_files, stub_files, outside)
    started = time.monotonic()
    done = run([sys.executable, "-m", "minisegnet", "grade", "a1", base / "submissions", "-o", out,
                "-j", "2", "--hidden", "--bundle", release_dir, "--time-limit", TIME_LIMIT,
                "--memory-limit", MEMORY_MB, "--no-progress"], cwd=ROOT, timeout=1200)
    elapsed = time.monotonic() - started
    survivors = _processes_with(token)
    datagrams = []
    while True:
        try:
            datagrams.append(udp.recv(65536))
        except BlockingIOError:
            break
    udp.close()
    _remove_deep(base / "submissions" / "deep_folder")
    assert done.returncode == 0, done.stdout[-4000:]
    names = sorted(p.name for p in out.iterdir() if (p / "results.json").is_file())
    return Batch(out, elapsed, done.stdout, names, survivors=survivors, datagrams=datagrams,
                 outside=outside, base=base)


def _udp_listener():
    """A UDP socket on every address of this machine, and the hosts to aim at."""
    hosts = ["127.0.0.1"]
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect(("10.255.255.255", 1))
        if not probe.getsockname()[0].startswith("127."):
            hosts.append(probe.getsockname()[0])
        probe.close()
    except OSError:
        pass
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 0))
    udp.setblocking(False)
    return hosts, udp


def _processes_with(token):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if token.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _remove_deep(folder):
    """Remove a very deep tree without recursion (``shutil.rmtree`` recurses per level)."""
    if not folder.is_dir():
        return
    chain = [os.open(folder, os.O_RDONLY | os.O_DIRECTORY)]
    while True:
        fd = chain[-1]
        subs = [e for e in os.listdir(fd) if os.path.isdir(os.path.join(f"/proc/self/fd/{fd}", e))
                and not os.path.islink(os.path.join(f"/proc/self/fd/{fd}", e))]
        for entry in os.listdir(fd):
            if entry not in subs:
                os.unlink(entry, dir_fd=fd)
        if subs:
            chain.append(os.open(subs[0], os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd))
            continue
        os.close(chain.pop())
        if not chain:
            break
        name = [e for e in os.listdir(chain[-1])
                if os.path.isdir(os.path.join(f"/proc/self/fd/{chain[-1]}", e))][0]
        os.rmdir(name, dir_fd=chain[-1])
    os.rmdir(folder)
