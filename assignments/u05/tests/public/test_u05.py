"""Unit 05, public tests of the notebook's exercises (what ``check`` runs)."""

import numpy as np
import pytest

FLAT = ("flat position i of the (H_out, W_out) output plane is row i // W_out, column "
        "i % W_out")


def pool_indices(a, k, stride, padding=0):
    """Max pooling of (N, C, H, W) with PyTorch's flat argmax indices (the first maximum of a
    window wins), by loops: the inputs of the unpooling tests."""
    n, c, h, w = a.shape
    h_out, w_out = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    values = np.full((n, c, h_out, w_out), -np.inf)
    indices = np.zeros((n, c, h_out, w_out), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for p in range(h_out):
                for q in range(w_out):
                    for i in range(max(p * stride - padding, 0), min(p * stride - padding + k, h)):
                        for j in range(max(q * stride - padding, 0), min(q * stride - padding + k, w)):
                            if a[b, ch, i, j] > values[b, ch, p, q]:
                                values[b, ch, p, q], indices[b, ch, p, q] = a[b, ch, i, j], i * w + j
    return values, indices


@pytest.mark.exercise("05.1")
@pytest.mark.points(1)
def test_max_unpool_loop_lecture_example(check):
    """the lecture's 4x4 example: [[1, 2], [3, 4]] back to the winners of a 2x2 pooling"""
    indices = np.array([[[[5, 2], [12, 15]]]])
    check("max_unpool_loop", x=np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), indices=indices,
          output_size=(4, 4),
          hint="every value goes to its own position, everything else stays zero; " + FLAT)


@pytest.mark.exercise("05.1")
@pytest.mark.points(1)
def test_max_unpool_loop_wide_plane(check, data):
    """two images, three channels, a 6x10 output plane (wider than tall)"""
    _, indices = pool_indices(data.distinct((2, 3, 6, 10), seed=511), 2, 2)
    check("max_unpool_loop", x=data.uniform((2, 3, 3, 5), seed=512), indices=indices,
          output_size=(6, 10),
          hint=FLAT + " (dividing by H_out swaps rows and columns on a non-square plane); "
               "loop over images and channels too")


@pytest.mark.exercise("05.1")
@pytest.mark.points(1)
def test_max_unpool_loop_odd_output_size(check, data):
    """a 7x5 map pooled 2x2 (3x2 values) goes back to 7x5, not 6x4"""
    _, indices = pool_indices(data.distinct((1, 2, 7, 5), seed=513), 2, 2)
    check("max_unpool_loop", x=data.uniform((1, 2, 3, 2), seed=514), indices=indices,
          output_size=(7, 5),
          hint="the output has the requested output_size (the pooled map's own size); the "
               "indices are positions in THAT plane: " + FLAT)


@pytest.mark.exercise("05.2")
@pytest.mark.points(1)
def test_middle_gradient(check):
    """kernel 3, stride 1, padding 1: the gradient of the middle pixel"""
    check("number", name="middle_gradient", secret=True,
          hint="with stride 1 and padding 1 every 3x3 window whose centre is within one pixel "
               "of the peak contains it")


@pytest.mark.exercise("05.2")
@pytest.mark.points(1)
def test_strided_gradient(check):
    """kernel 3, stride 2, padding 1: the gradient of pixel (1, 1)"""
    check("number", name="strided_gradient", secret=True,
          hint="with stride 2 and padding 1 the windows cover rows -1..1, 1..3 and 3..5")


ALIGN = ("align_corners=False: r = (i + 0.5) * H / H_out - 0.5, clamped at 0 (the lecture's "
         "table repeats 1.00 at the corner); align_corners=True: r = i * (H - 1) / (H_out - 1)")


@pytest.mark.exercise("05.3")
@pytest.mark.points(1)
def test_bilinear_loop_lecture_table(check):
    """the lecture's 2x2 -> 4x4 table, align_corners=False"""
    check("bilinear_upsample_loop", x=np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), size=(4, 4),
          align_corners=False,
          hint=ALIGN + "; the weight of row floor(r) is 1 - (r - floor(r)), of the next row "
                       "r - floor(r)")


@pytest.mark.exercise("05.3")
@pytest.mark.points(1)
def test_bilinear_loop_align_corners(check):
    """2x2 -> 4x4 with align_corners=True: the corners are copied"""
    check("bilinear_upsample_loop", x=np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), size=(4, 4),
          align_corners=True,
          hint=ALIGN + "; the last output pixel sits exactly on the last input pixel: clamp "
                       "floor(r) + 1 to H - 1")


@pytest.mark.exercise("05.3")
@pytest.mark.points(1)
def test_bilinear_loop_non_square(check, data):
    """two images, two channels, 3x5 -> 7x8, both conventions"""
    for align_corners in (False, True):
        check("bilinear_upsample_loop", x=data.uniform((2, 2, 3, 5), seed=531), size=(7, 8),
              align_corners=align_corners,
              hint="rows use H and H_out, columns W and W_out; " + ALIGN)


@pytest.mark.exercise("05.4")
@pytest.mark.points(1)
def test_least_gradient(check):
    """which input pixels get the least gradient"""
    check("choice", name="answer_05_4", options="abcd", secret=True)


@pytest.mark.exercise("05.5")
@pytest.mark.points(1)
def test_row_align_corners_false(check):
    """row 2 of the 3 -> 7 matrix, align_corners=False"""
    check("rounded", name="row_false", secret=True,
          hint="s = (i + 0.5) * in / out - 0.5 = 4/7: pixel 0 gets 1 - s, pixel 1 gets s, "
               "pixel 2 gets 0; three numbers")


@pytest.mark.exercise("05.5")
@pytest.mark.points(1)
def test_row_align_corners_true(check):
    """row 2 of the 3 -> 7 matrix, align_corners=True"""
    check("rounded", name="row_true", secret=True,
          hint="s = i * (in - 1) / (out - 1) = 2/3: pixel 0 gets 1 - s, pixel 1 gets s, "
               "pixel 2 gets 0; three numbers")


@pytest.mark.exercise("05.6")
@pytest.mark.points(2)
def test_roi_align_on_the_linear_image(check):
    """RoIAlign of the box (0, 0)-(4, 4) on x[i, j] = 4i + j, 2x2 bins"""
    check("rounded", name="roi_linear", secret=True,
          hint="a 2x2 array: bin (a, b) averages 4i + j over its samples; aligned=True "
               "samples the first bin at positions 0 and 1, the second at 2 and 3")
