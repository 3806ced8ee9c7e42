"""The grading worker: a trusted launcher, then the only process that runs submitted code.

The grader (``minisegnet.course.sandbox``) starts this file as ``python -I _worker.py`` (its
configuration is the first line on stdin) from its own trusted copy of the course package
(a folder the worker can neither write nor, once confined, read), usually under util-linux
``unshare`` with fresh mount, PID and network namespaces. The file is self-contained
(standard library only until the sandbox is up): importing anything of ``minisegnet`` would
run student code too early.

The launcher (this process, still with the grader's privileges; PID 1 of its namespace)

1. joins the submission's cgroups (memory, pids, CPU, kill) that the grader created;
2. in its private mount namespace: mounts a size-capped tmpfs on the fresh home folder,
   makes the read-only package folder a read-only mount, hides the grader's own folders
   under empty mounts, and, where the interpreter lives under a folder the worker's user
   cannot enter (``/root`` is mode 700), rebuilds just the paths the worker needs there;
3. forks the worker and then only waits: it reaps orphans, and when the worker dies it
   reports how (exit status or signal) on a status pipe of its own and exits, which ends
   every other process of the namespace.

The worker (the child), before any submitted byte runs,

1. lowers its resource limits (address space, CPU seconds, file size, no core dumps, open
   files, processes);
2. drops every capability from the bounding set, then switches to the user id the grader
   leased for this submission (when it runs as root), and sets ``no_new_privs``;
3. installs a seccomp filter that lets ``socket()`` create AF_UNIX sockets only (no
   network even where the network namespace is missing) and refuses ``io_uring``;
4. applies a Landlock ruleset (where the kernel has Landlock): read access to the system
   libraries, the standard library and the dependency folders the grader listed (NumPy,
   SciPy, Numba, llvmlite; a ``site-packages`` folder itself may only be listed, so a
   ``minisegnet`` installed there cannot be read), read-only access to the package folder,
   read-write access to its home, no TCP, and (ABI 6+) no signals or abstract sockets
   outside its own domain;
5. reports what holds (the ``confined`` line: trusted, since no submitted code has run
   yet), imports NumPy and the student's ``minisegnet.functional`` and the probes, and
   says ``ready``.

Requests arrive on stdin: a JSON header line, then ``inputs`` bytes of ``.npz``. Replies go
to their own pipe: a JSON header line, then ``bytes`` bytes of ``.npz`` (plain numeric
arrays, no pickles). The worker never touches a file the grader will open. Everything it
says after ``confined`` is untrusted: the grader checks every array itself.
"""

import ctypes
import errno
import faulthandler
import importlib.util
import io
import json
import os
import resource
import signal
import stat
import sys
import traceback
from importlib.machinery import PathFinder

# ---------------------------------------------------------------- libc


_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
        _libc.mount.restype = ctypes.c_int
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                ctypes.c_ulong, ctypes.c_char_p]
    return _libc


def _syscall(*args):
    return _c().syscall(*args)


def _prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    result = _c().prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                        ctypes.c_ulong(arg4), ctypes.c_ulong(arg5))
    return result, ctypes.get_errno()


_MACHINE = os.uname().machine
_ARCH = {"x86_64": (0xC000003E, 41, 126), "aarch64": (0xC00000B7, 198, 91)}.get(_MACHINE)
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SYS_CAPSET = _ARCH[2] if _ARCH else 126
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384


# ---------------------------------------------------------------- limits and privileges


def _set_limits(limits):
    mib = 1 << 20
    wanted = [
        (resource.RLIMIT_AS, limits.get("memory_mb") and limits["memory_mb"] * mib),
        (resource.RLIMIT_CPU, limits.get("cpu_s")),
        (resource.RLIMIT_FSIZE, limits.get("file_mb") and limits["file_mb"] * mib),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, limits.get("open_files")),
        (resource.RLIMIT_NPROC, limits.get("processes")),
    ]
    for which, value in wanted:
        if value is None:
            continue
        soft, hard = resource.getrlimit(which)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # CPU: SIGXCPU at the soft limit, SIGKILL one second later.
        new_hard = value + 1 if which == resource.RLIMIT_CPU else value
        if hard != resource.RLIM_INFINITY:
            new_hard = min(new_hard, hard)
        resource.setrlimit(which, (value, new_hard))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_bounding_set():
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def _clear_capabilities():
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _syscall(SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _drop_privileges(uid):
    """Bounding set emptied while we still may; then the leased uid (which clears the
    effective and permitted sets) or, without one, an empty capability set as root."""
    _drop_bounding_set()
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid):
            raise OSError("setresuid did not take")
        return "dropped (uid changed)"
    _clear_capabilities()
    return "dropped"


# ---------------------------------------------------------------- seccomp

_SECCOMP_MODE_FILTER = 2
_RET_ALLOW, _RET_KILL, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_SYS_IO_URING_SETUP = 425
_AF_UNIX = 1


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _apply_seccomp():
    """socket(): AF_UNIX only (EAFNOSUPPORT otherwise); io_uring_setup: EPERM; other
    architectures' calling conventions (x32): killed. Requires no_new_privs."""
    if _ARCH is None:
        return False
    audit_arch, sys_socket, _ = _ARCH
    ld_w_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    program = [                                     # BPF jumps are relative: pc + 1 + jt
        (ld_w_abs, 0, 0, 4),                        # 0: arch
        (jeq, 1, 0, audit_arch),                    # 1: ours -> 3, else -> 2
        (ret, 0, 0, _RET_KILL),                     # 2
        (ld_w_abs, 0, 0, 0),                        # 3: syscall number
        (jge, 0, 1, 0x40000000),                    # 4: x32 numbering -> 5, else -> 6
        (ret, 0, 0, _RET_KILL),                     # 5
        (jeq, 3, 0, sys_socket),                    # 6: socket -> 10, else -> 7
        (jeq, 0, 1, _SYS_IO_URING_SETUP),           # 7: io_uring_setup -> 8, else -> 9
        (ret, 0, 0, _RET_ERRNO | errno.EPERM),      # 8
        (ret, 0, 0, _RET_ALLOW),                    # 9
        (ld_w_abs, 0, 0, 16),                       # 10: socket's domain (args[0], low word)
        (jeq, 1, 0, _AF_UNIX),                      # 11: AF_UNIX -> 13, else -> 12
        (ret, 0, 0, _RET_ERRNO | errno.EAFNOSUPPORT),  # 12
        (ret, 0, 0, _RET_ALLOW),                    # 13
    ]
    filters = (_SockFilter * len(program))(*[_SockFilter(*i) for i in program])
    prog = _SockFprog(len(program), filters)
    result = _c().prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(_SECCOMP_MODE_FILTER),
                        ctypes.cast(ctypes.byref(prog), ctypes.c_void_p), ctypes.c_ulong(0),
                        ctypes.c_ulong(0))
    if result != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")
    return True


# ---------------------------------------------------------------- Landlock

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_REMOVE_DIR, FS_REMOVE_FILE, FS_MAKE_CHAR, FS_MAKE_DIR = 16, 32, 64, 128
FS_MAKE_REG, FS_MAKE_SOCK, FS_MAKE_FIFO, FS_MAKE_BLOCK = 256, 512, 1024, 2048
FS_MAKE_SYM, FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 4096, 8192, 16384, 32768
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi():
    """The kernel's Landlock ABI version, 0 when Landlock is absent or disabled."""
    try:
        abi = _syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                       ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except Exception:
        return 0
    return max(int(abi), 0)


def _apply_landlock(rules, abi):
    """``rules``: ``[(path, kind)]`` with kind ``read`` (files and listing), ``list``
    (listing only), ``rw`` (everything). Returns how many rules were added."""
    fs_all = (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_READ_DIR | FS_REMOVE_DIR
              | FS_REMOVE_FILE | FS_MAKE_CHAR | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SOCK
              | FS_MAKE_FIFO | FS_MAKE_BLOCK | FS_MAKE_SYM)
    if abi >= 2:
        fs_all |= FS_REFER
    if abi >= 3:
        fs_all |= FS_TRUNCATE
    if abi >= 5:
        fs_all |= FS_IOCTL_DEV
    attr = _RulesetAttr(fs_all, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                       ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    file_rights = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | (FS_TRUNCATE if abi >= 3 else 0)
    rights = {"read": FS_EXECUTE | FS_READ_FILE | FS_READ_DIR, "list": FS_READ_DIR,
              "rw": fs_all}
    added = 0
    for path, kind in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            allowed = rights[kind]
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                allowed &= file_rights
            if not allowed:
                continue
            rule = _PathBeneath(allowed, fd)
            if _syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                        ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                        ctypes.c_uint32(0)) == 0:
                added += 1
        finally:
            os.close(fd)
    if _syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(ruleset)
    return added


# ---------------------------------------------------------------- the launcher's mounts


def _mount(source, target, fstype, flags, data=None):
    def enc(s):
        return None if s is None else os.fsencode(s)

    if _c().mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _can_enter(path, uid, gid):
    info = os.stat(path)
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _blocked_ancestor(path, uid, gid):
    """The topmost folder above ``path`` that ``uid`` may not enter, or None."""
    parts = path.split("/")
    for k in range(2, len(parts)):
        folder = "/".join(parts[:k])
        try:
            if not _can_enter(folder, uid, gid):
                return folder
        except OSError:
            return None
    return None


def _expose(paths, uid, gid):
    """Make ``paths`` reachable for ``uid`` in this private mount namespace: a folder on
    the way that ``uid`` cannot enter gets an empty tmpfs over it, on which just the
    needed paths are rebuilt as bind mounts of the originals (opened before the cover).
    Everything else under that folder disappears from the worker's view."""
    groups = {}
    paths = sorted(set(paths))
    paths = [p for k, p in enumerate(paths)
             if not any(p.startswith(q.rstrip("/") + "/") for q in paths[:k])]
    for path in paths:
        blocked = _blocked_ancestor(path, uid, gid)
        if blocked is not None and os.path.exists(path):
            groups.setdefault(blocked, []).append(path)
    for blocked, targets in sorted(groups.items()):
        handles = [(t, os.open(t, os.O_PATH | os.O_CLOEXEC)) for t in sorted(set(targets))]
        _mount("tmpfs", blocked, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        for target, fd in handles:
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            os.makedirs(target if is_dir else os.path.dirname(target), mode=0o755, exist_ok=True)
            if not is_dir and not os.path.exists(target):
                open(target, "wb").close()
            _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            os.close(fd)
        _mount(None, blocked, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    return sorted(groups)


def _prepare_mounts(config):
    """Private mount namespace only: the worker's view of the file system."""
    uid, gid = config.get("uid"), config.get("gid")
    pkg, home = config["pkg"], config["home"]
    done = {}
    needed = [pkg, home] + [p for p, kind in config.get("rules", []) if kind != "rw"]
    if uid is not None:
        done["exposed"] = _expose(needed, uid, gid)
    for hidden in config.get("hide", []):
        if os.path.isdir(hidden) and not any(n == hidden or n.startswith(hidden + "/")
                                             for n in needed):
            _mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=555")
    _mount(pkg, pkg, None, MS_BIND | MS_REC)
    _mount(None, pkg, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    size = int(config["limits"].get("disk_mb") or 64)
    owner = f",uid={uid},gid={gid}" if uid is not None else ""
    _mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,mode=700{owner}")
    for sub in ("tmp", "numba-cache"):
        os.mkdir(os.path.join(home, sub), 0o700)
        if uid is not None:
            os.chown(os.path.join(home, sub), uid, gid)
    done["home"] = f"tmpfs {size} MiB"
    return done


def _join_cgroups(paths):
    joined = []
    for path in paths:
        try:
            with open(os.path.join(path, "cgroup.procs"), "w") as handle:
                handle.write("0\n")
            joined.append(path)
        except OSError:
            continue
    return joined


# ---------------------------------------------------------------- the worker's confinement


def confine(config, status):
    """Limits, privileges, no_new_privs, seccomp, Landlock (in this order)."""
    _set_limits(config.get("limits", {}))
    status["limits"] = True
    if os.geteuid() == 0:
        status["capabilities"] = _drop_privileges(config.get("uid"))
    status["uid"] = os.getuid()
    result, _ = _prctl(PR_SET_NO_NEW_PRIVS, 1)
    status["no_new_privs"] = result == 0
    status["seccomp"] = bool(config.get("seccomp", True)) and _apply_seccomp()
    abi = landlock_abi() if config.get("landlock", True) else 0
    status["landlock_abi"] = abi
    if abi >= 1:
        rules = [tuple(r) for r in config.get("rules", [])]
        rules += [(config["pkg"], "read"), (config["home"], "rw"), ("/dev/null", "rw")]
        status["landlock_rules"] = _apply_landlock(rules, abi)
        status["landlock"] = {"filesystem": True, "tcp": abi >= 4, "signals": abi >= 6,
                              "abstract_unix": abi >= 6}
    else:
        status["landlock"] = None
    return status


# ---------------------------------------------------------------- the request loop


def _to_plain(name, value, np):
    """A probe output as a plain NumPy array of numbers (CuPy arrays are brought back)."""
    if hasattr(value, "get") and type(value).__module__.split(".")[0] == "cupy":
        value = value.get()
    array = np.asarray(value)
    if type(array) is not np.ndarray:
        array = np.array(array, subok=False)
    if array.dtype.hasobject or array.dtype.kind not in "biufc":
        raise TypeError(f"output {name!r} is not an array of numbers (dtype {array.dtype}, "
                        f"from a {type(value).__name__})")
    return np.asarray(array, order="C")


def _decode(value):
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def _short_traceback(exc, root):
    """The traceback with paths relative to the package folder, innermost frames kept."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next  # start at the probe, not at this loop
    lines = traceback.format_exception(type(exc), exc, tb)
    text = "".join(lines).replace(root + os.sep, "")
    return text[-6000:]


class _ReadableOnly:
    """Finds modules as the path finder does, but reports one whose source the sandbox
    does not let us read as missing (``ModuleNotFoundError``, which ``try: import x
    except ImportError`` expects) instead of failing later with ``PermissionError``."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        spec = PathFinder.find_spec(name, path, target)   # imported above: no import in here
        origin = getattr(spec, "origin", None)
        if spec is not None and origin and os.path.isabs(origin):
            try:
                os.close(os.open(origin, os.O_RDONLY | os.O_CLOEXEC))
            except PermissionError:
                raise ModuleNotFoundError(f"No module named {name!r} (not available in the "
                                          f"grader)", name=name) from None
            except OSError:
                pass
        return spec

    @classmethod
    def invalidate_caches(cls):
        pass


def _read_exact(stream, count):
    data = stream.read(count)
    if data is None or len(data) != count:
        raise EOFError("short request")
    return data


def serve(config, status, reply_fd):
    pkg = config["pkg"]
    replies = os.fdopen(reply_fd, "wb", buffering=0)
    requests = sys.stdin.buffer

    def reply(message, payload=b""):
        sys.stdout.flush()
        sys.stderr.flush()
        if payload:
            message = dict(message, bytes=len(payload))
        replies.write(json.dumps(message).encode("utf-8") + b"\n" + payload)

    reply({"confined": status})
    faulthandler.enable()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    home = config["home"]
    os.chdir(home)
    os.environ["HOME"] = home
    sys.dont_write_bytecode = True
    sys.path[:] = [pkg] + [p for p in sys.path if p and os.path.realpath(p) != pkg
                           and os.path.dirname(os.path.realpath(p)) != os.path.dirname(__file__)]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.meta_path.insert(0, _ReadableOnly)
    import numpy as np  # after the sandbox is up

    spec = importlib.util.spec_from_file_location("probes", os.path.join(pkg, "probes.py"))
    probes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probes)
    import_error = None
    try:
        # student code starts here: the module the assignment's probes receive
        functional = importlib.import_module(config.get("module", "minisegnet.functional"))
    except BaseException as e:  # SystemExit at import included
        functional = None
        import_error = {"ok": False, "type": type(e).__name__, "message": str(e)[:2000],
                        "traceback": _short_traceback(e, pkg), "phase": "import"}
    reply({"ready": True})

    while True:
        line = requests.readline()
        if not line:
            return 0
        try:
            request = json.loads(line)
            size = int(request.get("inputs") or 0)
            blob = _read_exact(requests, size) if size else b""
        except (ValueError, EOFError):
            return 2
        ident = request.get("id")
        if import_error is not None:
            reply(dict(import_error, id=ident))
            continue
        try:
            kwargs = {k: _decode(v) for k, v in request.get("params", {}).items()}
            if blob:
                with np.load(io.BytesIO(blob), allow_pickle=False) as data:
                    for name in data.files:
                        kwargs[name] = data[name]
            probe = getattr(probes, request["probe"])
            result = probe(functional, **kwargs)
            if not isinstance(result, dict):
                raise TypeError(f"probe {request['probe']} returned {type(result).__name__}")
            arrays = {}
            for name, value in result.items():
                if value is not None:
                    arrays[str(name)] = _to_plain(name, value, np)
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            reply({"id": ident, "ok": True, "keys": sorted(arrays)}, buffer.getvalue())
        except BaseException as e:  # SystemExit, KeyboardInterrupt, MemoryError
            message = str(e)[:2000]
            if isinstance(e, SystemExit):
                message = f"exit status {e.code!r}"
            reply({"id": ident, "ok": False, "type": type(e).__name__, "message": message,
                   "traceback": _short_traceback(e, pkg), "phase": "call"})
            if isinstance(e, MemoryError):
                return 4  # memory may be fragmented: let the grader start a fresh worker


# ---------------------------------------------------------------- the launcher


def _kill_uid(uid):
    """SIGKILL every process of ``uid`` (a child that becomes ``uid`` and signals -1)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _wait_for(worker, config, status_out):
    """Reap children until the worker is gone; report how it ended."""
    while True:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            code = None
            break
        except InterruptedError:
            continue
        if pid == worker:
            break
    if not config.get("pid_namespace") and config.get("uid") is not None:
        _kill_uid(config["uid"])   # no namespace to take the rest down with us
    if code is None:
        report = {"lost": True}
    elif os.WIFSIGNALED(code):
        report = {"signal": os.WTERMSIG(code)}
    else:
        report = {"exit": os.WEXITSTATUS(code) if os.WIFEXITED(code) else code}
    try:
        os.write(status_out, json.dumps(report).encode() + b"\n")
    except OSError:
        pass


def main():
    config = json.loads(sys.stdin.buffer.readline())   # the first line: the grader's config
    reply_fd, status_fd = config["reply_fd"], config["status_fd"]
    launcher = {"pid_namespace": bool(config.get("pid_namespace")),
                "net_namespace": bool(config.get("net_namespace"))}
    try:
        launcher["cgroups"] = len(_join_cgroups(config.get("cgroups", [])))
        if config.get("mount_namespace"):
            launcher["mounts"] = _prepare_mounts(config)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    except Exception as e:
        os.write(reply_fd, json.dumps({"ready": False, "error": f"launcher: {e!r}"}).encode() + b"\n")
        return 3
    worker = os.fork()
    if worker == 0:
        os.close(status_fd)
        try:
            status = confine(config, dict(launcher))
        except Exception as e:
            os.write(reply_fd, json.dumps({"ready": False,
                                           "error": f"sandbox setup failed: {e!r}"}).encode() + b"\n")
            os._exit(3)
        code = 1
        try:
            code = serve(config, status, reply_fd)
        except BaseException:
            traceback.print_exc()   # to the grader's capped output pipe
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 1)
    os.close(reply_fd)
    os.close(0)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    _wait_for(worker, config, status_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
