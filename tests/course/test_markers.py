"""Solution markers: parsing, the errors that name file and line, stubs, notebooks."""

from __future__ import annotations

import json

import pytest

from minisegnet.course.markers import (
    BEGIN,
    END,
    MarkerError,
    find_regions,
    is_marker_like,
    strip_notebook,
    strip_source,
)

TAGS = {"A1", "A2"}
GOOD = f'''def f(x, y=1):
    """Docstring kept."""
    check(x)
    ### {BEGIN} A1
    z = x + y
    return z
    ### {END} A1


class K:
    def g(self):
        if True:
            ### {BEGIN} A2
            return 2
            ### {END}
'''


def test_regions_tags_functions_and_lines():
    regions = find_regions(GOOD, "m.py", TAGS)
    assert [(r.begin, r.end, r.tag, r.function) for r in regions] == [
        (4, 7, "A1", "f"), (13, 15, "A2", "g")]
    assert regions[0].lines == ("    z = x + y", "    return z")
    assert regions[1].indent == " " * 12


def test_stub_keeps_signature_docstring_and_indentation():
    text, regions = strip_source(GOOD, "m.py", TAGS)
    assert len(regions) == 2
    assert "z = x + y" not in text and "return 2" not in text
    assert '    """Docstring kept."""\n    check(x)\n    # YOUR CODE HERE (A1)\n' in text
    assert ('            raise NotImplementedError("A2: implement K.g in m.py (see '
            'assignments/a2/README.md)")') in text
    namespace = {"check": lambda x: None}
    exec(compile(text, "m.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="A1: implement f"):
        namespace["f"](1)
    assert not any(is_marker_like(line) for line in text.splitlines())


def test_a_staged_edition_fills_in_the_posted_regions_and_imports_the_stub_exception():
    text, regions = strip_source('"""Doc."""\nfrom __future__ import annotations\n' + GOOD,
                                 "pkg/sub/m.py", TAGS, keep={"A1"},
                                 import_line="from .._stubs import NotImplementedError")
    assert len(regions) == 2
    assert "    z = x + y\n    return z\n" in text and "return 2" not in text
    assert "implement K.g in pkg/sub/m.py" in text
    lines = text.splitlines()
    assert lines[2] == "from .._stubs import NotImplementedError"   # after docstring and future
    assert not any(is_marker_like(line) for line in lines)
    filled, _ = strip_source(GOOD, "m.py", TAGS, keep={"A1", "A2"},
                             import_line="from ._stubs import NotImplementedError")
    assert "_stubs" not in filled and "return 2" in filled


@pytest.mark.parametrize("source, message", [
    (f"### {BEGIN} A1\nx = 1\n", "m.py:1: .*has no matching"),
    (f"x = 1\n### {END} A1\n", "m.py:2: .*without a matching"),
    (f"### {BEGIN} A1\n### {BEGIN} A1\n### {END} A1\n", "m.py:2: nested"),
    (f"### {BEGIN} A7\nx = 1\n### {END} A7\n", "m.py:1: unknown assignment tag 'A7'"),
    (f"### {BEGIN} A1\nx = 1\n### {END} A2\n", "m.py:3: .*closes the region"),
    ("x = 1\n# BEGIN SOLUTON A1\n", "m.py:2: malformed"),
    ("x = 1\n### BEGIN HIDDEN TESTS\n", "m.py:2: malformed"),
    (f"### {BEGIN}\nx = 1\n### {END}\n", "m.py:1: .*needs the assignment tag"),
])
def test_bad_markers_name_file_and_line(source, message):
    with pytest.raises(MarkerError, match=message):
        find_regions(source, "m.py", TAGS)


def test_a_region_that_breaks_python_is_an_error():
    source = f"### {BEGIN} A1\nif x:\n    y = 1\n### {END} A1\nelse:\n    y = 2\n"
    with pytest.raises(MarkerError, match="m.py:.*does not compile"):
        strip_source(source, "m.py", TAGS)


def _notebook(cells):
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _cell(source, tags=(), outputs=()):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source,
            "outputs": list(outputs), "execution_count": 3 if outputs else None}


def test_notebook_solution_cells_are_stubbed_and_outputs_dropped():
    text = _notebook([
        _cell(f"a = 1\n### {BEGIN}\nb = 2\n### {END}\nc = 3", ["solution"]),
        _cell("secret = 42", ["solution"]),
        _cell("print(a)", outputs=[{"output_type": "stream", "name": "stdout", "text": "1"}]),
    ])
    new, regions = strip_notebook(text, "a1/a1.ipynb", TAGS, "A1")
    cells = json.loads(new)["cells"]
    assert "".join(cells[0]["source"]) == "a = 1\n# YOUR CODE HERE\nraise NotImplementedError()\nc = 3"
    assert "".join(cells[1]["source"]) == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert cells[2]["outputs"] == [] and cells[2]["execution_count"] is None
    assert [r.tag for r in regions] == ["A1", "A1"]
    assert strip_notebook(text, "a1/a1.ipynb", TAGS, "A1")[0] == new  # deterministic


def test_notebook_region_outside_a_solution_cell_is_an_error():
    text = _notebook([_cell(f"### {BEGIN}\nb = 2\n### {END}")])
    with pytest.raises(MarkerError, match="a1.ipynb:cell 1: .*tagged neither 'solution' nor 'exercise'"):
        strip_notebook(text, "a1.ipynb", TAGS, "A1")
