"""Unit 08 (encoder-decoder designs): classic wrong answers and independent computations.

Read by ``tests/course/test_units.py``. ``MISTAKES``: ``(exercise id, what the mistake is,
the exercise cell's replacement source)``; each must lose points in the public check of its
exercise. ``INDEPENDENT``: answer name -> a function computing the instructor's answer
another way (the library's layers run and measured, not the notebook's formulas).
"""

import functools

import numpy as np

from minisegnet import functional as F
from minisegnet import models, nn

_CROP = '''
def crop_and_concat(skip, up):
    h, w = up.shape[2:]
    top = (skip.shape[2] - h) // 2
    left = (skip.shape[3] - w) // 2
    cropped = skip[:, :, top:top + h, left:left + w]
    return np.concatenate([cropped, up], axis=1)
'''


def _crop(old, new):
    assert old in _CROP, old
    return _CROP.replace(old, new)


MISTAKES = [
    ("08.1", "the top-left corner kept instead of the centre",
     _crop("cropped = skip[:, :, top:top + h, left:left + w]", "cropped = skip[:, :, :h, :w]")),
    ("08.1", "the upsampled map first in the concatenation",
     _crop("np.concatenate([cropped, up], axis=1)", "np.concatenate([up, cropped], axis=1)")),
    ("08.1", "an odd margin rounded up (the extra row cut at the top)",
     _crop("top = (skip.shape[2] - h) // 2\n    left = (skip.shape[3] - w) // 2",
           "top = (skip.shape[2] - h + 1) // 2\n    left = (skip.shape[3] - w + 1) // 2")),
    ("08.1", "rows and columns swapped (the width's margin used for the rows)",
     _crop("top = (skip.shape[2] - h) // 2\n    left = (skip.shape[3] - w) // 2",
           "top = (skip.shape[3] - w) // 2\n    left = (skip.shape[2] - h) // 2")),
    ("08.2", "the total crop instead of the crop per side",
     "unet_output = 388\nskip_crops = (176, 80, 32, 8)\n"),
    ("08.2", "padded convolutions assumed", "unet_output = 572\nskip_crops = (0, 0, 0, 0)\n"),
    ("08.3", "the 9 taps of the 3x3 kernel forgotten", "weights = 512 * 128 + 128 * 128\n"),
    ("08.4", "every layer reading the block's input only",
     "channels_out = 112\nblock_weights = 4 * 9 * 48 * 16\n"),
    ("08.5", "indices counted per input pixel, not per pooled output",
     "skip_bytes = 524288\nindex_bytes = 2 * 16 * 64 * 64 * 8\npacked_bytes = 2 * 16 * 64 * 64 // 4\n"),
    ("08.6", "memory taken to grow with the side", 'answer_08_6 = "a"\n'),
]


@functools.lru_cache(maxsize=1)
def _unpadded_unet():
    """A one-channel unpadded U-Net run on a 572x572 tile with the library's layers: the
    output side and the measured margins of the four skips."""
    def convs(x):
        w = np.ones((1, 1, 3, 3))
        return F.conv2d_forward(F.conv2d_forward(x, w)[0], w)[0]

    x, skips = np.zeros((1, 1, 572, 572)), []
    for _ in range(4):
        x = convs(x)
        skips.append(x.shape[-1])
        x = F.max_pool2d_forward(x, 2, 2)[0]
    x = convs(x)
    margins = []
    for skip in reversed(skips):
        x = F.conv_transpose2d_forward(x, np.ones((1, 1, 2, 2)), stride=2)[0]
        margins.append(skip - x.shape[-1])
        x = convs(x)
    return x.shape[-1], tuple(m // 2 for m in reversed(margins))


def _ladder_weights():
    return nn.Conv2d(512, 128, 1).weight.size + nn.Conv2d(128, 128, 3, padding=1).weight.size


@functools.lru_cache(maxsize=1)
def _dense_block():
    layers = []
    c = 48
    for _ in range(4):
        layers.append(nn.Concat(nn.Identity(), nn.Sequential(
            nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, 16, 3, padding=1))))
        c += 16
    block = nn.Sequential(*layers)
    out = block(np.zeros((1, 48, 4, 4), np.float32))
    weights = sum(layer[1][2].weight.size for layer in block)
    return out.shape[1], weights


@functools.lru_cache(maxsize=1)
def _level_one_bytes():
    nn.init.seed(0)
    unet = models.UNet(num_classes=5, in_channels=3, widths=(16, 32, 64))
    unet.train()
    x = np.zeros((2, 3, 64, 64), np.float32)
    e1 = unet.enc1(x)
    unet.pool1(e1)
    indices = unet.pool1.indices
    return e1.nbytes, indices.nbytes, indices.size * 2 // 8


def _memory_choice():
    """'b' when a U-Net's caches at 128x128 are four times those at 64x64 (to 1 %)."""
    def kept(side):
        nn.init.seed(0)
        unet = models.UNet(num_classes=5, in_channels=3, widths=(16, 32, 64))
        unet.train()
        unet(np.zeros((1, 3, side, side), np.float32))
        params = {id(p.data) for p in unet.parameters()}
        total = 0
        for _, module in unet.named_modules():
            cache = module.__dict__.get("_cache")
            values = cache._asdict().values() if hasattr(cache, "_asdict") else [cache]
            total += sum(v.nbytes for v in values if isinstance(v, np.ndarray) and id(v) not in params)
        return total

    ratio = kept(128) / kept(64)
    return {2: "a", 4: "b", 8: "c", 16: "d"}[int(round(ratio))]


INDEPENDENT = {
    "unet_output": lambda: _unpadded_unet()[0],
    "skip_crops": lambda: _unpadded_unet()[1],
    "weights": _ladder_weights,
    "channels_out": lambda: _dense_block()[0],
    "block_weights": lambda: _dense_block()[1],
    "skip_bytes": lambda: _level_one_bytes()[0],
    "index_bytes": lambda: _level_one_bytes()[1],
    "packed_bytes": lambda: _level_one_bytes()[2],
    "answer_08_6": _memory_choice,
}
