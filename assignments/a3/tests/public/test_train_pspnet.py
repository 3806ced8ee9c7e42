"""A3 public test: train the small PSPNet on ``context`` with your layers and metrics."""

import pytest

THRESHOLD = 0.55


@pytest.mark.points(3)
@pytest.mark.time_limit(60)
def test_train_small_pspnet_on_context(student):
    """MiniPSPNet trained 120 iterations on 128 64x64 context images reaches val mIoU >= 0.55"""
    got = student.run("train_pspnet", size=64, n_train=128, n_val=32, iterations=120,
                      widths=(8, 16, 24, 32), seed=0)
    miou = float(got["mean_iou"])
    assert miou >= THRESHOLD, (
        f"validation mIoU {miou:.3f} < {THRESHOLD} after 120 iterations (the solution reaches "
        f"about 0.75). Hint: if the other A3 tests pass, check the pyramid pooling module's "
        f"backward (the levels must be containers whose gradients reach x) and that mean_iou "
        f"skips NaN classes; the network also uses your A1 convolution and A2 bilinear resizing")
