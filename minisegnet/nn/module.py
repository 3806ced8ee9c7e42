"""``Parameter`` and ``Module``: the bookkeeping under every layer.

A ``Module`` owns its parameters (learnable arrays with a gradient), its buffers (arrays
that are state but not learned, such as BatchNorm's running statistics) and its child
modules. All three are registered by plain attribute assignment, as in PyTorch::

    class Affine(Module):
        def __init__(self, c):
            super().__init__()
            self.weight = Parameter(np.ones(c, np.float32))   # a parameter
            self.register_buffer("count", np.zeros((), np.int64))  # a buffer
            self.relu = ReLU()                                 # a child module

The math lives in ``minisegnet.functional``; a layer's ``forward`` calls ``F.<op>_forward``
and keeps the cache, its ``backward`` calls ``F.<op>_backward`` with that cache and ADDS the
parameter gradients to ``.grad``.

Differences from PyTorch worth knowing:

- There is no autograd. ``backward(dy)`` uses the caches of the module's **last**
  ``forward``; a module instance must therefore appear only once in a forward pass (share
  weights by sharing ``Parameter`` objects, not modules). ``backward`` may be called more
  than once after one forward: gradients then add up.
- ``zero_grad()`` sets every ``.grad`` to **zeros** (in place, allocating where it was
  ``None``) rather than to ``None``; pass ``set_to_none=True`` for PyTorch's default.
- ``state_dict()`` returns **copies** (a snapshot that later training does not change).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .._checks import check_array
from ..backend import device_of, get_array_module, is_cupy_array, to_device

__all__ = ["Parameter", "Module"]


def _is_array(a) -> bool:
    return isinstance(a, np.ndarray) or is_cupy_array(a)


def _float_dtype(fn, dtype):
    """``dtype`` as ``np.float32`` or ``np.float64``; anything else is a ``TypeError``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fn}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{fn}: dtype must be float32 or float64, got {dt}")
    return dt.type


class Parameter:
    """A learnable array and its gradient.

    ``data``: the live array (NumPy or CuPy). Optimisers update it **in place**
    (``p.data -= lr * p.grad``), so a layer and an optimiser holding the same ``Parameter``
    always see the same numbers.

    ``grad``: ``None`` until the first backward, then an array shaped like ``data``.
    **Backward ACCUMULATES into it** (``grad += dL/d data``), exactly like PyTorch: call
    ``zero_grad()`` before each training step, or gradients of successive steps add up.

    ``name``: optional label for messages (the dotted name is ``Module.named_parameters``').
    """

    def __init__(self, data, name=None):
        check_array("Parameter", "data", data)
        self.data = data
        self.grad = None
        self.name = name

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    def accumulate_grad(self, g) -> None:
        """``grad += g`` (``grad = copy of g`` the first time). ``g`` must be shaped like ``data``."""
        if tuple(g.shape) != tuple(self.data.shape):
            raise ValueError(f"Parameter{'' if self.name is None else ' ' + self.name}: gradient "
                             f"shape {tuple(g.shape)} differs from data shape {tuple(self.data.shape)}")
        if self.grad is None:
            self.grad = g.astype(self.data.dtype, copy=True)
        else:
            self.grad += g

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Set ``grad`` to zeros in place (allocating it when ``None``), or to ``None``."""
        if set_to_none:
            self.grad = None
        elif self.grad is None:
            self.grad = get_array_module(self.data).zeros_like(self.data)
        else:
            self.grad[...] = 0

    def __repr__(self):
        label = "" if self.name is None else f"{self.name}, "
        return (f"Parameter({label}shape={tuple(self.data.shape)}, dtype={self.data.dtype}, "
                f"device={device_of(self.data)})")


class Module:
    """Base class of every layer and container.

    Subclasses implement ``forward(x) -> y`` (saving what backward needs) and
    ``backward(dy) -> dx`` (returning the input gradient and accumulating parameter
    gradients). ``module(x)`` is ``module.forward(x)``.
    """

    def __init__(self):
        # object.__setattr__: our own __setattr__ routes values into these very dicts.
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration

    def __setattr__(self, name, value):
        """Route a ``Parameter`` to ``_parameters`` and a ``Module`` to ``_modules`` (in
        assignment order: that order is the order of ``parameters()`` and ``state_dict()``);
        assigning to a registered buffer replaces the buffer's array."""
        d = self.__dict__
        if "_parameters" not in d and isinstance(value, (Parameter, Module)):
            raise AttributeError(
                f"cannot assign {type(value).__name__} '{name}' before Module.__init__() call "
                f"(call super().__init__() first in {type(self).__name__}.__init__)")
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif "_parameters" in d and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter '{name}' of "
                                f"{type(self).__name__} (a Parameter or None is required)")
            self._parameters[name] = None
        elif "_buffers" in d and name in self._buffers:
            if value is not None and not _is_array(value):
                raise TypeError(f"buffer '{name}' of {type(self).__name__} must be an array or "
                                f"None, got {type(value).__name__}")
            self._buffers[name] = value
        else:
            if "_modules" in d:
                self._modules.pop(name, None)
            object.__setattr__(self, name, value)

    def _forget(self, name):
        """Drop ``name`` from every registry and from the plain attributes."""
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries. Use __dict__ so that
        # a half-built object (copy.deepcopy, pickle) raises AttributeError, not recursion.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, {}):
                del self.__dict__[registry][name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Register ``array`` as non-learned state saved in ``state_dict`` and moved by ``to``."""
        if array is not None and not _is_array(array):
            raise TypeError(f"register_buffer: '{name}' must be an array or None, "
                            f"got {type(array).__name__}")
        self._forget(name)
        self._buffers[name] = array

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a ``Parameter`` or ``None``, as PyTorch's optional bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, "
                            f"got {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def add_module(self, name: str, module) -> None:
        """Register ``module`` as the child ``name`` (names may be digits, as in Sequential)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    # ------------------------------------------------------------ forward / backward

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x):
        return self.forward(x)

    def _saved(self, attr="_cache"):
        """The cache of the last forward, or a clear error when there was none."""
        cache = self.__dict__.get(attr)
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward: "
                               "there is no cache to differentiate")
        return cache

    def _check_input(self, x, channels=None):
        """``x`` is (N, C, H, W) float on the device and in the dtype of this module's own
        parameters (when it has any), with ``channels`` channels (when given)."""
        fn = f"{type(self).__name__}.forward"
        check_array(fn, "x", x, 4, "(N, C, H, W)")
        own = [p for p in self._parameters.values() if p is not None]
        if own:
            p = own[0].data
            if device_of(x) != device_of(p):
                raise TypeError(f"{fn}: x is on the {device_of(x).upper()} but the layer's "
                                f"parameters are on the {device_of(p).upper()}; move one with "
                                f"to_device(x, ...) or module.to(device=...)")
            if x.dtype != p.dtype:
                raise TypeError(f"{fn}: x has dtype {x.dtype} but the layer computes in "
                                f"{p.dtype} (the dtype of its parameters); convert x with "
                                f"x.astype(...) or the layer with module.to(dtype=...)")
        if channels is not None and x.shape[1] != channels:
            raise ValueError(f"{fn}: x must have {channels} channels, got shape {tuple(x.shape)}")
        return x

    # ------------------------------------------------------------ traversal

    def named_children(self):
        """``[(name, child), ...]`` of the direct children, in assignment order."""
        return list(self._modules.items())

    def children(self):
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix=""):
        """Every module of the tree, pre-order (self first), each once, with dotted names."""
        out, seen = [], set()

        def visit(module, name):
            if id(module) in seen:
                return
            seen.add(id(module))
            out.append((name, module))
            for child_name, child in module._modules.items():
                visit(child, f"{name}.{child_name}" if name else child_name)

        visit(self, prefix)
        return out

    def modules(self):
        return [m for _, m in self.named_modules()]

    def _named_members(self, registry):
        """``(dotted name, member)`` of ``registry`` over the tree, module by module in
        pre-order, each member once (a shared Parameter is listed under its first name)."""
        out, seen = [], set()
        for module_name, module in self.named_modules():
            for name, member in getattr(module, registry).items():
                if member is None or id(member) in seen:
                    continue
                seen.add(id(member))
                out.append((f"{module_name}.{name}" if module_name else name, member))
        return out

    def named_parameters(self):
        """``[(dotted name, Parameter), ...]`` in PyTorch's order: a module's own parameters
        in assignment order, then its children's, recursively (e.g. ``0.weight``, ``0.bias``,
        ``1.weight``). The same ``Parameter`` objects on every call."""
        return self._named_members("_parameters")

    def parameters(self):
        """``[Parameter, ...]`` in the order of ``named_parameters`` (a list, so an optimiser
        may iterate it more than once)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self):
        """``[(dotted name, array), ...]``: running statistics and other non-learned state."""
        return self._named_members("_buffers")

    def buffers(self):
        return [b for _, b in self.named_buffers()]

    # ------------------------------------------------------------ modes and gradients

    def train(self, mode: bool = True):
        """Training mode (BatchNorm uses batch statistics) for the whole tree; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (BatchNorm uses its running statistics); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Reset every parameter's ``.grad`` to zeros (default) or to ``None``."""
        for p in self.parameters():
            p.zero_grad(set_to_none)

    # ------------------------------------------------------------ state

    def _state_items(self):
        """``(dotted name, owner, kind, attr)`` for every saved array, in PyTorch's
        ``state_dict`` order: each module's parameters, then its buffers, then its children."""
        items = []
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for kind in ("_parameters", "_buffers"):
                for attr, value in getattr(module, kind).items():
                    if value is not None:
                        items.append((prefix + attr, module, kind, attr))
        return items

    @staticmethod
    def _get(module, kind, attr):
        value = getattr(module, kind)[attr]
        return value.data if kind == "_parameters" else value

    def state_dict(self):
        """``{dotted name: array}`` of every parameter and buffer (running statistics
        included), with PyTorch's key names (``0.weight``, ``1.running_mean``, ...).
        The arrays are copies on the module's device."""
        return OrderedDict((name, self._get(m, kind, attr).copy())
                           for name, m, kind, attr in self._state_items())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy the arrays of ``state_dict`` into the parameters and buffers, in place.

        Everything is validated first, so a failed load changes nothing: with ``strict``, a
        missing or unexpected key is a ``KeyError`` naming it; a wrong shape is a
        ``ValueError`` naming the key. Values may be NumPy or CuPy arrays (or anything
        ``np.asarray`` accepts); they are converted to the device and dtype of the module's
        arrays. Returns ``(missing_keys, unexpected_keys)`` (empty lists when strict).
        """
        targets = {name: self._get(m, kind, attr) for name, m, kind, attr in self._state_items()}
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and missing:
            raise KeyError(f"load_state_dict: missing key(s) {missing} for {type(self).__name__}")
        if strict and unexpected:
            raise KeyError(f"load_state_dict: unexpected key(s) {unexpected} for "
                           f"{type(self).__name__}")
        values = {}
        for name, target in targets.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if not _is_array(value):
                value = np.asarray(value)
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"load_state_dict: shape mismatch for key '{name}': expected "
                                 f"{tuple(target.shape)}, got {tuple(value.shape)}")
            values[name] = value
        # Validation done: nothing below can fail on the user's input.
        for name, value in values.items():
            target = targets[name]
            target[...] = to_device(value, device_of(target)).astype(target.dtype, copy=False)
        return missing, unexpected

    def to(self, dtype=None, device=None):
        """Convert every parameter (data and grad) and floating buffer, in place; returns self.

        ``dtype``: ``np.float32`` or ``np.float64`` (integer buffers such as
        ``num_batches_tracked`` keep their dtype); ``device``: ``"cpu"`` or ``"gpu"``.
        The ``Parameter`` objects stay the same (an optimiser built before still works);
        their arrays are replaced. Caches of an earlier forward are dropped.
        """
        dtype = None if dtype is None else _float_dtype("Module.to", dtype)
        if device is not None and device not in ("cpu", "gpu"):
            raise ValueError(f"Module.to: device must be 'cpu' or 'gpu', got {device!r}")

        def convert(a, floating=True):
            if a is None:
                return None
            if device is not None:
                a = to_device(a, device)
            if dtype is not None and floating and a.dtype.kind == "f":
                a = a.astype(dtype, copy=False)
            return a

        for module in self.modules():
            for p in module._parameters.values():
                if p is not None:
                    p.data, p.grad = convert(p.data), convert(p.grad)
            for name, b in module._buffers.items():
                module._buffers[name] = convert(b)
            module.__dict__.pop("_cache", None)  # an old cache would mix devices or dtypes
        return self

    # ------------------------------------------------------------ printing

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (layers override it)."""
        return ""

    def __repr__(self):
        children = [f"({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self._modules.items()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
