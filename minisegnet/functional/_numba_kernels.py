"""Numba kernels for the CPU loops that vectorise badly (``numba`` is imported lazily).

Each kernel has a vectorised NumPy/CuPy twin in the op's own module: the twin runs on
CuPy arrays and is tested against the kernel on the CPU.
"""

from __future__ import annotations

import functools

# Below this many input values a thread team costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 16


@functools.cache
def max_pool_kernel(parallel: bool):
    """Compile (once, cached on disk) the max-pool kernel: max and argmax in one pass.

    ``parallel`` splits the ``N·C`` planes over threads; small inputs run serially.
    """
    import numba  # noqa: PLC0415  (lazy: only the CPU path needs it)

    @numba.njit(parallel=parallel, cache=True)
    def kernel(x, kernel_size, stride, padding, y, indices):
        n, c, h, w = x.shape
        _, _, out_h, out_w = y.shape
        for plane in numba.prange(n * c):
            image, channel = plane // c, plane % c
            for p in range(out_h):
                for q in range(out_w):
                    best = x[image, channel, 0, 0]
                    best_index = -1
                    for i in range(kernel_size[0]):
                        row = p * stride[0] - padding[0] + i
                        if row < 0 or row >= h:
                            continue
                        for j in range(kernel_size[1]):
                            col = q * stride[1] - padding[1] + j
                            if col < 0 or col >= w:
                                continue
                            value = x[image, channel, row, col]
                            # strict '>' keeps the first maximum in row-major order
                            if best_index < 0 or value > best:
                                best = value
                                best_index = row * w + col
                    y[image, channel, p, q] = best
                    indices[image, channel, p, q] = best_index

    return kernel
