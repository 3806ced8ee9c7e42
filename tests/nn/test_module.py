"""The module system: registration, parameter order, gradients, modes, state, dtype, device.

Independent checks: hand-written expected names and values, PyTorch's naming where
``torch`` is importable (in ``test_torch_parity.py``), and arithmetic identities (a second
backward doubles the gradients).
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend, nn


def small_net():
    """Conv → BN → ReLU → Conv(no bias): parameters, buffers and a parameter-free layer."""
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.Conv2d(3, 2, 1, bias=False))


class Affine(nn.Module):
    """A custom module registering things by attribute assignment, in a known order."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, np.float32))
        self.inner = nn.Conv2d(3, 3, 1)
        self.shift = nn.Parameter(np.zeros(3, np.float32))
        self.register_buffer("count", np.zeros((), np.int64))
        self.tail = nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3))


# ------------------------------------------------------------------ registration and order


def test_parameters_in_registration_order_own_first_then_children():
    names = [name for name, _ in Affine().named_parameters()]
    # PyTorch's order: the module's own parameters, then each child's (recursively).
    assert names == ["scale", "shift", "inner.weight", "inner.bias", "tail.1.weight", "tail.1.bias"]


def test_sequential_names_and_buffers():
    net = small_net()
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias",
                                                      "3.weight"]
    assert [n for n, _ in net.named_buffers()] == ["1.running_mean", "1.running_var",
                                                   "1.num_batches_tracked"]
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias",
                                      "1.running_mean", "1.running_var",
                                      "1.num_batches_tracked", "3.weight"]


def test_parameters_are_the_same_objects_on_every_call():
    net = small_net()
    first, second = net.parameters(), net.parameters()
    assert len(first) == 5
    assert all(a is b for a, b in zip(first, second))
    assert first[0] is net[0].weight and first[-1] is net[3].weight


def test_shared_parameter_is_listed_once():
    a, b = nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1)
    b.weight = a.weight
    net = nn.Sequential(a, b)
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_reassigning_attribute_moves_it_between_registries():
    m = Affine()
    m.inner = None                      # no longer a child
    assert "inner" not in dict(m.named_children())
    m.scale = None                      # an optional parameter set to None is skipped
    assert [n for n, _ in m.named_parameters()][:1] == ["shift"]
    with pytest.raises(TypeError, match="scale"):
        m.scale = np.ones(3)            # a parameter slot takes a Parameter or None


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1, np.float32))

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_sequential_indexing():
    net = small_net()
    assert len(net) == 4
    assert isinstance(net[-1], nn.Conv2d) and net[-1] is net[3]
    assert [type(m).__name__ for m in net] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]
    head = net[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is net[0]


def test_repr_prints_the_tree():
    text = repr(small_net())
    assert text.startswith("Sequential(\n  (0): Conv2d(2, 3, kernel_size=(3, 3)")
    assert "(1): BatchNorm2d(3" in text and "(2): ReLU()" in text and "bias=False" in text


# ------------------------------------------------------------------ gradients


def test_grad_is_none_until_backward_and_accumulates_across_backward_calls(rng):
    net = small_net().to(dtype=np.float64)
    assert all(p.grad is None for p in net.parameters())
    x = rng.standard_normal((2, 2, 5, 5))
    y = net(x)
    dy = rng.standard_normal(y.shape)
    dx1 = net.backward(dy)
    once = [p.grad.copy() for p in net.parameters()]
    grad_arrays = [p.grad for p in net.parameters()]
    dx2 = net.backward(dy)             # same caches: the same gradients are added again
    np.testing.assert_allclose(dx2, dx1)
    for p, g, arr in zip(net.parameters(), once, grad_arrays):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-12, atol=1e-12)
        assert p.grad is arr           # += into the same array
    net.zero_grad()
    assert all(p.grad is arr and not p.grad.any() for p, arr in zip(net.parameters(), grad_arrays))
    net.backward(dy)
    for p, g in zip(net.parameters(), once):
        np.testing.assert_allclose(p.grad, g, rtol=1e-12, atol=1e-12)
    net.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in net.parameters())


def test_zero_grad_allocates_zeros_before_any_backward():
    net = small_net()
    net.zero_grad()
    for p in net.parameters():
        assert p.grad.shape == p.data.shape and p.grad.dtype == p.data.dtype and not p.grad.any()


def test_backward_before_forward_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Conv2d(1, 1, 1).backward(np.zeros((1, 1, 2, 2), np.float32))


# ------------------------------------------------------------------ train / eval


def test_train_eval_recursive_and_return_self():
    net = nn.Sequential(small_net(), nn.PyramidPooling(4))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    assert net.train() is net
    assert all(m.training for m in net.modules())


def test_train_and_eval_switch_batchnorm_behaviour(rng):
    bn = nn.BatchNorm2d(2).to(dtype=np.float64)
    x = 3.0 + 2.0 * rng.standard_normal((4, 2, 3, 3))
    y_train = bn(x)
    # Training: batch statistics, so each channel of y has mean 0 and variance ~1.
    np.testing.assert_allclose(y_train.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y_train.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    stats = (bn.running_mean.copy(), bn.running_var.copy())
    y_eval = bn.eval()(x)
    # Eval: running statistics, written out by hand; and they stay unchanged.
    expected = (x - stats[0][None, :, None, None]) / np.sqrt(stats[1][None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y_eval, expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, stats[0])
    assert int(bn.num_batches_tracked) == 1


# ------------------------------------------------------------------ state_dict


def test_state_dict_is_a_snapshot_of_copies():
    net = small_net()
    state = net.state_dict()
    state["0.weight"][...] = 7
    assert not np.any(net[0].weight.data == 7)


def test_state_dict_round_trip_in_place(rng):
    nn.init.seed(1)
    a = small_net()
    a(rng.standard_normal((2, 2, 4, 4)).astype(np.float32))   # move the running statistics
    nn.init.seed(2)
    b = small_net()
    weight_array = b[0].weight.data
    b.load_state_dict(a.state_dict())
    assert b[0].weight.data is weight_array                   # copied in place
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)
    x = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(a.eval()(x), b.eval()(x))


def _snapshot(module):
    return {k: v.copy() for k, v in module.state_dict().items()}


def _assert_unchanged(module, before):
    after = module.state_dict()
    assert list(after) == list(before)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])


def test_load_missing_key_is_key_error_naming_it_and_changes_nothing():
    net = small_net()
    before = _snapshot(net)
    state = {k: v + 1 for k, v in before.items()}
    del state["1.running_var"]
    with pytest.raises(KeyError, match="1.running_var"):
        net.load_state_dict(state)
    _assert_unchanged(net, before)


def test_load_unexpected_key_is_key_error_naming_it_and_changes_nothing():
    net = small_net()
    before = _snapshot(net)
    state = {k: v + 1 for k, v in before.items()}
    state["4.weight"] = np.zeros(3, np.float32)
    with pytest.raises(KeyError, match="4.weight"):
        net.load_state_dict(state)
    _assert_unchanged(net, before)


def test_load_wrong_shape_is_value_error_naming_it_and_changes_nothing():
    net = small_net()
    before = _snapshot(net)
    state = {k: v + 1 for k, v in before.items()}
    # The last key is bad: a load that copied while validating would have changed the rest.
    state["3.weight"] = np.zeros((2, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="3.weight"):
        net.load_state_dict(state)
    _assert_unchanged(net, before)


def test_load_non_strict_reports_missing_and_unexpected():
    net = small_net()
    state = net.state_dict()
    del state["0.bias"]
    state["extra"] = np.zeros(1)
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["0.bias"] and unexpected == ["extra"]


def test_load_casts_to_the_module_dtype():
    net = small_net()
    state = {k: v.astype(np.float64) if v.dtype.kind == "f" else v
             for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    assert net[0].weight.dtype == np.float32


# ------------------------------------------------------------------ dtype and device


def test_to_float64_converts_parameters_grads_and_buffers(rng):
    net = small_net()
    params = net.parameters()
    net(rng.standard_normal((2, 2, 4, 4)).astype(np.float32))
    net.zero_grad()
    assert net.to(dtype=np.float64) is net
    assert all(a is b for a, b in zip(params, net.parameters()))   # the same Parameter objects
    for p in net.parameters():
        assert p.data.dtype == np.float64 and p.grad.dtype == np.float64
    assert net[1].running_mean.dtype == np.float64 and net[1].running_var.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64              # integer buffer kept
    y = net(rng.standard_normal((2, 2, 4, 4)))
    assert y.dtype == np.float64


def test_to_rejects_non_float_dtype_and_unknown_device():
    with pytest.raises(TypeError, match="float32 or float64"):
        small_net().to(dtype=np.int32)
    with pytest.raises(ValueError, match="device"):
        small_net().to(device="tpu")


def test_input_of_another_dtype_is_a_type_error(rng):
    net = small_net()                                   # float32
    with pytest.raises(TypeError, match="float64.*float32"):
        net(rng.standard_normal((1, 2, 4, 4)))
    bn = nn.BatchNorm2d(2).to(dtype=np.float64)
    with pytest.raises(TypeError, match="dtype"):
        bn(rng.standard_normal((2, 2, 3, 3)).astype(np.float32))


def test_channel_mismatch_is_a_value_error(rng):
    with pytest.raises(ValueError, match="3 channels"):
        nn.Conv2d(3, 2, 1)(rng.standard_normal((1, 2, 4, 4)).astype(np.float32))


def every_layer_net():
    """A net touching every layer and container, for the device test."""
    pool = nn.MaxPool2d(2)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), pool,
        nn.Sum(nn.Identity(), nn.ResizeToInput(nn.AdaptiveMaxPool2d(1))), nn.MaxUnpool2d(pool),
        nn.PyramidPooling(4, bins=(1, 2, 3)), nn.ConvTranspose2d(7, 3, 4, 2, 1),  # 4 + 3·(4 // 3)
        nn.AdaptiveAvgPool2d(4), nn.Upsample(scale_factor=2))


def test_to_device_runs_and_matches_cpu(device, rng):
    nn.init.seed(5)
    cpu = every_layer_net().to(dtype=np.float64)
    nn.init.seed(5)
    moved = every_layer_net().to(dtype=np.float64, device=device)
    assert backend.device_of(moved[0].weight.data) == device
    x = rng.standard_normal((2, 2, 5, 5))
    y = moved(backend.to_device(x, device))
    assert backend.device_of(y) == device
    np.testing.assert_allclose(backend.to_numpy(y), cpu(x), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = moved.backward(backend.to_device(dy, device))
    np.testing.assert_allclose(backend.to_numpy(dx), cpu.backward(dy), rtol=1e-9, atol=1e-12)
    for p, q in zip(moved.parameters(), cpu.parameters()):
        np.testing.assert_allclose(backend.to_numpy(p.grad), q.grad, rtol=1e-9, atol=1e-12)
    back = moved.to(device="cpu")
    assert all(isinstance(p.data, np.ndarray) and isinstance(p.grad, np.ndarray)
               for p in back.parameters())
    assert all(isinstance(b, np.ndarray) for b in back.buffers())


# ------------------------------------------------------------------ initialisation


def test_same_seed_same_weights_and_rng_argument():
    nn.init.seed(7)
    a = small_net()
    nn.init.seed(7)
    b = small_net()
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    c, d = nn.Conv2d(2, 3, 3, rng=11), nn.Conv2d(2, 3, 3, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(c.weight.data, d.weight.data)
    assert not np.array_equal(c.weight.data, nn.Conv2d(2, 3, 3, rng=12).weight.data)


def test_kaiming_normal_statistics_and_zero_bias():
    conv = nn.Conv2d(64, 128, 3, rng=0)
    w = conv.weight.data
    assert w.dtype == np.float32 and w.shape == (128, 64, 3, 3)
    std = np.sqrt(2.0 / (64 * 9))                       # ReLU gain sqrt(2), fan_in = C_in·k·k
    assert abs(w.std() / std - 1) < 0.02 and abs(w.mean()) < 0.05 * std
    assert conv.bias.dtype == np.float32 and not conv.bias.data.any()
