"""Arrays across the trust boundary: what the grader refuses to read."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

from minisegnet.course.npzio import NpzError, npz_bytes, read_npz, read_npz_bytes, write_npz


def test_round_trip_is_exact_and_deterministic(tmp_path):
    arrays = {"y": np.arange(6.0).reshape(2, 3), "i": np.arange(4, dtype=np.int64),
              "flag": np.array(True), "f": np.ones((2, 0, 3), np.float32)}
    write_npz(tmp_path / "a.npz", arrays)
    write_npz(tmp_path / "b.npz", dict(reversed(list(arrays.items()))))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = read_npz(tmp_path / "a.npz")
    for name, value in arrays.items():
        assert type(back[name]) is np.ndarray
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        assert np.array_equal(back[name], value)


def test_objects_and_pickles_are_refused(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, a=np.array([object(), 1], dtype=object))
    with pytest.raises(NpzError, match="not a plain numeric dtype"):
        read_npz(path)
    with pytest.raises(NpzError):
        write_npz(tmp_path / "p.npz", {"a": np.array([{}], dtype=object)})


def test_links_compression_and_size_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, a=np.ones(10))
    os.symlink(good, tmp_path / "link.npz")
    with pytest.raises(NpzError):
        read_npz(tmp_path / "link.npz")
    os.link(good, tmp_path / "hard.npz")
    with pytest.raises(NpzError, match="hard links"):
        read_npz(tmp_path / "hard.npz")
    np.savez_compressed(tmp_path / "c.npz", a=np.zeros(1000))
    with pytest.raises(NpzError, match="compressed"):
        read_npz(tmp_path / "c.npz")
    np.savez(tmp_path / "big.npz", a=np.zeros(10_000))
    with pytest.raises(NpzError, match="limit"):
        read_npz(tmp_path / "big.npz", max_bytes=1000)


def test_malformed_members_are_refused(tmp_path):
    path = tmp_path / "bad.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (100,)})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.npy", header.getvalue() + b"\0" * 8)
    with pytest.raises(NpzError, match="data bytes"):
        read_npz(path)
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as z:
        z.writestr("../evil.npy", b"")
    with pytest.raises(NpzError):
        read_npz(tmp_path / "x.npz")
    (tmp_path / "n.npz").write_bytes(b"not a zip")
    with pytest.raises(NpzError, match="not a zip"):
        read_npz(tmp_path / "n.npz")


def test_bytes_round_trip_and_bad_bytes(tmp_path):
    arrays = {"y": np.arange(6.0).reshape(2, 3), "k": np.arange(3, dtype=np.uint8)}
    data = npz_bytes(arrays)
    write_npz(tmp_path / "a.npz", arrays)
    assert data == (tmp_path / "a.npz").read_bytes()
    back = read_npz_bytes(data)
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in arrays.items())
    with pytest.raises(NpzError, match="limit"):
        read_npz_bytes(data, max_bytes=100)
    with pytest.raises(NpzError, match="not a zip"):
        read_npz_bytes(b"PK\x03\x04 truncated")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "f.npz")
    with pytest.raises(NpzError, match="not a regular file"):
        read_npz(tmp_path / "f.npz")
