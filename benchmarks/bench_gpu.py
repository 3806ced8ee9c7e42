"""Benchmark minisegnet on CuPy against PyTorch CUDA, forward + backward, on one GPU.

The cases of ``bench_conv.py`` and ``bench_resample.py`` run on CuPy arrays, and the same
step runs with ``torch.nn.functional`` on CUDA tensors in the same process. Every timed call
ends with a device synchronisation, so the figures are wall-clock times of finished work.
Each case is also checked once against PyTorch (max relative error, float32).

    python benchmarks/bench_gpu.py              # needs CuPy and an NVIDIA GPU
    python benchmarks/bench_gpu.py --quick

Without CuPy or a GPU the script says so and exits 0 (it is not a test). The exit status is
1 if any case disagrees with PyTorch. Targets (the GPU issue): conv forward+backward within
2x of PyTorch CUDA (cuDNN); bilinear and pooling within 1.5x.
"""

from __future__ import annotations

import sys

import _harness as H

ARGS = H.parse_args(__doc__)
H.use_repo_checkout()

import numpy as np  # noqa: E402

from minisegnet import backend  # noqa: E402
from minisegnet import functional as F  # noqa: E402

TOLERANCE = 1e-3

# (name, target ratio, builder): each builder returns (minisegnet_step, torch_step, check)
CONV_CASES = [  # n, c_in, c_out, size, kernel, stride, padding, dilation, output_padding
    ("conv", 8, 64, 64, 64, 3, 1, 1, 1, 0),
    ("conv", 2, 3, 64, 224, 7, 2, 3, 1, 0),
    ("conv", 4, 256, 256, 33, 3, 1, 2, 2, 0),
    ("conv", 8, 512, 21, 60, 1, 1, 0, 1, 0),
    ("convT", 4, 21, 21, 16, 4, 2, 1, 1, 0),
    ("convT", 2, 64, 32, 32, 3, 2, 1, 1, 1),
]


def synchronize():
    import cupy

    cupy.cuda.Device().synchronize()


def _torch_cuda():
    torch = H.torch_or_none()
    if torch is None or not torch.cuda.is_available():
        return None
    return torch


def conv_case(torch, case, rng):
    kind, n, c_in, c_out, size, k, stride, padding, dilation, out_pad = case
    transposed = kind == "convT"
    w_shape = (c_in, c_out, k, k) if transposed else (c_out, c_in, k, k)
    x = rng.standard_normal((n, c_in, size, size), dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32) / np.float32((c_in * k * k) ** 0.5)
    b = rng.standard_normal(c_out, dtype=np.float32)
    params = dict(stride=stride, padding=padding, dilation=dilation)
    if transposed:
        forward, backward = F.conv_transpose2d_forward, F.conv_transpose2d_backward
        params["output_padding"] = out_pad
    else:
        forward, backward = F.conv2d_forward, F.conv2d_backward
    gx, gw, gb = (backend.to_device(a, "gpu") for a in (x, w, b))
    y, _ = forward(gx, gw, gb, **params)
    dy = backend.to_device(rng.standard_normal(y.shape, dtype=np.float32), "gpu")

    def mini():
        out, cache = forward(gx, gw, gb, **params)
        return (out, *backward(dy, cache))

    def peer():
        tx, tw, tb = (torch.as_tensor(backend.to_numpy(a), device="cuda").requires_grad_()
                      for a in (gx, gw, gb))
        fn = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
        out = fn(tx, tw, tb, **params)
        out.backward(torch.as_tensor(backend.to_numpy(dy), device="cuda"))
        return out, tx.grad, tw.grad, tb.grad

    name = f"{kind} {n}x{c_in}->{c_out} {size}x{size} k{k} s{stride} p{padding} d{dilation}"
    return name, 2.0, mini, peer


def bilinear_case(torch, align_corners, rng):
    x = backend.to_device(rng.standard_normal((8, 21, 33, 33), dtype=np.float32), "gpu")
    dy = backend.to_device(rng.standard_normal((8, 21, 257, 257), dtype=np.float32), "gpu")

    def mini():
        y, cache = F.bilinear_upsample_forward(x, size=(257, 257), align_corners=align_corners)
        return y, F.bilinear_upsample_backward(dy, cache)

    def peer():
        tx = torch.as_tensor(backend.to_numpy(x), device="cuda").requires_grad_()
        y = torch.nn.functional.interpolate(tx, size=(257, 257), mode="bilinear",
                                            align_corners=align_corners)
        y.backward(torch.as_tensor(backend.to_numpy(dy), device="cuda"))
        return y, tx.grad

    return f"bilinear 8x21 33->257 ac={align_corners}", 1.5, mini, peer


def pool_case(torch, rng):
    values = rng.permutation(8 * 64 * 112 * 112).astype(np.float32).reshape(8, 64, 112, 112)
    x = backend.to_device(values, "gpu")
    dz = backend.to_device(rng.standard_normal(x.shape, dtype=np.float32), "gpu")

    def mini():
        y, indices, pool_cache = F.max_pool2d_forward(x, 2, return_indices=True)
        z, unpool_cache = F.max_unpool2d_forward(y, indices, 2)
        return z, F.max_pool2d_backward(F.max_unpool2d_backward(dz, unpool_cache), pool_cache)

    def peer():
        tx = torch.as_tensor(values, device="cuda").requires_grad_()
        y, indices = torch.nn.functional.max_pool2d(tx, 2, return_indices=True)
        z = torch.nn.functional.max_unpool2d(y, indices, 2)
        z.backward(torch.as_tensor(backend.to_numpy(dz), device="cuda"))
        return z, tx.grad

    return "maxpool+unpool 8x64 112x112 k2", 1.5, mini, peer


def cross_entropy_case(torch, rng):
    logits = rng.standard_normal((8, 21, 256, 256), dtype=np.float32)
    target = rng.integers(0, 21, (8, 256, 256))
    target[rng.random(target.shape) < 0.05] = 255
    g_logits, g_target = backend.to_device(logits, "gpu"), backend.to_device(target, "gpu")

    def mini():
        loss, cache = F.softmax_cross_entropy_forward(g_logits, g_target)
        return loss, F.softmax_cross_entropy_backward(1.0, cache)

    def peer():
        t_logits = torch.as_tensor(logits, device="cuda").requires_grad_()
        loss = torch.nn.functional.cross_entropy(t_logits, torch.as_tensor(target, device="cuda"),
                                                 ignore_index=255)
        loss.backward()
        return loss, t_logits.grad

    return "cross_entropy 8x21 256x256", 1.5, mini, peer


def synced(fn):
    def call():
        result = fn()
        synchronize()
        return result
    return call


def main() -> int:
    if not backend.gpu_available():
        print("bench_gpu: CuPy or an NVIDIA GPU is not available here; nothing to measure.")
        return 0
    torch = _torch_cuda()
    rng = np.random.default_rng(0)
    cases = [conv_case(torch, c, rng) for c in CONV_CASES] if torch else []
    if torch:
        cases += [bilinear_case(torch, ac, rng) for ac in (False, True)]
        cases += [pool_case(torch, rng), cross_entropy_case(torch, rng)]
    else:
        print("PyTorch with CUDA is not installed: minisegnet times only.")
    repeat, warmup = ARGS.repeat, ARGS.warmup  # --quick already lowered them
    rows, failed = [], False
    for name, target, mini, peer in cases:
        mini_out = [backend.to_numpy(a) for a in mini() if a is not None]
        peer_out = [a.detach().cpu().numpy() for a in peer() if a is not None]
        error = max(H.max_rel_error(m, p) for m, p in zip(mini_out, peer_out))
        failed |= error > TOLERANCE
        times = H.interleaved_times({"mini": synced(mini), "peer": synced(peer)},
                                    repeat=repeat, warmup=warmup, settle=0.0)
        ratio = times["mini"].median / times["peer"].median
        rows.append(dict(name=name, mini_ms=times["mini"].median * 1e3,
                         torch_ms=times["peer"].median * 1e3, ratio=ratio, target=f"<= {target}x",
                         verdict="PASS" if ratio <= target else "MISS", max_rel_err=error,
                         check="ok" if error <= TOLERANCE else "WRONG"))
    H.print_table(rows, [("name", "case", ""), ("mini_ms", "minisegnet ms", ".2f"),
                         ("torch_ms", "torch CUDA ms", ".2f"), ("ratio", "mini/torch", ".2f"),
                         ("target", "target", ""), ("verdict", "vs target", ""),
                         ("max_rel_err", "max rel err", ".1e"), ("check", "check", "")])
    if ARGS.json:
        H.write_json(ARGS.json, "bench_gpu.py", {"device": "gpu"}, rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
