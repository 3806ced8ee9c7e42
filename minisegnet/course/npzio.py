"""Arrays across the trust boundary: deterministic ``.npz`` writing and paranoid reading.

The grader reads what a worker (student code) wrote, so ``read_npz`` trusts nothing:
the file must be a plain regular file (no symlink, one hard link), below a size cap; the
zip must hold only stored (uncompressed) ``NAME.npy`` members; every member's header is
parsed before its data, its dtype must be plain numbers (no objects, so no pickles; NumPy
is also called with ``allow_pickle=False``), and its byte count must match its shape.
What comes back are fresh, C-contiguous base ``ndarray`` objects.

``write_npz`` writes members in sorted order with a fixed time stamp, so the same arrays
give the same bytes (the release is deterministic).
"""

from __future__ import annotations

import io
import os
import stat
import zipfile

import numpy as np

__all__ = ["write_npz", "read_npz", "npz_bytes", "read_npz_bytes", "NpzError", "ALLOWED_KINDS"]

ALLOWED_KINDS = "biufc"          # bool, signed/unsigned int, float, complex
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


class NpzError(ValueError):
    """A file that is not a well-formed, pickle-free ``.npz`` of plain numeric arrays."""


def _check_name(name: str) -> None:
    if not name or not set(name) <= _NAME_OK or name.startswith(".") or ".." in name:
        raise NpzError(f"bad array name {name!r}")


def npz_bytes(arrays: dict) -> bytes:
    """``{name: array}`` as the bytes of an uncompressed ``.npz`` (what ``write_npz`` writes)."""
    buffer = io.BytesIO()
    write_npz(buffer, arrays)
    return buffer.getvalue()


def write_npz(path, arrays: dict) -> None:
    """Write ``{name: array}`` as an uncompressed ``.npz``, deterministically, without
    pickles (``path``: a file name or a binary stream)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            _check_name(name)
            array = np.asarray(arrays[name], order="C")
            if array.dtype.hasobject or array.dtype.kind not in ALLOWED_KINDS:
                raise NpzError(f"{name}: dtype {array.dtype} is not a plain numeric dtype")
            info = zipfile.ZipInfo(name + ".npy", date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _open_plain_file(path, max_bytes):
    """Open a regular file for reading without following a symlink; check size and links."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise NpzError(f"cannot open {os.path.basename(path)}: {e.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NpzError(f"{os.path.basename(path)} is not a regular file")
        if info.st_nlink != 1:
            raise NpzError(f"{os.path.basename(path)} has {info.st_nlink} hard links")
        if info.st_size > max_bytes:
            raise NpzError(f"{os.path.basename(path)} is {info.st_size} bytes, over the "
                           f"{max_bytes}-byte limit")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise NpzError(f"{os.path.basename(path)} grew over the {max_bytes}-byte limit")
    return data


def _read_member(name, blob):
    stream = io.BytesIO(blob)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise NpzError(f"{name}: unsupported .npy version {version}")
    except NpzError:
        raise
    except Exception as e:  # any malformed header
        raise NpzError(f"{name}: malformed .npy header ({e})") from None
    if dtype.hasobject or dtype.kind not in ALLOWED_KINDS or dtype.fields is not None:
        raise NpzError(f"{name}: dtype {dtype} is not a plain numeric dtype")
    if not all(isinstance(s, int) and s >= 0 for s in shape):
        raise NpzError(f"{name}: bad shape {shape}")
    count = 1
    for s in shape:
        count *= s
    payload = len(blob) - stream.tell()
    if payload != count * dtype.itemsize:
        raise NpzError(f"{name}: {payload} data bytes for shape {shape} and dtype {dtype}")
    array = np.frombuffer(blob, dtype=dtype, count=count, offset=stream.tell())
    array = array.reshape(shape, order="F" if fortran else "C")
    return np.array(array, order="C", copy=True)


def read_npz(path, max_bytes: int = 256 << 20, max_arrays: int = 64) -> dict:
    """Read an untrusted ``.npz`` file into ``{name: ndarray}``; ``NpzError`` on anything
    odd (a link, a FIFO, a device, a file over ``max_bytes``)."""
    data = _open_plain_file(path, max_bytes)
    return read_npz_bytes(data, max_bytes, max_arrays, os.path.basename(path))


def read_npz_bytes(data: bytes, max_bytes: int = 256 << 20, max_arrays: int = 64,
                   what: str = "the reply") -> dict:
    """Read untrusted ``.npz`` bytes (a worker's reply) into ``{name: ndarray}``."""
    if len(data) > max_bytes:
        raise NpzError(f"{what} is {len(data)} bytes, over the {max_bytes}-byte limit")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as e:
        raise NpzError(f"{what} is not a zip file ({e})") from None
    infos = archive.infolist()
    if len(infos) > max_arrays:
        raise NpzError(f"{len(infos)} arrays, more than {max_arrays}")
    out = {}
    total = 0
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise NpzError(f"unexpected member {info.filename!r}")
        name = info.filename[:-4]
        _check_name(name)
        if name in out:
            raise NpzError(f"array {name!r} appears twice")
        if info.compress_type != zipfile.ZIP_STORED:
            raise NpzError(f"{name}: compressed members are not accepted")
        total += info.file_size
        if info.file_size > max_bytes or total > max_bytes:
            raise NpzError(f"{name}: over the {max_bytes}-byte limit")
        try:
            blob = archive.read(info)
        except Exception as e:  # CRC errors, truncation
            raise NpzError(f"{name}: unreadable member ({e})") from None
        out[name] = _read_member(name, blob)
    return out
