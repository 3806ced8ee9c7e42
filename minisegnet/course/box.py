"""A submission's resources: a user id of its own, cgroups, namespaces, and the kill.

``Box.create`` (in the grading process) leases a uid no other worker on this machine uses
(where the grader is root), creates one cgroup per controller hierarchy with the
submission's memory, pids and CPU limits (cgroup v2 where its controllers are available,
the v1 hierarchies for the rest), and notes which namespaces util-linux ``unshare`` can
create here. ``Box.kill_all`` kills every process of the submission, whatever it did to
escape (a new session, a double fork, an empty environment): by cgroup and by uid.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from .policy import beneath, read_rules

__all__ = ["Box", "Cgroups", "UidLease", "namespace_support", "kill_uid", "kill_leftovers",
           "resident_bytes_of_uid", "resident_bytes", "descendants", "reachable_by", "UID_BASE",
           "UID_COUNT"]

UID_BASE, UID_COUNT = 240000, 4096
_counter = 0
_counter_lock = threading.Lock()


def _next_number() -> int:
    global _counter
    with _counter_lock:
        _counter += 1
        return _counter


# ---------------------------------------------------------------- what this machine can do


@functools.cache
def namespace_support() -> dict:
    """Which namespaces util-linux ``unshare`` can create here (probed once), and the
    command prefix that creates them. As root: plain ``unshare``; otherwise inside a user
    namespace (``--map-root-user``), where the kernel allows that."""
    unshare = shutil.which("unshare") or ("/usr/bin/unshare" if os.path.exists("/usr/bin/unshare")
                                          else None)
    found = {"mount": False, "pid": False, "net": False, "user": False, "prefix": [],
             "why": ""}
    if unshare is None:
        found["why"] = "util-linux unshare is not installed"
        return found
    base = [unshare] + ([] if os.geteuid() == 0 else ["--user", "--map-root-user"])
    options = {"mount": ["--mount"], "pid": ["--pid", "--fork", "--kill-child", "--mount-proc"],
               "net": ["--net"]}

    def works(flags):
        try:
            done = subprocess.run(base + flags + ["true"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as e:
            found["why"] = str(e)
            return False
        found["why"] = found["why"] or done.stderr.decode("utf-8", "replace").strip()[:200]
        return done.returncode == 0

    every = options["mount"] + options["pid"] + options["net"]
    if works(every):
        chosen = ["mount", "pid", "net"]
    else:
        chosen = [k for k in ("mount", "net") if works(options[k])]
        if "mount" in chosen and works(options["mount"] + options["pid"]):
            chosen.append("pid")
    flags = []
    for key in ("mount", "pid", "net"):
        if key in chosen:
            flags += options[key] if key != "pid" else ["--pid", "--fork", "--kill-child",
                                                        "--mount-proc"]
            found[key] = True
    if chosen:
        found["prefix"] = base + flags
        found["user"] = os.geteuid() != 0
        found["why"] = ""
    return found


# ---------------------------------------------------------------- user ids


def _mapped_uid_range():
    """The first range of uids this user namespace maps (all of them outside containers)."""
    try:
        with open("/proc/self/uid_map") as handle:
            inside, _, count = (int(v) for v in handle.readline().split())
        return inside, inside + count
    except (OSError, ValueError):
        return 0, 1 << 32


def _used_uids() -> set:
    used = set()
    for database in ("/etc/passwd", "/etc/group"):
        try:
            with open(database, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    fields = line.split(":")
                    if len(fields) > 2 and fields[2].isdigit():
                        used.add(int(fields[2]))
        except OSError:
            pass
    return used


class UidLease:
    """A user id no other worker on this machine uses while the lease is held (a
    ``flock`` on a file per uid in a root-only folder)."""

    def __init__(self):
        self.uid = None
        self._fd = None
        low, high = _mapped_uid_range()
        base = UID_BASE if low <= UID_BASE and UID_BASE + UID_COUNT <= high else \
            max(low + 20000, 1000) if high - low > 30000 else None
        if base is None:
            return
        folder = self._lock_folder()
        if folder is None:
            return
        used = _used_uids()
        for uid in range(base, base + UID_COUNT):
            if uid in used:
                continue
            fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return

    @staticmethod
    def _lock_folder():
        for parent in ("/run/lock", "/run", "/var/lock", "/tmp"):
            folder = os.path.join(parent, f"minisegnet-uids-{os.geteuid()}")
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                pass
            except OSError:
                continue
            info = os.lstat(folder)
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and \
                    not info.st_mode & 0o077:
                return folder
        return None

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _processes_of_uid(uid) -> list:
    """``[(pid, resident bytes)]`` of every process with ``uid`` among its ids."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as handle:
                mine, rss = False, 0
                for line in handle:
                    if line.startswith(b"Uid:"):
                        mine = uid in [int(v) for v in line.split()[1:]]
                        if not mine:
                            break
                    elif line.startswith(b"VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                if mine:
                    found.append((int(entry), rss))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _pids_of_uid(uid) -> list:
    return [pid for pid, _ in _processes_of_uid(uid)]


def resident_bytes_of_uid(uid) -> int:
    """Memory all processes of ``uid`` hold (the fallback where no memory cgroup counts)."""
    return sum(rss for _, rss in _processes_of_uid(uid))


def descendants(root_pid) -> list:
    """Every process below ``root_pid`` (orphans of the worker stay below its launcher,
    which is their subreaper)."""
    children = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    found, queue = [], [root_pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def resident_bytes(pids) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total


def kill_uid(uid) -> int:
    """SIGKILL every process with ``uid`` among its ids, until none is left."""
    killed = 0
    for _ in range(200):
        pids = [p for p in _pids_of_uid(uid) if p != os.getpid()]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.005)
    return killed


def kill_leftovers(root) -> int:
    """SIGKILL any process still running with a folder under ``root`` as its ``HOME`` (the
    last resort where there is neither a namespace, a cgroup nor a uid of its own: a
    process that cleared its environment escapes it). Returns how many."""
    wanted = str(Path(root).resolve()).encode()
    killed = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                homes = [v for v in f.read().split(b"\0") if v.startswith(b"HOME=")]
            if any(h[5:] == wanted or h[5:].startswith(wanted + b"/") for h in homes):
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
        except OSError:
            continue
    return killed


# ---------------------------------------------------------------- cgroups


def _mounts():
    found = []
    try:
        with open("/proc/self/mountinfo") as handle:
            for line in handle:
                left, _, right = line.partition(" - ")
                fields, tail = left.split(), right.split()
                if len(fields) >= 5 and tail:
                    found.append((fields[3], fields[4], tail[0], tail[-1].split(",")))
    except OSError:
        pass
    return found


def _own_cgroups():
    own = {}
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                ident, controllers, path = line.rstrip("\n").split(":", 2)
                own[ident if ident == "0" else controllers] = path
    except OSError:
        pass
    return own


def _write(path, text) -> bool:
    try:
        with open(path, "w") as handle:
            handle.write(text)
        return True
    except OSError:
        return False


def _read(path) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _remove_stale(parent):
    """Remove the empty ``msn-PID-N`` cgroups of grader processes that no longer exist
    (left when a grader was killed before it could clean up)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "msn" and parts[1].isdigit() and \
                not os.path.exists(f"/proc/{parts[1]}"):
            try:
                os.rmdir(os.path.join(parent, name))
            except OSError:
                pass


class Cgroups:
    """One cgroup per controller hierarchy for a submission: cgroup v2 (``memory.max``,
    ``pids.max``, ``cpu.max``, ``cgroup.kill``) where its controllers are available, v1
    hierarchies (``memory``, ``pids``, ``cpu``, ``freezer``) for the rest."""

    def __init__(self, dirs, controllers):
        self.dirs = list(dirs)                 # every cgroup folder the worker joins
        self.controllers = dict(controllers)   # controller -> folder
        self.kill_file = next((os.path.join(d, "cgroup.kill") for d in self.dirs
                               if os.path.exists(os.path.join(d, "cgroup.kill"))), None)

    @classmethod
    def create(cls, limits, name=None):
        """Create and limit the cgroups this process may create; ``None`` when none."""
        name = name or f"msn-{os.getpid()}-{_next_number()}"
        own = _own_cgroups()
        dirs, controllers = [], {}
        mib = 1 << 20
        memory = int(limits.get("memory_mb") or 2048) * mib
        pids = int(limits.get("processes") or 64)
        quota = int(float(limits.get("cpus") or 1.0) * 100000)
        for root, point, fstype, options in _mounts():
            if fstype == "cgroup2":
                mine = own.get("0")
            elif fstype == "cgroup" and {"memory", "pids", "cpu", "freezer"} & set(options):
                key = next((k for k in own if k != "0" and set(k.split(",")) & set(options)), None)
                mine = own.get(key) if key else None
            else:
                continue
            if mine is None or not beneath(mine, root):
                continue
            parent = os.path.join(point, os.path.relpath(mine, root)).rstrip("/.") or point
            parent = os.path.normpath(parent)
            _remove_stale(parent)
            folder = os.path.join(parent, name)
            try:
                os.mkdir(folder, 0o755)
            except OSError:
                continue
            dirs.append(folder)
            if fstype == "cgroup2":
                available = set(_read(os.path.join(parent, "cgroup.controllers")).split())
                enabled = set(_read(os.path.join(parent, "cgroup.subtree_control")).split())
                for c in ("memory", "pids", "cpu"):
                    if c in available and c not in enabled and \
                            _write(os.path.join(parent, "cgroup.subtree_control"), f"+{c}"):
                        enabled.add(c)
                if "memory" in enabled and "memory" not in controllers and \
                        _write(os.path.join(folder, "memory.max"), str(memory)):
                    _write(os.path.join(folder, "memory.swap.max"), "0")
                    controllers["memory"] = folder
                if "pids" in enabled and "pids" not in controllers and \
                        _write(os.path.join(folder, "pids.max"), str(pids)):
                    controllers["pids"] = folder
                if "cpu" in enabled and "cpu" not in controllers and \
                        _write(os.path.join(folder, "cpu.max"), f"{quota} 100000"):
                    controllers["cpu"] = folder
                controllers.setdefault("kill", folder)
                continue
            if "memory" in options and "memory" not in controllers and \
                    _write(os.path.join(folder, "memory.limit_in_bytes"), str(memory)):
                _write(os.path.join(folder, "memory.memsw.limit_in_bytes"), str(memory))
                controllers["memory"] = folder
            if "pids" in options and "pids" not in controllers and \
                    _write(os.path.join(folder, "pids.max"), str(pids)):
                controllers["pids"] = folder
            if "cpu" in options and "cpu" not in controllers and \
                    _write(os.path.join(folder, "cpu.cfs_period_us"), "100000") and \
                    _write(os.path.join(folder, "cpu.cfs_quota_us"), str(quota)):
                controllers["cpu"] = folder
            if "freezer" in options:
                controllers.setdefault("freezer", folder)
        if not dirs:
            return None
        return cls(dirs, controllers)

    def describe(self) -> dict:
        return {"dirs": self.dirs, "controllers": self.controllers}

    @classmethod
    def attach(cls, description):
        return cls(description["dirs"], description["controllers"]) if description else None

    def pids(self) -> set:
        found = set()
        for folder in self.dirs:
            found.update(int(p) for p in _read(os.path.join(folder, "cgroup.procs")).split()
                         if p.isdigit())
        return found

    def oom_kills(self) -> int:
        folder = self.controllers.get("memory")
        if folder is None:
            return 0
        text = _read(os.path.join(folder, "memory.events")) or \
            _read(os.path.join(folder, "memory.oom_control"))
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def kill(self):
        """Kill every process in these cgroups; return once they are empty (or 2 s)."""
        if self.kill_file:
            _write(self.kill_file, "1")
        freezer = self.controllers.get("freezer")
        if freezer and self.pids():
            _write(os.path.join(freezer, "freezer.state"), "FROZEN")
        deadline = time.monotonic() + 2.0
        while True:
            pids = self.pids()
            if not pids or time.monotonic() > deadline:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if freezer:
                _write(os.path.join(freezer, "freezer.state"), "THAWED")
            time.sleep(0.005)
        if freezer:
            _write(os.path.join(freezer, "freezer.state"), "THAWED")

    def remove(self):
        self.kill()
        for folder in self.dirs:
            for _ in range(250):       # a killed process leaves its cgroup when it is reaped
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


# ---------------------------------------------------------------- a submission's box


class Box:
    """What one submission's workers share: a uid, cgroups, namespaces, hidden folders.

    The grading process creates it (``Box.create``), passes ``describe()`` to the trusted
    pytest process (which ``attach``es), and kills and closes it when the submission is
    done, whatever happened to that pytest process."""

    def __init__(self, uid=None, cgroups=None, namespaces=None, hide=(), owner=False, lease=None):
        self.uid = uid
        self.cgroups = cgroups
        self.namespaces = dict(namespaces or {})
        self.hide = list(hide)
        self.owner = owner
        self._lease = lease

    @classmethod
    def create(cls, limits, *, drop_uid=None, namespaces=True, cgroups=True, hide=()):
        support = namespace_support() if namespaces else {"mount": False, "pid": False,
                                                          "net": False, "prefix": []}
        uid, lease = None, None
        if os.geteuid() == 0 and drop_uid is not False:
            lease = UidLease()
            uid = lease.uid
            if uid is not None and not support.get("mount") and not reachable_by(uid):
                lease.release()   # the interpreter sits where that uid cannot enter
                uid, lease = None, None
            if uid is not None:
                kill_uid(uid)     # whatever an earlier, interrupted grader left behind
        groups = Cgroups.create(dict(limits or {})) if cgroups and \
            os.geteuid() == 0 else None
        return cls(uid, groups, support, hide, owner=True, lease=lease)

    def describe(self) -> dict:
        return {"uid": self.uid, "cgroups": self.cgroups.describe() if self.cgroups else None,
                "namespaces": self.namespaces, "hide": self.hide}

    @classmethod
    def attach(cls, description):
        return cls(description.get("uid"), Cgroups.attach(description.get("cgroups")),
                   description.get("namespaces"), description.get("hide", ()))

    def kill_all(self):
        if self.cgroups is not None:
            self.cgroups.kill()
        if self.uid is not None:
            kill_uid(self.uid)

    def close(self):
        self.kill_all()
        if self.owner:
            if self.cgroups is not None:
                self.cgroups.remove()
            if self._lease is not None:
                self._lease.release()


def reachable_by(uid) -> bool:
    """Whether ``uid`` (group ``uid``) could enter every folder the worker reads from."""
    paths = [p for p, _ in read_rules()] + [sys.executable]
    for path in paths:
        parts = os.path.realpath(path).split("/")
        for k in range(2, len(parts)):
            try:
                info = os.stat("/".join(parts[:k]))
            except OSError:
                break
            if not info.st_mode & stat.S_IXOTH:
                return False
    return True
