"""Checkpoints: a model's ``state_dict`` (and optimiser state) in one ``.npz`` file.

Layout of the file (a NumPy ``.npz`` zip, readable with ``np.load`` alone):

- ``model/<name>`` for every entry of ``model.state_dict()`` (parameters and running
  statistics);
- ``optimizer/<key>`` for the optimiser's state (SGD's momentum buffers), when saved;
- ``__meta__``: a ``uint8`` array holding UTF-8 JSON: the format tag and version, the model's
  name and ``config`` (so ``load_checkpoint(path)`` can rebuild it), and whatever else the
  caller passed (iteration, metrics, class names, seed).

Writing is **atomic**: the file is written to a temporary name in the same folder, flushed
to disk, then moved over the target with ``os.replace`` (an atomic rename on POSIX and
Windows). A crash or a full disk leaves either the old file or the new one, never half a
file; a failed write removes its temporary file.

Loading checks everything before changing anything: a file that is not a checkpoint, is
truncated or corrupted, or whose names or shapes do not match the model raises
``CheckpointError`` listing every problem.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "CheckpointError"]

FORMAT = "minisegnet-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


def _to_host(a):
    from ..backend import to_numpy

    return np.array(to_numpy(a), order="C")   # (np.ascontiguousarray would make 0-d arrays 1-d)


def save_checkpoint(path, model, optimizer=None, **meta):
    """Write ``model`` (and ``optimizer``) to ``path`` atomically; returns the path.

    ``meta``: JSON-serialisable extras (e.g. ``iteration=1000, metrics={...}``). Models
    with a ``config`` attribute (all of ``minisegnet.models``) can be rebuilt from the file.
    """
    from ..models import model_name  # train sits above models

    path = os.fspath(path)
    arrays = {f"model/{k}": _to_host(v) for k, v in model.state_dict().items()}
    if optimizer is not None:
        arrays.update({f"optimizer/{k}": _to_host(v) for k, v in optimizer.state_dict().items()})
    info = {"format": FORMAT, "version": VERSION}
    try:
        info["model"] = model_name(model)
    except ValueError:
        info["model"] = None
    info["config"] = getattr(model, "config", None)
    info.update(meta)
    try:
        blob = json.dumps(info).encode("utf-8")
    except TypeError as e:
        raise TypeError(f"save_checkpoint: meta must be JSON-serialisable ({e})") from None
    arrays["__meta__"] = np.frombuffer(blob, dtype=np.uint8)

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def read_checkpoint(path):
    """``(meta, model_state, optimizer_state)`` from a checkpoint file, fully read and checked
    for integrity (every array decompressed, CRCs verified). Raises ``FileNotFoundError`` or
    ``CheckpointError``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}   # reads (and CRC-checks) every member
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise CheckpointError(f"{path!r} is not a readable minisegnet checkpoint (truncated or "
                              f"corrupted file?): {type(e).__name__}: {e}") from None
    if "__meta__" not in arrays:
        raise CheckpointError(f"{path!r} is an .npz file but not a minisegnet checkpoint (no "
                              "__meta__ entry)")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path!r}: the __meta__ entry is not valid JSON ({e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path!r}: format tag is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{path!r}: checkpoint version {meta['version']} is newer than this "
                              f"minisegnet reads ({VERSION})")
    model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    optim_state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
    return meta, model_state, optim_state


def _mismatch_report(expected, found):
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [f"{k}: checkpoint {tuple(found[k].shape)}, model {tuple(expected[k].shape)}"
              for k in expected if k in found and tuple(found[k].shape) != tuple(expected[k].shape)]
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        problems.append(f"not in the model ({len(unexpected)}): {', '.join(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch ({len(shapes)}): {'; '.join(shapes)}")
    return problems


def load_checkpoint(path, model=None, optimizer=None):
    """Load a checkpoint into ``model`` (built from the file's name and config when ``None``)
    and, if given, ``optimizer``. Returns ``(model, meta)``.

    Every name and shape is compared first; on any mismatch a ``CheckpointError`` lists the
    missing, unexpected and mis-shaped entries, and the model is left untouched.
    """
    meta, model_state, optim_state = read_checkpoint(path)
    if model is None:
        from ..models import build_model

        if not meta.get("model") or meta.get("config") is None:
            raise CheckpointError(f"{os.fspath(path)!r} does not say which model it holds; pass "
                                  "model= to load it into")
        model = build_model(meta["model"], **meta["config"])
    expected = model.state_dict()
    problems = _mismatch_report(expected, model_state)
    if problems:
        config = meta.get("config")
        hint = f" (the checkpoint was saved from {meta.get('model')} with config {config})" if config else ""
        raise CheckpointError(f"checkpoint {os.fspath(path)!r} does not match "
                              f"{type(model).__name__}{hint}:\n  " + "\n  ".join(problems))
    if optimizer is not None:
        for key, value in optim_state.items():
            i = int(key.split(".")[1])
            if i >= len(optimizer.params) or tuple(optimizer.params[i].shape) != tuple(value.shape):
                raise CheckpointError(f"checkpoint {os.fspath(path)!r}: optimizer state {key} "
                                      f"{tuple(value.shape)} does not fit the optimizer's parameters")
    model.load_state_dict(model_state)
    if optimizer is not None:
        optimizer.load_state_dict(optim_state)
    return model, meta
