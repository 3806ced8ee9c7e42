"""minisegnet: semantic segmentation built from scratch, forward and backward, NumPy or CuPy.

``from minisegnet import functional as F`` gives the stateless ops, ``minisegnet.nn`` the
layers, ``minisegnet.metrics`` the confusion matrix, IoU family and panoptic quality;
``minisegnet.backend`` the array-module dispatch; ``minisegnet.gradcheck`` the
finite-difference helpers.

The submodules are imported on first use. Numba's compiled-function cache goes to a
per-user folder (``$XDG_CACHE_HOME/minisegnet/numba`` or ``~/.cache/minisegnet/numba``)
unless ``NUMBA_CACHE_DIR`` says otherwise: by default Numba writes it next to the sources,
which for ``pip install .`` is inside the installed package, where it outlives an
uninstall and shadows a later editable install.
"""

import os as _os


def _numba_cache_dir() -> str:
    base = _os.environ.get("XDG_CACHE_HOME") or _os.path.join(_os.path.expanduser("~"), ".cache")
    return _os.path.join(base, "minisegnet", "numba")


if not _os.environ.get("NUMBA_CACHE_DIR"):
    _os.environ["NUMBA_CACHE_DIR"] = _numba_cache_dir()
    import sys as _sys

    if "numba" in _sys.modules:   # imported before us: its configuration is already read
        _sys.modules["numba"].config.CACHE_DIR = _os.environ["NUMBA_CACHE_DIR"]

__version__ = "0.1.0"

__all__ = ["backend", "functional", "metrics", "nn", "__version__"]

_SUBMODULES = ("backend", "functional", "metrics", "nn")


def __getattr__(name):
    """``minisegnet.functional`` and friends, imported on first use: ``import minisegnet``
    (and so the ``minisegnet`` command) works even while a file of the library does not
    compile, so ``minisegnet check`` can say which one."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
