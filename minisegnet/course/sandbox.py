"""The trusted side of the worker: start it confined, talk to it, stop it hard.

A ``Worker`` owns one ``python -I`` subprocess (``_worker.py``) in a folder that holds the
student edition with the submitted files. The process gets a scrubbed environment, its own
session and process group, resource limits and (on Linux with Landlock) a file-system,
network and signal sandbox; when the grader runs as root and the interpreter is readable
by others it also runs under an unprivileged user id (``nobody``). Requests go in on
stdin, replies come back on a pipe of their own, and whatever the code prints goes to a
third pipe that a thread drains into a capped buffer (it can never block the worker or
fill a disk).

Each call has a wall-clock budget measured here; when it runs out the whole process group
is killed with ``SIGKILL`` (so ignoring ``SIGALRM``, looping in C, or sleeping does not
help), and so is any process that escaped the group (this process is a child subreaper).
A worker that died, timed out or ran out of memory is replaced by a fresh one for the next
call; one that cannot start at all marks the session broken, so a submission that hangs at
import costs one start-up timeout, not one per test.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from .errors import GraderError, StudentCrash, StudentError, StudentOutputError, StudentTimeout
from .npzio import NpzError, read_npz, write_npz

__all__ = ["Worker", "prepare_worker_folder", "sandbox_summary", "kill_leftovers",
           "DEFAULT_LIMITS"]

WORKER_SCRIPT = "_msn_worker.py"
DEFAULT_LIMITS = {
    "time_s": 10.0,        # wall clock per test (all of its calls)
    "startup_s": 60.0,     # wall clock to import NumPy and the submission
    "memory_mb": 2048,     # address space of the worker
    "cpu_s": 600,          # CPU seconds over a worker's life (wall clock is the per-test guard)
    "file_mb": 64,         # largest file the worker may write
    "open_files": 256,
    "output_kb": 256,      # what we keep of stdout/stderr over a worker's life
}
_NOBODY = 65534
_PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(ctypes.c_int(_PR_SET_CHILD_SUBREAPER), ctypes.c_ulong(1), ctypes.c_ulong(0),
                   ctypes.c_ulong(0), ctypes.c_ulong(0))
    except Exception:  # not Linux: orphans go to init instead
        pass


def _world_can_run_python() -> bool:
    """Whether an unprivileged user could run this interpreter and read its libraries."""
    targets = {os.path.realpath(sys.executable), os.path.realpath(sys.prefix),
               os.path.realpath(sys.base_prefix)}
    for target in targets:
        path = Path(target)
        for part in [path, *path.parents]:
            try:
                mode = part.stat().st_mode
            except OSError:
                return False
            if not mode & stat.S_IXOTH:
                return False
    return True


def _tasks_of_uid(uid: int) -> int:
    """Processes and threads of ``uid`` (what ``RLIMIT_NPROC`` counts)."""
    count = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def kill_leftovers(root) -> int:
    """SIGKILL any process still running with the worker folder ``root`` as its ``HOME``
    (left behind when a whole grading session had to be stopped). Returns how many."""
    wanted = b"HOME=" + str(Path(root).resolve()).encode()
    killed = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if wanted in f.read().split(b"\0"):
                    os.kill(int(entry), signal.SIGKILL)
                    killed += 1
        except OSError:
            continue
    return killed


def _drop_uid_possible() -> bool:
    return os.geteuid() == 0 and _world_can_run_python()


def prepare_worker_folder(root: Path, package: Path, probes: Path, overlay: dict | None = None) -> Path:
    """Build a worker folder: ``package`` (a ``minisegnet`` tree) with ``overlay``
    (``{relative path: bytes}``) written over it, ``probes.py`` and the worker script."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(package, root / "minisegnet",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    for rel, content in sorted((overlay or {}).items()):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    shutil.copyfile(probes, root / "probes.py")
    shutil.copyfile(Path(__file__).with_name("_worker.py"), root / WORKER_SCRIPT)
    for sub in ("io", "tmp", "numba-cache"):
        (root / sub).mkdir(exist_ok=True)
    return root


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
    "SIGKILL": "SIGKILL (killed: the CPU or memory limit, or the code killed itself)",
}


class Worker:
    """One confined worker process, restarted on demand. Not thread-safe (one test at a time)."""

    def __init__(self, root, limits=None, *, landlock=True, drop_uid=None, log=None,
                 module="minisegnet.functional"):
        self.root = str(Path(root).resolve())
        self.module = module        # the library module the probes receive
        self.limits = dict(DEFAULT_LIMITS, **(limits or {}))
        self.landlock = landlock
        self.drop_uid = _drop_uid_possible() if drop_uid is None else drop_uid
        self.proc = None
        self.sandbox = None
        self.broken = None          # a StudentFailure once start-up has failed
        self.last_kill_s = None     # how long the last timed-out call ran before the kill
        self.starts = 0
        self._reply_fd = None
        self._buffer = b""
        self._counter = 0
        self._output = bytearray()
        self._output_dropped = 0
        self._lock = threading.Lock()
        self._drain = None
        self._log = log
        _become_subreaper()
        if self.drop_uid:
            for dirpath, dirnames, filenames in os.walk(self.root):
                for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                    os.lchown(name, _NOBODY, _NOBODY)

    # ------------------------------------------------------------ process life

    def _env(self):
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": self.root,
            "TMPDIR": os.path.join(self.root, "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1",
            "NUMBA_NUM_THREADS": "1",
            "NUMBA_CACHE_DIR": os.path.join(self.root, "numba-cache"),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(self.root, "tmp"),
        }

    def _raise_broken(self):
        """Raise a fresh copy (re-raising one instance would grow its traceback each time)."""
        b = self.broken
        if isinstance(b, GraderError):
            raise GraderError(str(b))
        raise type(b)(b.message, b.detail, b.category)

    def start(self):
        if self.broken is not None:
            self._raise_broken()
        self.stop()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        config = {
            "root": self.root,
            "reply_fd": reply_w,
            "limits": {k: self.limits.get(k) for k in ("memory_mb", "cpu_s", "file_mb", "open_files")},
            "drop_capabilities": True,
            "landlock": self.landlock,
            "module": self.module,
        }
        if self.drop_uid:
            config["limits"]["processes"] = 256
        elif os.geteuid() == 0:  # uid 0 without capabilities: the count is all of root's tasks
            config["limits"]["processes"] = _tasks_of_uid(0) + 256
        extra = {"user": _NOBODY, "group": _NOBODY, "extra_groups": []} if self.drop_uid else {}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", os.path.join(self.root, WORKER_SCRIPT), json.dumps(config)],
                stdin=subprocess.PIPE, stdout=out_w, stderr=out_w, pass_fds=(reply_w,),
                cwd=self.root, env=self._env(), start_new_session=True, close_fds=True, **extra)
        finally:
            os.close(reply_w)
            os.close(out_w)
        self.starts += 1
        self._reply_fd = reply_r
        self._buffer = b""
        self._drain = threading.Thread(target=self._drain_output, args=(out_r,), daemon=True)
        self._drain.start()
        started = time.monotonic()
        try:
            message = self._read_reply(started + self.limits["startup_s"])
        except StudentTimeout:
            self.broken = StudentTimeout(
                f"Your package did not finish importing within {self.limits['startup_s']:.0f} s "
                f"(an endless loop at import time?).", self.output_tail(), "import")
        except StudentCrash as e:
            self.broken = StudentCrash(f"The worker died while importing your package: {e}",
                                       e.detail, "import")
        else:
            if message.get("ready") is True:
                self.sandbox = message.get("sandbox")
                return
            if message.get("ready") is False:
                self.broken = GraderError(f"the worker could not start: {message.get('error')}")
            else:
                self.broken = StudentCrash(
                    "The worker did not start properly: importing your package interfered with "
                    "the grader's protocol.", self.output_tail(), "import")
        self.stop()
        self._raise_broken()

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
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Kill the worker's process group and any process that escaped it."""
        if self.proc is not None:
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
            for stream in (self.proc.stdin,):
                try:
                    stream.close()
                except OSError:
                    pass
        if self._reply_fd is not None:
            try:
                os.close(self._reply_fd)
            except OSError:
                pass
            self._reply_fd = None
        self._kill_strays()
        if self._drain is not None:
            self._drain.join(timeout=2)
            self._drain = None
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

    # ------------------------------------------------------------ protocol

    def _death_report(self) -> StudentCrash:
        """Wait for the dead worker and describe how it ended."""
        code = None
        if self.proc is not None:
            try:
                code = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        tail = self.output_tail()
        if code is None:
            return StudentCrash("The worker stopped answering (it closed its reply channel).", tail)
        if code < 0:
            name = _signal_name(-code)
            what = _CRASH_WORDS.get(name, name)
            category = {"SIGXCPU": "timeout"}.get(name, "crash")
            return StudentCrash(f"Your code crashed the worker process: it was ended by {what}.",
                                tail, category)
        return StudentCrash(
            f"Your code ended the worker process (exit status {code}): do not call "
            f"sys.exit, os._exit or similar in your functions.", tail, "exit")

    def _read_reply(self, deadline: float) -> dict:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StudentTimeout("timeout")
            ready, _, _ = select.select([self._reply_fd], [], [], min(remaining, 1.0))
            if not ready:
                continue
            try:
                chunk = os.read(self._reply_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                raise self._death_report()
            self._buffer += chunk
            if len(self._buffer) > (4 << 20):
                raise StudentCrash("The worker sent a reply over 4 MiB (protocol violation).")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise StudentCrash("The worker sent a reply that is not JSON (protocol violation).",
                               self.output_tail()) from None
        if not isinstance(message, dict):
            raise StudentCrash("The worker sent a reply that is not an object (protocol violation).")
        return message

    def call(self, probe: str, arrays: dict, params: dict, budget_s: float):
        """Run ``probe`` in the worker; returns ``(outputs, seconds)`` or raises a ``StudentFailure``."""
        if not self.alive():
            self.start()
        self._counter += 1
        ident = self._counter
        io_dir = os.path.join(self.root, "io")
        in_name = f"in-{ident}.npz" if arrays else None
        if in_name:
            write_npz(os.path.join(io_dir, in_name), arrays)
        request = json.dumps({"id": ident, "probe": probe, "params": params, "inputs": in_name})
        started = time.monotonic()
        try:
            self.proc.stdin.write(request.encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            error = self._death_report()
            self.stop()
            raise error from None
        try:
            message = self._read_reply(started + budget_s)
        except StudentTimeout:
            elapsed = time.monotonic() - started
            self.stop()
            self.last_kill_s = elapsed
            raise StudentTimeout(
                f"Time limit exceeded: your code was still running after {budget_s:.1f} s and "
                f"was stopped.") from None
        except StudentCrash:
            self.stop()
            raise
        elapsed = time.monotonic() - started
        out_path = os.path.join(io_dir, f"out-{ident}.npz")
        try:
            if message.get("id") != ident:
                self.stop()
                raise StudentCrash("The worker answered out of turn (protocol violation).")
            if message.get("ok") is True:
                try:
                    return read_npz(out_path), elapsed
                except NpzError as e:
                    raise StudentOutputError(f"Your function's output could not be read back: {e}") from None
            raise self._error_from(message)
        finally:
            for path in (out_path, os.path.join(io_dir, in_name) if in_name else None):
                if path:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

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


def sandbox_summary(status) -> str:
    """One line describing the protections a worker reported."""
    if not status:
        return "sandbox: unknown (the worker never started)"
    parts = [f"uid {status.get('uid')}", "rlimits"]
    if status.get("capabilities"):
        parts.append(f"capabilities {status['capabilities']}")
    if status.get("no_new_privs"):
        parts.append("no_new_privs")
    landlock = status.get("landlock")
    if landlock:
        covered = [k for k in ("filesystem", "tcp", "signals") if landlock.get(k)]
        parts.append(f"Landlock ABI {status.get('landlock_abi')} ({', '.join(covered)})")
    else:
        parts.append("no Landlock")
    return "sandbox: " + ", ".join(parts)
