"""Generated notebook submissions of unit 03: correct, stubbed, classic mistakes, hostile.

``build(solution, stub, other_unit, only=None)`` takes the instructor's notebook, the
student edition's (stubbed) one and another unit's notebook (as JSON text) and returns
``{name: (kind, payload)}`` (the names in ``only``, when given): ``kind`` ``file`` (a loose
``name.ipynb``), ``folder`` (``name/<file name>``), ``zip`` or ``raw`` (bytes, not a
notebook). Each entry of ``EXPECTED`` says what its exercises must score with ``--hidden``
(public + hidden points per exercise id). ``tests/course/test_unit_grading.py`` grades a
selection (``HOSTILE``); ``bench_grade.py --unit u03`` grades twenty of them.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

FULL = {"03.1": 5, "03.2": 1, "03.3": 5, "03.4": 3, "03.5": 1}
ZERO = dict.fromkeys(FULL, 0)
NAME = "03-conv-as-matrix.ipynb"

# the answers of the classic mistakes, as exercise cells
FLIPPED_KERNEL = '''def conv1d_matrix(w, n, padding=0, stride=1):
    w = np.asarray(w, dtype=float)[::-1]          # a true convolution: the kernel flipped
    k = len(w)
    n_out = (n + 2 * padding - k) // stride + 1
    matrix = np.zeros((n_out, n))
    for row in range(n_out):
        for tap in range(k):
            column = row * stride - padding + tap
            if 0 <= column < n:
                matrix[row, column] = w[tap]
    return matrix
'''
TRANSPOSED_INDEX = '''def im2col_loop(x, k, stride=1, padding=0, dilation=1):
    n, c, h, w = x.shape
    h_out = F.conv_output_size(h, k, stride, padding, dilation)
    w_out = F.conv_output_size(w, k, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((n, c * k * k, h_out * w_out))
    for p in range(h_out):
        for q in range(w_out):
            patch = xp[:, :, p * stride:p * stride + dilation * (k - 1) + 1:dilation,
                       q * stride:q * stride + dilation * (k - 1) + 1:dilation]
            cols[:, :, q * h_out + p] = patch.reshape(n, -1)     # column-major positions
    return cols
'''
OFF_BY_ONE = '''after_conv = ((321 + 6 - 7) // 2, (481 + 6 - 7) // 2)      # the + 1 forgotten
after_pool = ((after_conv[0] + 2 - 3) // 2, (after_conv[1] + 2 - 3) // 2)
aspp_padding = 3 * (5 - 1)                                    # d(k-1), not half of it
'''


def _cells(nb):
    return nb["cells"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _set(cell, text):
    cell["source"] = text


def _exercise_cell(nb, ident):
    return next(c for c in _cells(nb) if c["metadata"].get("minisegnet", {}).get("exercise") == ident
                and "exercise" in c["metadata"].get("tags", []))


def _insert_after(nb, ident, text):
    """A new code cell right after the check cell of exercise ``ident``."""
    cells = _cells(nb)
    at = next(k for k, c in enumerate(cells) if "check" in c["metadata"].get("tags", [])
              and c["metadata"].get("minisegnet", {}).get("exercise") == ident)
    cells.insert(at + 1, {"cell_type": "code", "metadata": {}, "outputs": [],
                          "execution_count": None, "source": text})


def _with_answer(base, ident, text):
    nb = copy.deepcopy(base)
    _set(_exercise_cell(nb, ident), text)
    return nb


def _dump(nb) -> str:
    return json.dumps(nb, indent=1)


def build(solution: str, stub: str, other_unit: str, only=None) -> dict:
    sol, stb = json.loads(solution), json.loads(stub)
    subs = {}
    subs["solution"] = ("folder", _dump(sol))
    subs["stub"] = ("file", _dump(stb))
    subs["renamed_copy"] = ("folder:Copy of 03-conv-as-matrix (1).ipynb", _dump(sol))
    subs["zipped"] = ("zip", _dump(sol))
    subs["flipped_kernel"] = ("file", _dump(_with_answer(sol, "03.1", FLIPPED_KERNEL)))
    subs["transposed_index"] = ("file", _dump(_with_answer(sol, "03.3", TRANSPOSED_INDEX)))
    subs["off_by_one"] = ("file", _dump(_with_answer(sol, "03.4", OFF_BY_ONE)))
    subs["wrong_choice"] = ("file", _dump(_with_answer(sol, "03.5", 'answer_03_5 = "a"\n')))

    broken = _with_answer(sol, "03.1", _source(_exercise_cell(sol, "03.1")).replace(
        "def conv1d_matrix(w, n, padding=0, stride=1):", "def conv1d_matrix(w, n, padding=0, stride=1)"))
    subs["syntax_error"] = ("file", _dump(broken))

    loop = copy.deepcopy(sol)
    _insert_after(loop, "03.2", "while True:\n    pass\n")
    subs["infinite_loop"] = ("file", _dump(loop))

    slow = _with_answer(sol, "03.3", "def im2col_loop(x, k, stride=1, padding=0, dilation=1):\n"
                                     "    while True:\n        pass\n")
    subs["loop_in_answer"] = ("file", _dump(slow))

    exits = copy.deepcopy(sol)
    _insert_after(exits, "03.1", "import sys\nsys.exit('done')\n")
    subs["sys_exit"] = ("file", _dump(exits))

    hard_exit = copy.deepcopy(sol)
    _insert_after(hard_exit, "03.3", "import os\nos._exit(3)\n")
    subs["os_exit"] = ("file", _dump(hard_exit))

    # overwrites check (the name and the module's) and answers only 03.1: 03.1's points only
    cheat = copy.deepcopy(stb)
    _set(_exercise_cell(cheat, "03.1"), _source(_exercise_cell(sol, "03.1")))
    _insert_after(cheat, "03.1",
                  "import minisegnet.course.exercises as _ex\n"
                  "def check(*args):\n    print(args[0], 'all points')\n    return True\n"
                  "_ex.check = check\n")
    subs["overwrites_check"] = ("file", _dump(cheat))

    # patches the probes and the harness it can reach, answers nothing: still nothing
    tamper = copy.deepcopy(stb)
    _insert_after(tamper, "03.1",
                  "import sys, numpy as _np\n"
                  "for _m in list(sys.modules.values()):\n"
                  "    if hasattr(_m, 'choice') and hasattr(_m, 'im2col_loop'):\n"
                  "        _m.number = lambda ns, name: {name: _np.array(64)}\n"
                  "        _m.choice = lambda ns, name, options: {name: _np.array(1)}\n"
                  "nnz_stride2 = 63\n")
    subs["patches_probes"] = ("file", _dump(tamper))

    loud = copy.deepcopy(sol)
    _insert_after(loud, "03.2", "print('x' * (8 << 20))\nfor _ in range(2000):\n    print('y' * 5000)\n")
    subs["megabytes_of_output"] = ("file", _dump(loud))

    hog = copy.deepcopy(sol)
    _insert_after(hog, "03.4", "hog = bytearray(3 << 30)\n")
    subs["memory_hog"] = ("file", _dump(hog))

    # the exercise cells left as stubs, the answers in a last cell of its own: found by name
    late = copy.deepcopy(stb)
    answers = "\n".join(_source(_exercise_cell(sol, i)) for i in sorted(FULL))
    _cells(late).append({"cell_type": "code", "metadata": {}, "outputs": [],
                         "execution_count": None, "source": answers})
    subs["answers_in_another_cell"] = ("file", _dump(late))

    subs["wrong_unit"] = ("file", other_unit)
    subs["not_a_notebook"] = ("raw", b"\x89PNG\r\n\x1a\n not json at all")
    return subs if only is None else {name: subs[name] for name in only}


EXPECTED = {
    "solution": FULL, "renamed_copy": FULL, "zipped": FULL, "stub": ZERO,
    "flipped_kernel": dict(FULL, **{"03.1": 0}),
    "transposed_index": dict(FULL, **{"03.3": 1}),       # rows-order test has H_out == W_out
    "off_by_one": dict(FULL, **{"03.4": 0}),
    "wrong_choice": dict(FULL, **{"03.5": 0}),
    "syntax_error": dict(FULL, **{"03.1": 0}),
    "infinite_loop": FULL, "loop_in_answer": dict(FULL, **{"03.3": 0}),
    "sys_exit": FULL, "os_exit": FULL, "megabytes_of_output": FULL,
    "overwrites_check": dict(ZERO, **{"03.1": 5}),
    "patches_probes": ZERO,
    "wrong_unit": ZERO, "not_a_notebook": ZERO, "memory_hog": FULL,
    "answers_in_another_cell": FULL,
}


def write(folder: Path, subs: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (kind, payload) in subs.items():
        data = payload.encode() if isinstance(payload, str) else payload
        if kind == "file" or kind == "raw":
            (folder / f"{name}.ipynb").write_bytes(data)
        elif kind.startswith("folder"):
            target = folder / name / (kind.split(":", 1)[1] if ":" in kind else NAME)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        elif kind == "zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(f"notebooks/{NAME}", data)
            (folder / f"{name}.zip").write_bytes(buffer.getvalue())
