"""The grading worker: the only process that runs submitted code.

Started by the grader (``minisegnet.course.sandbox``) as ``python -I _msn_worker.py CONFIG``
in a temporary folder that holds the student edition of the package with the submitted
files in place, ``probes.py`` and this file; stdin carries requests, a pipe of its own
(``reply_fd``) carries replies, stdout/stderr go to a capped pipe. This file is
self-contained (standard library, then NumPy): importing anything of ``minisegnet``
would run student code before the sandbox is up. In order, before any submitted code is imported, it

1. lowers its resource limits (address space, CPU seconds, file size, no core dumps,
   open files, and processes when it runs under a user id of its own);
2. when it is root, drops every capability (so the limits cannot be raised again and no
   privilege is left), then sets ``no_new_privs``;
3. applies a Landlock ruleset when the kernel has Landlock: read-only access to the Python
   installation and system libraries, read-write access to its own folder, nothing else on
   the file system (the grader bundle, hidden tests and the reference solution are
   unreadable), no TCP, and (ABI 6+) no signals or abstract sockets outside its own domain;
4. imports the probes and the student's module named in the configuration (by default
   ``minisegnet.functional``), and reports "ready".

Each request names a probe (a short function of ``probes.py`` that calls the student's
functions) with its array inputs in ``in-K.npz`` and its plain parameters as JSON; the
reply says ``ok`` with the outputs written to ``out-K.npz`` (plain numeric arrays, no
pickles), or the exception's type, message and traceback. Everything this process says is
untrusted: the grader checks every array itself.
"""

import ctypes
import faulthandler
import importlib.util
import json
import os
import resource
import signal
import sys
import traceback

# ---------------------------------------------------------------- limits and privileges


def _set_limits(limits):
    mib = 1 << 20
    wanted = [
        (resource.RLIMIT_AS, limits.get("memory_mb") and limits["memory_mb"] * mib),
        (resource.RLIMIT_CPU, limits.get("cpu_s")),
        (resource.RLIMIT_FSIZE, limits.get("file_mb") and limits["file_mb"] * mib),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, limits.get("open_files")),
    ]
    if limits.get("processes"):
        wanted.append((resource.RLIMIT_NPROC, limits["processes"]))
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


_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
    return _libc


def _syscall(*args):
    return _c().syscall(*args)


def _prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    result = _c().prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                         ctypes.c_ulong(arg4), ctypes.c_ulong(arg5))
    return result, ctypes.get_errno()


PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SYS_CAPSET = 126 if os.uname().machine == "x86_64" else 91


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_capabilities():
    """Empty the bounding, ambient, effective, permitted and inheritable sets."""
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except OSError:
        last = 40
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    result = _syscall(SYS_CAPSET, ctypes.byref(header), ctypes.byref(data))
    if result != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


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


def _apply_landlock(read_only, read_write, abi):
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
    read_rights = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    granted = []
    for paths, rights in ((read_only, read_rights), (read_write, fs_all)):
        for path in paths:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                is_dir = os.path.isdir(path)
                allowed = rights if is_dir else rights & file_rights
                rule = _PathBeneath(allowed, fd)
                if _syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                            ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                            ctypes.c_uint32(0)) == 0:
                    granted.append(path)
            finally:
                os.close(fd)
    if _syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(ruleset)
    return granted


def _python_paths():
    """Directories the interpreter needs: its prefixes and its standard/site paths."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                              sys.base_exec_prefix)}
    paths = set(prefixes)
    for entry in sys.path:
        if not entry:
            continue
        real = os.path.realpath(entry)
        if any(real == p or real.startswith(p + os.sep) for p in prefixes) or \
                os.path.basename(real) in ("site-packages", "dist-packages"):
            paths.add(real)
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(paths)


SYSTEM_READ_ONLY = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/etc/ld.so.cache",
                    "/etc/localtime", "/proc", "/sys/devices/system/cpu", "/dev/urandom",
                    "/dev/zero"]
SYSTEM_READ_WRITE = ["/dev/null"]


def confine(config):
    """Limits, capabilities, no_new_privs, Landlock; returns a description of what holds."""
    status = {"uid": os.getuid(), "limits": True}
    _set_limits(config.get("limits", {}))
    if os.geteuid() == 0 and config.get("drop_capabilities", True):
        try:
            _drop_capabilities()
            status["capabilities"] = "dropped"
        except OSError as e:
            status["capabilities"] = f"kept ({e})"
    result, _ = _prctl(PR_SET_NO_NEW_PRIVS, 1)
    status["no_new_privs"] = result == 0
    abi = landlock_abi() if config.get("landlock", True) else 0
    status["landlock_abi"] = abi
    if abi >= 1:
        read_only = sorted(set(_python_paths()) | set(SYSTEM_READ_ONLY))
        read_write = [config["root"]] + SYSTEM_READ_WRITE
        _apply_landlock(read_only, read_write, abi)
        status["landlock"] = {"filesystem": True, "tcp": abi >= 4, "signals": abi >= 6}
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
    """The traceback with paths relative to the worker folder, innermost frames kept."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next  # start at the probe, not at this loop
    lines = traceback.format_exception(type(exc), exc, tb)
    text = "".join(lines).replace(root + os.sep, "")
    return text[-6000:]


def main():
    config = json.loads(sys.argv[1])
    root = config["root"]
    replies = os.fdopen(config["reply_fd"], "w", buffering=1, encoding="utf-8")
    requests = sys.stdin.buffer

    def reply(message):
        sys.stdout.flush()
        sys.stderr.flush()
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    try:
        status = confine(config)
    except Exception as e:
        reply({"ready": False, "error": f"sandbox setup failed: {e!r}"})
        return 3
    faulthandler.enable()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.chdir(root)
    os.environ["HOME"] = root
    sys.path[:] = [root] + [p for p in sys.path if p and os.path.realpath(p) != root]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    import numpy as np  # after the sandbox is up

    spec = importlib.util.spec_from_file_location("probes", os.path.join(root, "probes.py"))
    probes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probes)
    import_error = None
    try:
        # student code starts here: the module the assignment's probes receive
        functional = importlib.import_module(config.get("module", "minisegnet.functional"))
    except BaseException as e:  # SystemExit at import included
        functional = None
        import_error = {"ok": False, "type": type(e).__name__, "message": str(e)[:2000],
                        "traceback": _short_traceback(e, root), "phase": "import"}
    reply({"ready": True, "sandbox": status})

    while True:
        line = requests.readline()
        if not line:
            return 0
        try:
            request = json.loads(line)
        except ValueError:
            return 2
        ident = request.get("id")
        if import_error is not None:
            reply(dict(import_error, id=ident))
            continue
        try:
            kwargs = {k: _decode(v) for k, v in request.get("params", {}).items()}
            if request.get("inputs"):
                with np.load(os.path.join(root, "io", request["inputs"]),
                             allow_pickle=False) as data:
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
            out = os.path.join(root, "io", f"out-{ident}.npz")
            np.savez(out, **arrays)
            reply({"id": ident, "ok": True, "keys": sorted(arrays)})
        except BaseException as e:  # SystemExit, KeyboardInterrupt, MemoryError
            message = str(e)[:2000]
            if isinstance(e, SystemExit):
                message = f"exit status {e.code!r}"
            reply({"id": ident, "ok": False, "type": type(e).__name__, "message": message,
                   "traceback": _short_traceback(e, root), "phase": "call"})
            if isinstance(e, MemoryError):
                return 4  # memory may be fragmented: let the grader start a fresh worker


if __name__ == "__main__":
    sys.exit(main())
