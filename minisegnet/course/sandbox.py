"""The trusted side of the worker: lease its resources, start it confined, talk to it, stop it.

A submission gets a ``Box``: a user id of its own (where the grader runs as root; leased
under a lock, so two submissions graded at the same time never share one), a cgroup per
controller hierarchy (memory, pids and CPU limits for all its processes together, and a
kill switch), and the namespaces util-linux ``unshare`` can create here (mount, PID,
network). A ``Worker`` runs ``_worker.py`` from the grader's own copy of the course package,
inside that box, on a folder that holds the student edition with the submitted files
(read-only for the worker) and a fresh home folder per start (a size-capped tmpfs where
there is a mount namespace).

The parent never opens a path the worker controls: requests (with their input arrays) go
in on stdin, replies (with their ``.npz`` bytes) come back on a pipe of their own, size
capped; whatever the code prints goes to a third pipe that a thread drains into a capped
buffer; the launcher reports the worker's death on a fourth. Every write and read has the
test's deadline, so nothing the worker does (not reading, not answering) can hold the
parent past the test's budget.

When a call's budget runs out, or at the end, everything of the submission is killed: the
cgroup (``cgroup.kill``, or a freeze-and-kill on v1), the PID namespace (its init is
killed with the launcher), every process of the leased uid, the process group, and any
orphan that reached this process (a child subreaper). A worker that died, timed out or ran
out of memory is replaced for the next call; all start-ups of a submission share one
budget (``startup_s``), so a package that is slow to import and crashes at every call
costs that budget once, not once per test.

Where a mechanism is missing, the next one down is used and ``sandbox_summary`` says which
(the log of every graded submission has that line).
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .box import (
    Box,
    descendants,
    kill_leftovers,
    namespace_support,
    reachable_by,
    resident_bytes,
    resident_bytes_of_uid,
)
from .errors import (
    GraderError,
    StudentCrash,
    StudentError,
    StudentFailure,
    StudentOutputError,
    StudentTimeout,
)
from .npzio import NpzError, npz_bytes, read_npz_bytes
from .policy import importable_solutions, read_rules, solution_exposure

__all__ = ["Worker", "Box", "prepare_worker_folder", "sandbox_summary", "kill_leftovers",
           "DEFAULT_LIMITS", "namespace_support", "read_rules", "importable_solutions",
           "solution_exposure", "LAUNCHER"]

LAUNCHER = Path(__file__).with_name("_worker.py")
PACKAGE_DIR = "pkg"
DEFAULT_LIMITS = {
    "time_s": 10.0,        # wall clock per test (all of its calls)
    "startup_s": 60.0,     # wall clock for all start-ups of a submission's workers together
    "memory_mb": 2048,     # address space of each process, and all processes together
    "cpu_s": 600,          # CPU seconds over a worker's life (wall clock is the per-test guard)
    "cpus": 1.0,           # CPU share of all processes together (where a cgroup can say so)
    "file_mb": 64,         # largest file the worker may write
    "disk_mb": 128,        # all files the worker writes (its home is a tmpfs of that size)
    "open_files": 256,
    "processes": 64,       # tasks of the submission (threads count)
    "output_kb": 256,      # what we keep of stdout/stderr over a worker's life
    "reply_mb": 256,       # largest reply (the .npz of a call's outputs)
}
_PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(ctypes.c_int(_PR_SET_CHILD_SUBREAPER), ctypes.c_ulong(1), ctypes.c_ulong(0),
                   ctypes.c_ulong(0), ctypes.c_ulong(0))
    except Exception:  # not Linux: orphans go to init instead
        pass


# ---------------------------------------------------------------- the worker folder


def prepare_worker_folder(root: Path, package: Path, probes: Path, overlay: dict | None = None) -> Path:
    """Build a worker folder: ``root/pkg`` holds ``package`` (a ``minisegnet`` tree) with
    ``overlay`` (``{relative path: bytes}``) written over it and ``probes.py``. Homes
    (``root/home-N``) are made per start by the ``Worker``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    pkg = root / PACKAGE_DIR
    shutil.copytree(package, pkg / "minisegnet",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    for rel, content in sorted((overlay or {}).items()):
        target = pkg / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    shutil.copyfile(probes, pkg / "probes.py")
    return root


def _share_with_group(root: str, gid: int) -> None:
    """The package folder: owned by us, readable by the worker's group, writable by no one
    else (the folder above: enterable by that group only)."""
    os.chown(root, 0, gid)
    os.chmod(root, 0o750)
    for dirpath, _dirnames, filenames in os.walk(os.path.join(root, PACKAGE_DIR)):
        os.lchown(dirpath, 0, gid)
        os.chmod(dirpath, 0o750)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.lchown(path, 0, gid)
                os.chmod(path, 0o640)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_CRASH_WORDS = {
    "SIGSEGV": "a segmentation fault",
    "SIGBUS": "a bus error",
    "SIGILL": "an illegal instruction",
    "SIGFPE": "a floating-point exception",
    "SIGABRT": "an abort",
    "SIGXCPU": "the CPU time limit",
    "SIGXFSZ": "the file size limit",
    "SIGSYS": "a forbidden system call",
    "SIGKILL": "SIGKILL (killed: the CPU or memory limit, or the code killed itself)",
}


# ---------------------------------------------------------------- the worker


class Worker:
    """One confined worker process, restarted on demand. Not thread-safe (one test at a time).

    ``limits`` may carry ``"box"``: the description of a ``Box`` the grading process
    created for the submission; without it the worker makes (and owns) one. ``landlock``,
    ``seccomp``, ``namespaces``, ``cgroups`` and ``drop_uid`` switch mechanisms off (for
    the tests of the fallbacks)."""

    def __init__(self, root, limits=None, *, landlock=True, drop_uid=None, log=None,
                 seccomp=True, namespaces=True, cgroups=True, module="minisegnet.functional"):
        self.root = str(Path(root).resolve())
        self.module = module        # the library module the probes receive
        self.pkg = os.path.join(self.root, PACKAGE_DIR)
        self.limits = dict(DEFAULT_LIMITS, **{k: v for k, v in (limits or {}).items()
                                              if k != "box"})
        self.landlock = landlock
        self.seccomp = seccomp
        description = (limits or {}).get("box")
        if description:
            self.box = Box.attach(description)
        else:
            self.box = Box.create(self.limits, drop_uid=drop_uid, namespaces=namespaces,
                                  cgroups=cgroups)
        if not namespaces:
            self.box.namespaces = {"mount": False, "pid": False, "net": False, "prefix": []}
        self.uid = self.box.uid
        self.proc = None
        self.sandbox = None
        self.broken = None          # a StudentFailure once start-up can no longer succeed
        self.last_kill_s = None     # how long the last timed-out call ran before the kill
        self.starts = 0
        self.startup_spent = 0.0
        self.home = None
        self._reply_fd = None
        self._status_fd = None
        self._buffer = b""
        self._counter = 0
        self._output = bytearray()
        self._output_dropped = 0
        self._lock = threading.Lock()
        self._drain = None
        self._log = log
        self._ooms = 0
        _become_subreaper()
        if self.uid is not None:
            _share_with_group(self.root, self.uid)

    # ------------------------------------------------------------ process life

    def _env(self, home):
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": os.path.join(home, "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1",
            "NUMBA_NUM_THREADS": "1",
            "NUMBA_CACHE_DIR": os.path.join(home, "numba-cache"),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(home, "tmp"),
            # Grade the reference tier. The edition ships no fast tier of a graded function
            # (course.json's exclude); this keeps a leftover one from answering for the student.
            "MINISEGNET_IMPL": "reference",
        }

    def _raise_broken(self):
        """Raise a fresh copy (re-raising one instance would grow its traceback each time)."""
        b = self.broken
        if isinstance(b, GraderError):
            raise GraderError(str(b))
        raise type(b)(b.message, b.detail, b.category)

    def _config(self, home, reply_w, status_w):
        ns = self.box.namespaces
        hide = [h for h in self.box.hide if os.path.isdir(h)]
        hide.append(str(Path(__file__).resolve().parent.parent))   # the trusted course copy
        return {
            "pkg": self.pkg, "home": home, "uid": self.uid, "gid": self.uid,
            "limits": {k: self.limits.get(k) for k in ("memory_mb", "cpu_s", "file_mb",
                                                       "open_files", "processes", "disk_mb")},
            "rules": [list(r) for r in read_rules(tuple(sorted(hide)))],
            "landlock": self.landlock, "seccomp": self.seccomp,
            "cgroups": self.box.cgroups.dirs if self.box.cgroups else [],
            "hide": sorted(set(hide)),
            "mount_namespace": bool(ns.get("mount")), "pid_namespace": bool(ns.get("pid")),
            "net_namespace": bool(ns.get("net")),
            "reply_fd": reply_w, "status_fd": status_w, "module": self.module,
        }

    def _new_home(self) -> str:
        home = os.path.join(self.root, f"home-{self.starts}")
        os.mkdir(home, 0o700)
        if not self.box.namespaces.get("mount"):
            for sub in ("tmp", "numba-cache"):
                os.mkdir(os.path.join(home, sub), 0o700)
            if self.uid is not None:
                for path in (home, os.path.join(home, "tmp"), os.path.join(home, "numba-cache")):
                    os.chown(path, self.uid, self.uid)
        return home

    def start(self, deadline=None):
        """Start a fresh worker; the time counts against the submission's start-up budget
        and, when ``deadline`` is given (a restart within a test), against that test."""
        if self.broken is not None:
            self._raise_broken()
        self.stop()
        started = time.monotonic()
        budget_left = float(self.limits["startup_s"]) - self.startup_spent
        if budget_left <= 0:
            self._startup_budget_spent()
        limit = started + budget_left
        if deadline is not None:
            limit = min(limit, deadline)
        self.home = home = self._new_home()
        reply_r, reply_w = os.pipe()
        status_r, status_w = os.pipe()
        out_r, out_w = os.pipe()
        config = self._config(home, reply_w, status_w)
        command = list(self.box.namespaces.get("prefix") or []) + [
            sys.executable, "-I", "-B", str(LAUNCHER)]
        try:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=out_w, stderr=out_w,
                pass_fds=(reply_w, status_w), cwd="/", env=self._env(home),
                start_new_session=True, close_fds=True)
        finally:
            for fd in (reply_w, status_w, out_w):
                os.close(fd)
        self.starts += 1
        self._reply_fd, self._status_fd = reply_r, status_r
        self._buffer = b""
        self._ooms = self.box.cgroups.oom_kills() if self.box.cgroups else 0
        self._drain = threading.Thread(target=self._drain_output, args=(out_r,), daemon=True)
        self._drain.start()
        self._start_watchdog()
        self.sandbox = None
        try:
            self._send(json.dumps(config).encode("utf-8") + b"\n", limit)
            message = self._read_reply(limit)
            if "confined" in message:
                self.sandbox = dict(message["confined"])   # sent before any submitted code ran
                message = self._read_reply(limit)
            elif self._namespaces_failed(message.get("error")):
                return self.start(deadline)
        except StudentTimeout:
            self.startup_spent += time.monotonic() - started
            self.stop()
            if self.startup_spent >= float(self.limits["startup_s"]) - 0.05:
                self.broken = StudentTimeout(
                    f"Your package did not finish importing within the start-up budget of "
                    f"{self.limits['startup_s']:.0f} s ({self.starts} start(s); an endless loop "
                    f"or a long sleep at import time?).", self.output_tail(), "import")
                self._raise_broken()
            raise StudentTimeout("Time limit exceeded while the worker was restarting (your "
                                 "package is slow to import).", self.output_tail()) from None
        except StudentFailure as e:
            self.startup_spent += time.monotonic() - started
            self.stop()
            if self.sandbox is None and self._namespaces_failed(str(e)):
                return self.start(deadline)
            self.broken = type(e)(f"The worker died while importing your package: {e}",
                                  e.detail, "memory" if e.category == "memory" else "import")
            self._raise_broken()
        self.startup_spent += time.monotonic() - started
        if message.get("ready") is True and self.sandbox is not None:
            return
        if message.get("ready") is False:
            self.broken = GraderError(f"the worker could not start: {message.get('error')}")
        else:
            self.broken = StudentCrash(
                "The worker did not start properly: importing your package interfered with "
                "the grader's protocol.", self.output_tail(), "import")
        self.stop()
        self._raise_broken()

    def _namespaces_failed(self, why) -> bool:
        """The launcher died before confining anything (nothing of the submission ran): where
        that was in namespaces, note why and go on without them (once)."""
        if not self.box.namespaces.get("prefix"):
            return False
        self.stop()
        self.box.namespaces = {"mount": False, "pid": False, "net": False, "prefix": [],
                               "why": f"unshare failed at start: {str(why)[:200]}"}
        if self.uid is not None and not reachable_by(self.uid):
            self.uid = None   # without a mount namespace that uid could not run Python here
        return True

    def _startup_budget_spent(self):
        self.broken = StudentTimeout(
            f"The start-up budget of {self.limits['startup_s']:.0f} s is spent: your package "
            f"was imported {self.starts} times (after every crash) and that took "
            f"{self.startup_spent:.1f} s in all; the remaining tests were not run.",
            self.output_tail(), "import")
        self._raise_broken()

    def _start_watchdog(self):
        """Where no memory cgroup counts the submission's processes together, add up their
        resident memory (by uid, else the launcher's subtree) four times a second and kill
        them all over the limit."""
        self._memory_hit = False
        if self.box.cgroups and "memory" in self.box.cgroups.controllers:
            return
        stop = self._watch_stop = threading.Event()
        cap = int(self.limits["memory_mb"]) << 20
        proc = self.proc

        def used():
            if self.uid is not None:
                return resident_bytes_of_uid(self.uid)
            return resident_bytes(descendants(proc.pid))

        def watch():
            while not stop.wait(0.25):
                if used() > cap:
                    self._memory_hit = True
                    self._kill_tree(proc)
                    return

        threading.Thread(target=watch, daemon=True).start()

    def _kill_tree(self, proc):
        """Everything of the submission: its cgroup, its uid, the launcher's subtree."""
        self.box.kill_all()
        if proc is not None:
            for _ in range(20):
                pids = descendants(proc.pid)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.005)

    def _drain_output(self, fd):
        cap = int(self.limits["output_kb"]) * 1024
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while True:
                try:
                    chunk = stream.read(65536)
                except OSError:
                    return
                if not chunk:
                    return
                with self._lock:
                    room = cap - len(self._output)
                    if room > 0:
                        self._output.extend(chunk[:room])
                    self._output_dropped += max(0, len(chunk) - max(room, 0))

    def output_mark(self) -> int:
        with self._lock:
            return len(self._output)

    def output_since(self, mark: int, limit: int = 4000) -> str:
        time.sleep(0.01)  # let the drain thread catch up with what was flushed before the reply
        with self._lock:
            data = bytes(self._output[mark:])
            dropped = self._output_dropped
        text = data.decode("utf-8", "replace")
        if len(text) > limit:
            text = text[:limit] + f"\n... ({len(text) - limit} more characters)"
        if dropped and mark >= len(self._output):
            text += f"\n... (output over {self.limits['output_kb']} KiB was dropped)"
        return text

    def output_tail(self, limit: int = 4000) -> str:
        with self._lock:
            data = bytes(self._output[-limit:])
        return data.decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self._status_fd is not None \
            and not select.select([self._status_fd], [], [], 0)[0]

    def stop(self):
        """Kill every process of the worker and clean its home."""
        if getattr(self, "_watch_stop", None) is not None:
            self._watch_stop.set()
            self._watch_stop = None
        if self.proc is not None:
            self._kill_tree(self.proc)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.box.kill_all()
        for name in ("_reply_fd", "_status_fd"):
            fd = getattr(self, name)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, None)
        self._kill_strays()
        if self.uid is None and not self.box.namespaces.get("pid") and self.home:
            kill_leftovers(self.home)
        if self._drain is not None:
            self._drain.join(timeout=2)
            self._drain = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)   # fd-based: never follows a link
            self.home = None
        self.proc = None

    def _kill_strays(self):
        """SIGKILL every child of ours other than a live worker (orphans we inherited)."""
        me = os.getpid()
        for _ in range(3):
            found = False
            for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        fields = f.read().rsplit(b")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == me and (self.proc is None or int(entry) != self.proc.pid):
                    found = True
                    try:
                        os.kill(int(entry), signal.SIGKILL)
                        os.waitpid(int(entry), 0)
                    except (ProcessLookupError, ChildProcessError, PermissionError):
                        pass
            if not found:
                return

    def close(self):
        self.stop()
        if self.box.owner:
            self.box.close()

    # ------------------------------------------------------------ protocol

    def _death_report(self) -> StudentFailure:
        """Describe how the worker ended (the launcher's status line, else unshare's code)."""
        report = None
        if self._status_fd is not None:
            data = b""
            deadline = time.monotonic() + 5.0
            while b"\n" not in data and time.monotonic() < deadline:
                ready, _, _ = select.select([self._status_fd], [], [], 0.5)
                if not ready:
                    continue
                chunk = os.read(self._status_fd, 4096)
                if not chunk:
                    break
                data += chunk
            try:
                report = json.loads(data.split(b"\n", 1)[0].decode())
            except (ValueError, UnicodeDecodeError):
                report = None
        tail = self.output_tail()
        ooms = self.box.cgroups.oom_kills() if self.box.cgroups else 0
        if ooms > self._ooms or getattr(self, "_memory_hit", False):
            self._ooms, self._memory_hit = ooms, False
            return StudentError(f"Memory limit exceeded ({self.limits['memory_mb']} MiB): all "
                                f"processes of your code together used more, and the worker "
                                f"was killed.", tail, "memory")
        if not isinstance(report, dict):
            code = self.proc.poll() if self.proc is not None else None
            if code is not None and code < 0:
                report = {"signal": -code}
            else:
                return StudentCrash("The worker stopped answering (it was killed or closed its "
                                    "reply channel).", tail)
        if "signal" in report:
            name = _signal_name(int(report["signal"]))
            what = _CRASH_WORDS.get(name, name)
            category = {"SIGXCPU": "timeout"}.get(name, "crash")
            return StudentCrash(f"Your code crashed the worker process: it was ended by {what}.",
                                tail, category)
        if "exit" in report:
            return StudentCrash(
                f"Your code ended the worker process (exit status {report['exit']}): do not call "
                f"sys.exit, os._exit or similar in your functions.", tail, "exit")
        return StudentCrash("The worker stopped answering.", tail)

    def _send(self, data: bytes, deadline: float):
        """Write ``data`` to the worker's stdin without ever blocking past ``deadline``."""
        fd = self.proc.stdin.fileno()
        os.set_blocking(fd, False)
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StudentTimeout("timeout")
            watched = [self._status_fd] if self._status_fd is not None else []
            readable, writable, _ = select.select(watched, [fd], [], min(remaining, 1.0))
            if readable and not writable:
                raise self._death_report()
            if not writable:
                continue
            try:
                written = os.write(fd, view[:1 << 16])
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise self._death_report() from None
            view = view[written:]

    def _fill(self, size: int, deadline: float):
        """Read from the reply pipe until the buffer holds ``size`` bytes or a line."""
        while (len(self._buffer) < size) if size else (b"\n" not in self._buffer):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StudentTimeout("timeout")
            watched = [self._reply_fd] + ([self._status_fd] if self._status_fd is not None else [])
            ready, _, _ = select.select(watched, [], [], min(remaining, 1.0))
            if self._reply_fd in ready:
                try:
                    chunk = os.read(self._reply_fd, 1 << 20)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise self._death_report()
                self._buffer += chunk
                if not size and len(self._buffer) > (4 << 20):
                    raise StudentCrash("The worker sent a reply line over 4 MiB (protocol "
                                       "violation).")
            elif ready:
                raise self._death_report()

    def _read_reply(self, deadline: float) -> dict:
        self._fill(0, deadline)
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise StudentCrash("The worker sent a reply that is not JSON (protocol violation).",
                               self.output_tail()) from None
        if not isinstance(message, dict):
            raise StudentCrash("The worker sent a reply that is not an object (protocol violation).")
        return message

    def _read_payload(self, size, deadline: float) -> bytes:
        cap = int(self.limits["reply_mb"]) << 20
        if not isinstance(size, int) or size < 0 or size > cap:
            raise StudentOutputError(f"Your function's outputs are {size} bytes, over the "
                                     f"{self.limits['reply_mb']} MiB limit.")
        self._fill(size, deadline)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def call(self, probe: str, arrays: dict, params: dict, budget_s: float):
        """Run ``probe`` in the worker; returns ``(outputs, seconds)`` or raises a
        ``StudentFailure``. The budget covers the whole call: sending the inputs, the run,
        and reading the outputs back (a start-up before it is charged to the submission's
        start-up budget instead)."""
        started = time.monotonic()
        deadline = started + budget_s
        try:
            if not self.alive():
                self.start()   # charged to the submission's start-up budget, not to this test
                started = time.monotonic()
                deadline = started + budget_s
            self._counter += 1
            ident = self._counter
            payload = npz_bytes(arrays) if arrays else b""
            request = json.dumps({"id": ident, "probe": probe, "params": params,
                                  "inputs": len(payload)}).encode("utf-8")
            self._send(request + b"\n" + payload, deadline)
            message = self._read_reply(deadline)
            if message.get("id") != ident:
                self.stop()
                raise StudentCrash("The worker answered out of turn (protocol violation).")
            if message.get("ok") is True:
                data = self._read_payload(message.get("bytes", 0), deadline)
                self._check_disk()
                try:
                    return read_npz_bytes(data), time.monotonic() - started
                except NpzError as e:
                    raise StudentOutputError(f"Your function's output could not be read back: "
                                             f"{e}") from None
            self._check_disk()
            raise self._error_from(message)
        except StudentTimeout as e:
            if self.broken is not None or str(e) != "timeout":
                raise
            elapsed = time.monotonic() - started
            self.stop()
            self.last_kill_s = elapsed
            raise StudentTimeout(
                f"Time limit exceeded: your code was still running after {budget_s:.1f} s and "
                f"was stopped.") from None
        except StudentCrash:
            self.stop()
            raise
        except StudentError as e:
            if e.category == "memory":
                self.stop()
            raise

    def _check_disk(self):
        """Without a mount namespace the home is a plain folder: count what is in it after
        each call, and stop a worker that wrote more than ``disk_mb`` in all."""
        if self.box.namespaces.get("mount") or self.home is None:
            return
        cap = int(self.limits["disk_mb"]) << 20
        total, stack, seen = 0, [self.home], 0
        while stack and total <= cap and seen < 100000:
            try:
                with os.scandir(stack.pop()) as entries:
                    for entry in entries:
                        seen += 1
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
        if total > cap:
            self.stop()
            raise StudentError(f"Disk limit exceeded: your code wrote more than "
                               f"{self.limits['disk_mb']} MiB of files.", "", "disk")

    def _error_from(self, message: dict) -> StudentError:
        kind = str(message.get("type", "Exception"))[:100]
        text = str(message.get("message", ""))[:2000]
        detail = str(message.get("traceback", ""))[:6000]
        if message.get("phase") == "import":
            return StudentError(f"Your package does not import: {kind}: {text}", detail, "import")
        if kind == "SystemExit":
            return StudentError(f"Your code called sys.exit ({text}): do not exit in your "
                                f"functions.", detail, "exit")
        if kind == "MemoryError":
            self.stop()
            return StudentError(f"Memory limit exceeded ({self.limits['memory_mb']} MiB): your "
                                f"code tried to allocate too much.", detail, "memory")
        if kind == "NotImplementedError":
            return StudentError(f"NotImplementedError: {text}", detail, "not implemented")
        return StudentError(f"Your code raised {kind}: {text}", detail, "error")



def sandbox_summary(status, box=None) -> str:
    """One line describing the protections in force, from the worker's ``confined`` line
    (sent before any submitted code ran) and the box the grader made."""
    if not status:
        return "sandbox: unknown (the worker never started)"
    parts = [f"uid {status.get('uid')}" + (" (leased for this submission)"
                                           if status.get("capabilities") == "dropped (uid changed)"
                                           else "")]
    parts.append("rlimits")
    if status.get("capabilities"):
        parts.append(f"capabilities {status['capabilities'].split(' (')[0]}")
    if status.get("no_new_privs"):
        parts.append("no_new_privs")
    names = [k for k, key in (("mount", "mounts"), ("PID", "pid_namespace"),
                              ("network", "net_namespace")) if status.get(key)]
    why = ((box or {}).get("namespaces") or {}).get("why")
    parts.append(f"namespaces: {', '.join(names)}" if names else
                 "no namespaces (processes found by cgroup, uid or subtree; network: see seccomp"
                 + (f"; {why}" if why else "") + ")")
    mounts = status.get("mounts") or {}
    parts.append(f"home {mounts['home']}" if mounts.get("home") else
                 "home on disk (per-file cap only, total checked between calls)")
    if box is not None and box.get("cgroups"):
        controllers = sorted(box["cgroups"].get("controllers", {}))
        parts.append(f"cgroups ({', '.join(controllers)})")
    elif status.get("cgroups"):
        parts.append(f"cgroups ({status['cgroups']})")
    else:
        parts.append("no cgroup (memory per process, processes per uid, no CPU share)")
    parts.append("seccomp (AF_UNIX sockets only)" if status.get("seccomp") else "no seccomp")
    landlock = status.get("landlock")
    if landlock:
        covered = [k for k in ("filesystem", "tcp", "signals", "abstract_unix") if landlock.get(k)]
        parts.append(f"Landlock ABI {status.get('landlock_abi')} ({', '.join(covered)})")
    else:
        parts.append("no Landlock")
    network = "closed" if status.get("net_namespace") or status.get("seccomp") else \
        "OPEN (no network namespace, no seccomp)"
    parts.append(f"network {network}")
    return "sandbox: " + ", ".join(parts)
