"""Label taxonomies across data sets (MSeg) and the harmonic mean across test sets.

Data sets name their classes differently (one has ``person``, another ``rider`` and
``pedestrian``; one has ``road``, another only ``ground``). To train and test across them, the
label maps of each data set are moved into one *unified taxonomy* by a lookup table,
``unified = lut[source]``; a source class with no counterpart goes to the ignore label, so it is
neither rewarded nor punished. A model is then scored on every test set, and the summary is
the harmonic mean of the per-data-set scores: it is dragged down by the worst one, so a model
cannot hide a failure on one domain behind a success on another.
Lesson: ``lessons/11-generalising.md``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from .._checks import check_int, is_int
from ..backend import get_array_module, is_cupy_array
from ._common import check_label_array, clamped_index

__all__ = ["remap_labels", "mapping_lut", "mapping_from_names", "harmonic_mean"]

# Largest source label a dict mapping may name (its lookup table has that many entries).
_MAX_SOURCE_LABEL = 1 << 24


def mapping_lut(mapping, ignore_index=255, size=None, _fn="mapping_lut"):
    """The lookup table of a label mapping: ``lut[s] = mapping[s]``, ``ignore_index`` elsewhere.

    mapping: a dict ``{source_id: target_id}`` (ids ints, sources ``>= 0``) or a 1-D integer
    array / sequence already used as a table (``lut[s]`` is the target of ``s``). size: the
    table's length (default: largest source + 1). Returns a ``(size,)`` int64 NumPy array.
    Lesson 11 (``lessons/11-generalising.md``).
    """
    fn = _fn
    ign = check_int(fn, "ignore_index", ignore_index)
    if isinstance(mapping, Mapping):
        for s, t in mapping.items():
            if not is_int(s) or not is_int(t):
                raise TypeError(f"{fn}: mapping must map int labels to int labels, got {s!r}: {t!r}")
            if not 0 <= s < _MAX_SOURCE_LABEL:
                raise ValueError(f"{fn}: mapping's source labels must be in [0, {_MAX_SOURCE_LABEL}), "
                                 f"got {s}")
        top = max(mapping, default=-1) + 1
        n = top if size is None else check_int(fn, "size", size, minimum=top)
        lut = np.full(n, ign, dtype=np.int64)
        if mapping:
            lut[np.fromiter(mapping.keys(), np.int64)] = np.fromiter(mapping.values(), np.int64)
        return lut
    if is_cupy_array(mapping):
        mapping = mapping.get()
    if isinstance(mapping, (str, bytes)):
        raise TypeError(f"{fn}: mapping must be a dict or a 1-D integer array, got {mapping!r}")
    table = np.asarray(mapping)
    if table.ndim != 1 or (table.size and table.dtype.kind not in "iu"):
        raise TypeError(
            f"{fn}: mapping must be a dict or a 1-D integer array, got "
            f"{type(mapping).__name__} with shape {table.shape} and dtype {table.dtype}"
        )
    table = table.astype(np.int64)
    if size is not None and check_int(fn, "size", size, minimum=0) != table.size:
        grown = np.full(size, ign, dtype=np.int64)
        keep = min(size, table.size)
        grown[:keep] = table[:keep]
        table = grown
    return table


def remap_labels(label_map, mapping, ignore_index=255):
    """Move a label map into another taxonomy: ``out = lut[label_map]``.

    Labels the mapping does not name (including negative ones, those past the end of an
    array table, and the source's own ignore label unless it is mapped) become
    ``ignore_index``.

    label_map: integer array of any shape (NumPy or CuPy). mapping: dict
    ``{source_id: target_id}`` or 1-D integer lookup table (see ``mapping_lut``).
    Returns an array of the same shape and library, of ``label_map``'s dtype when every
    target id and ``ignore_index`` fit in it, else int64. Vectorised: one gather.
    Lesson 11 (``lessons/11-generalising.md``).
    """
    fn = "remap_labels"
    check_label_array(fn, "label_map", label_map)
    ign = check_int(fn, "ignore_index", ignore_index)
    lut = mapping_lut(mapping, ign, _fn=fn)
    xp = get_array_module(label_map)
    values = np.append(lut, ign)
    info = np.iinfo(label_map.dtype)
    dtype = label_map.dtype if info.min <= values.min() and values.max() <= info.max else np.int64
    if lut.size == 0:
        return xp.full(label_map.shape, ign, dtype=dtype)
    table = xp.asarray(values.astype(dtype))  # entry lut.size means "not mapped"
    return table[clamped_index(xp, label_map, lut.size)]


def mapping_from_names(source_names, target_names, aliases=None) -> dict:
    """A ``{source_id: target_id}`` mapping that pairs classes by name.

    source_names, target_names: sequences of class names (the id is the position).
    aliases: optional ``{source_name: target_name}`` for classes named differently (e.g.
    ``{"pedestrian": "person"}``); a source name with neither a same-named target nor an
    alias is left out (it will go to the ignore label). Lesson 11.
    """
    fn = "mapping_from_names"
    source_names, target_names = list(source_names), list(target_names)
    if len(set(target_names)) != len(target_names):
        raise ValueError(f"{fn}: target_names must be distinct, got {target_names!r}")
    where = {name: i for i, name in enumerate(target_names)}
    aliases = dict(aliases or {})
    for src, dst in aliases.items():
        if dst not in where:
            raise ValueError(f"{fn}: alias {src!r} -> {dst!r} names no class of target_names")
    mapping = {}
    for i, name in enumerate(source_names):
        dst = aliases.get(name, name)
        if dst in where:
            mapping[i] = where[dst]
    return mapping


def harmonic_mean(scores) -> float:
    """Harmonic mean of per-data-set scores: ``H = n / Σ_i 1/s_i`` (0 if any ``s_i`` is 0).

    scores: a dict ``{dataset: score}`` or a sequence of scores (e.g. mIoUs), each a finite
    number ``>= 0``. Returns a float. Lesson 11 (``lessons/11-generalising.md``).
    """
    fn = "harmonic_mean"
    values = list(scores.values()) if isinstance(scores, Mapping) else list(scores)
    if not values:
        raise ValueError(f"{fn}: scores must not be empty")
    for v in values:
        if not isinstance(v, numbers.Real) and not (hasattr(v, "ndim") and v.ndim == 0):
            raise TypeError(f"{fn}: scores must be numbers, got {v!r}")
    values = [float(v) for v in values]
    if any(math.isnan(v) or math.isinf(v) or v < 0 for v in values):
        raise ValueError(f"{fn}: scores must be finite and >= 0, got {values}")
    if min(values) == 0.0:
        return 0.0
    return len(values) / sum(1.0 / v for v in values)
