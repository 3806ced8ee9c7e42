"""The worker process on its own: limits, kills, accounting, network, what it may touch.

These drive ``sandbox.Worker`` directly with probes written for the purpose, so the
measurements are of the worker, not of a whole grading session. Each mechanism is tested on
the path this machine takes (``PATHS`` says which, in the test ids and messages) and, where
a switch turns it off, on the fallback too: ``fallback`` workers run without namespaces and
cgroups (uid, rlimits, seccomp and Landlock only).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid

import numpy as np
import pytest

from minisegnet.course._worker import landlock_abi
from minisegnet.course.errors import StudentFailure
from minisegnet.course.sandbox import (
    LAUNCHER,
    Box,
    Worker,
    namespace_support,
    prepare_worker_folder,
    read_rules,
    sandbox_summary,
)

from .conftest import ROOT

LIMIT = 1.5
NS = namespace_support()
ROOT_USER = os.geteuid() == 0
BOX = Box.create({}) if ROOT_USER else None
CGROUPS = BOX.cgroups.controllers if BOX is not None and BOX.cgroups else {}
if BOX is not None:
    BOX.close()
PATHS = {
    "namespaces": "+".join(k for k in ("mount", "pid", "net") if NS.get(k)) or "none",
    "cgroups": "+".join(sorted(CGROUPS)) or "none",
    "uid": "leased" if ROOT_USER else "own",
    "landlock": f"ABI {landlock_abi()}",
}
PROBES = '''
import os, signal, socket, subprocess, sys, time
import numpy as np


def ok(F, x):
    return {"y": x * 2}


def who(F, x):
    return {"uid": np.array([os.getuid()]), "pid": np.array([os.getpid()])}


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


def daemons(F, x, token=""):
    """Three ways out: a double fork, setsid, and execve with an empty environment."""
    if os.fork() == 0:                      # double fork
        if os.fork() == 0:
            os.execv("/bin/sleep", [token + "-double", "1000"])
        os._exit(0)
    if os.fork() == 0:                      # a session of its own
        os.setsid()
        os.execv("/bin/sleep", [token + "-setsid", "1000"])
    if os.fork() == 0:                      # no environment at all (no HOME to be found by)
        os.setsid()
        os.execve("/bin/sleep", [token + "-noenv", "1000"], {})
    time.sleep(0.3)
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


def write(F, x, paths=()):
    out = []
    for path in paths:
        try:
            with open(path, "ab") as handle:
                handle.write(b"# patched")
            out.append(1)
        except OSError:
            out.append(0)
    return {"written": np.array(out)}


def die(F, x):
    os._exit(7)


def udp(F, x, port=0, hosts=()):
    sent = 0
    for host in hosts:
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                s = socket.socket(family, socket.SOCK_DGRAM)
                s.sendto(b"LEAK" + x.tobytes(), (host, port))
                sent += 1
            except OSError:
                pass
        try:
            c = socket.create_connection((host, port), timeout=0.5)
            c.sendall(b"LEAK")
            sent += 1
        except OSError:
            pass
    return {"sent": np.array([sent])}


def hog_children(F, x, mb=300, count=3):
    """``count`` children each touching ``mb`` MiB and holding it; how many got there
    while all of them were still alive."""
    r, w = os.pipe()
    kids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            try:
                block = np.ones(mb << 17)        # mb MiB of float64, touched
                os.write(w, b"H")
                time.sleep(60)
            finally:
                os._exit(0)
        kids.append(pid)
    os.close(w)
    held, deadline = 0, time.time() + 45
    while held < count and time.time() < deadline:
        alive = [p for p in kids if os.waitpid(p, os.WNOHANG) == (0, 0)]
        if len(alive) < count:
            break                                # one was killed: they never all held
        ready = __import__("select").select([r], [], [], 0.2)[0]
        if ready:
            held += len(os.read(r, 100))
    for pid in kids:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    return {"held": np.array([held])}


def fill_disk(F, x, mb=8, count=40):
    written = 0
    for k in range(count):
        try:
            with open(f"fill-{k}.bin", "wb") as handle:
                handle.write(b"\\0" * (mb << 20))
            written += mb
        except OSError:
            break
    return {"mb": np.array([written])}


def plant(F, x):
    """What the old grader opened by name: FIFOs and links where its files would be."""
    for name in ("in-2.npz", "out-2.npz", "io"):
        try:
            os.mkfifo(name)
        except OSError:
            pass
    for name in ("out-3.npz", "results.json"):
        try:
            os.symlink("/etc/passwd", name)
        except OSError:
            pass
    return {"y": x}


def forge_reply(F, x):
    """A reply that announces more bytes than it sends, then silence."""
    for fd in range(3, 64):
        try:
            os.write(fd, b'{"id": 99, "ok": true, "bytes": 1000}\\n')
        except OSError:
            pass
    time.sleep(100)
'''


def make_worker(tmp_path, limits=None, overlay=None, name="w", **switches):
    (tmp_path / "probes.py").write_text(PROBES)
    folder = prepare_worker_folder(tmp_path / name, ROOT / "minisegnet", tmp_path / "probes.py",
                                   overlay)
    return Worker(folder, dict({"time_s": LIMIT, "memory_mb": 1024, "output_kb": 64},
                               **(limits or {})), **switches)


@pytest.fixture
def worker(tmp_path):
    w = make_worker(tmp_path)
    yield w
    w.close()


@pytest.fixture(params=["default", "fallback"])
def either(request, tmp_path):
    """The default worker, and one without namespaces and cgroups (uid, seccomp, Landlock)."""
    switches = {} if request.param == "default" else {"namespaces": False, "cgroups": False}
    w = make_worker(tmp_path, **switches)
    w.kind = request.param
    yield w
    w.close()


X = {"x": np.arange(4.0)}


def _alive_with(token):
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


def test_the_paths_this_machine_takes_are_reported(worker):
    worker.call("ok", X, {}, 5.0)
    line = sandbox_summary(worker.sandbox, worker.box.describe())
    print(PATHS, line)
    assert line.startswith("sandbox: ") and "network" in line
    if NS.get("net"):
        assert "network closed" in line and "network" in line.split("namespaces:")[1]
    if ROOT_USER:
        assert worker.sandbox["capabilities"].startswith("dropped")


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


def test_no_process_survives_the_worker(either):
    """Double fork, setsid and execve with an empty environment: all gone at stop, by the
    PID namespace and cgroup (default here) or by the leased uid (fallback)."""
    token = f"msn-daemon-{uuid.uuid4().hex[:10]}"
    either.call("daemons", X, {"token": token}, 5.0)
    assert len(_alive_with(token)) == 3, f"{either.kind}: the probe did not start its daemons"
    either.stop()
    for _ in range(100):
        if not _alive_with(token):
            break
        time.sleep(0.05)
    assert _alive_with(token) == [], f"{either.kind} ({PATHS}): processes survived"


def test_output_is_capped_and_never_blocks(worker):
    mark = worker.output_mark()
    worker.call("chatter", X, {}, 10.0)
    printed = worker.output_since(mark, limit=10**9)
    assert 60_000 <= len(printed) <= 70_000
    assert worker.call("ok", X, {}, LIMIT)[0]["y"].tolist() == [0, 2, 4, 6]


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
def test_reads_are_limited_to_the_dependencies_and_the_package(worker, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("hidden")
    inside = os.path.join(worker.pkg, "probes.py")
    editable = ROOT / "minisegnet/functional/conv_matrix.py"   # the solution, installed editable
    paths = [str(outside), str(ROOT / "assignments/a1/tests/hidden/test_a1_hidden.py"),
             str(ROOT / "tests/reference.py"), str(editable), str(LAUNCHER), inside, np.__file__]
    readable = worker.call("touch", X, {"paths": paths}, 5.0)[0]["readable"].tolist()
    assert readable == [0, 0, 0, 0, 0, 1, 1]
    assert worker.sandbox["landlock"]["filesystem"] is True
    site = [p for p, kind in read_rules() if kind == "list" and p.endswith("-packages")]
    assert site and not any(p == s for s in site for p, kind in read_rules() if kind == "read")


def test_the_worker_cannot_change_its_package_or_its_launcher(either):
    """Attack 1: the worker rewrites what runs it, dies, and hopes to be restarted as it
    wrote. The package is read-only for it and the launcher is not in its reach."""
    files = [os.path.join(either.pkg, "minisegnet", "__init__.py"),
             os.path.join(either.pkg, "probes.py"), str(LAUNCHER)]
    before = [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files]
    written = either.call("write", X, {"paths": files}, 5.0)[0]["written"].tolist()
    assert written == [0, 0, 0], either.kind
    with pytest.raises(StudentFailure):
        either.call("die", X, {}, 5.0)
    assert either.call("ok", X, {}, 5.0)[0]["y"].tolist() == [0, 2, 4, 6]
    assert [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files] == before


@pytest.mark.skipif(not ROOT_USER, reason="distinct uids need the grader to run as root")
def test_concurrent_workers_get_distinct_uids_and_cannot_read_each_other(tmp_path):
    a = make_worker(tmp_path, name="a")
    b = make_worker(tmp_path, name="b")
    try:
        uid_a = int(a.call("who", X, {}, 5.0)[0]["uid"][0])
        uid_b = int(b.call("who", X, {}, 5.0)[0]["uid"][0])
        assert uid_a != uid_b and 0 not in (uid_a, uid_b)
        other = os.path.join(b.pkg, "probes.py")
        assert a.call("touch", X, {"paths": [other]}, 5.0)[0]["readable"].tolist() == [0]
    finally:
        a.close()
        b.close()


def _listeners():
    """UDP and TCP listeners on this machine's loopback and (if any) its first address."""
    hosts = ["127.0.0.1"]
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect(("10.255.255.255", 1))
        address = probe.getsockname()[0]
        probe.close()
        if not address.startswith("127."):
            hosts.append(address)
    except OSError:
        pass
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 0))
    port = udp.getsockname()[1]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", port))
    tcp.listen(4)
    for s in (udp, tcp):
        s.setblocking(False)
    return hosts, port, udp, tcp


@pytest.mark.parametrize("switches", [{}, {"namespaces": False}, {"seccomp": False}],
                         ids=["default", "seccomp-only", "netns-only"])
def test_no_datagram_or_connection_leaves_the_worker(tmp_path, switches):
    """Attack 5: test inputs sent by UDP (and TCP) to a listener outside. Stopped by the
    network namespace, by the seccomp filter alone, and by the namespace alone."""
    if switches.get("seccomp") is False and not NS.get("net"):
        pytest.skip("no network namespace here: the seccomp filter is the only guard")
    hosts, port, udp, tcp = _listeners()
    w = make_worker(tmp_path, **switches)
    try:
        w.call("udp", X, {"port": port, "hosts": hosts}, 10.0)
        w.call("udp", X, {"port": port, "hosts": hosts}, 10.0)
        time.sleep(0.3)
        received = []
        try:
            received.append(udp.recv(4096))
        except BlockingIOError:
            pass
        try:
            received.append(tcp.accept())
        except BlockingIOError:
            pass
        assert received == [], f"{switches or 'default'} ({PATHS}): the network was open"
        assert w.sandbox["seccomp"] is switches.get("seccomp", True)
        assert w.sandbox["net_namespace"] is (NS.get("net", False) and
                                               switches.get("namespaces", True))
    finally:
        w.close()
        udp.close()
        tcp.close()


@pytest.mark.parametrize("kind", ["default", "fallback"])
def test_children_together_stay_under_the_memory_limit(tmp_path, kind):
    """Attack 4: three children of 200 MiB each against a 512 MiB limit for the whole
    submission (each is far under the per-process limit). The memory cgroup (default here)
    or, without one, the parent's watchdog over the resident memory of the uid or of the
    launcher's subtree kills one before
    all three hold their memory; 60 MiB each is fine."""
    if kind == "default" and "memory" not in CGROUPS:
        pytest.skip("no memory cgroup here: the fallback case covers this machine")
    switches = {} if kind == "default" else {"cgroups": False, "namespaces": False}
    w = make_worker(tmp_path, {"memory_mb": 512}, **switches)
    try:
        held = int(w.call("hog_children", X, {"mb": 60, "count": 3}, 60.0)[0]["held"][0])
        assert held == 3, f"{kind}: 3 x 60 MiB under 512 MiB should all hold ({w.output_tail()})"
        try:
            held = int(w.call("hog_children", X, {"mb": 200, "count": 3}, 60.0)[0]["held"][0])
        except StudentFailure as e:    # the kill may take the worker itself
            assert e.category == "memory", e
            held = 0
        assert held <= 2, f"{kind} ({PATHS}): 3 x 200 MiB all held against 512 MiB"
        assert w.call("ok", X, {}, 10.0)[0]["y"].tolist() == [0, 2, 4, 6]
    finally:
        w.close()


def test_files_written_in_all_stay_under_the_disk_limit(either):
    """Attack 4: many files of 8 MiB (each under the per-file cap) against 128 MiB: the
    tmpfs home is full (default here) or the worker is stopped after the call (fallback)."""
    either.limits["disk_mb"] = 64
    try:
        mb = int(either.call("fill_disk", X, {"mb": 8, "count": 40}, 20.0)[0]["mb"][0])
        assert NS.get("mount") and either.kind == "default", f"{either.kind}: wrote {mb} MiB"
        assert mb <= 64
    except StudentFailure as e:
        assert either.kind == "fallback" or not NS.get("mount")
        assert e.category == "disk", e


def test_planted_fifos_and_links_cannot_hold_or_redirect_the_parent(worker):
    """Attack 2: the parent opens nothing in the worker's folders any more."""
    worker.call("ok", X, {}, 10.0)                      # started: only the calls are timed
    outputs, seconds = worker.call("plant", X, {}, 5.0)
    assert outputs["y"].tolist() == [0, 1, 2, 3] and seconds < 5.0
    outputs, seconds = worker.call("ok", X, {}, 5.0)
    assert outputs["y"].tolist() == [0, 2, 4, 6] and seconds < 5.0
    started = time.monotonic()
    with pytest.raises(StudentFailure) as info:
        worker.call("forge_reply", X, {}, 2.0)
    assert info.value.category in ("timeout", "crash")
    assert time.monotonic() - started < 4.0


def test_start_ups_share_one_budget(tmp_path):
    """Attack 7: a package that sleeps 1 s at import and dies at every call. With a 3 s
    start-up budget, ten calls cost about that budget, not ten start-ups."""
    init = (ROOT / "minisegnet/functional/__init__.py").read_text()
    overlay = {"minisegnet/functional/__init__.py": ("import time\ntime.sleep(1.0)\n" + init).encode()}
    w = make_worker(tmp_path, {"startup_s": 3.0}, overlay=overlay)
    try:
        started = time.monotonic()
        messages = []
        for _ in range(10):
            with pytest.raises(StudentFailure) as info:
                w.call("die", X, {}, 5.0)
            messages.append(str(info.value))
        elapsed = time.monotonic() - started
        assert elapsed < 3.0 + 7.0, elapsed      # ten start-ups would be over 25 s
        assert w.starts <= 4
        assert "start-up budget" in messages[-1]
    finally:
        w.close()
