"""The exception a function of the student edition raises until it is written.

The release replaces every graded body by a stub that raises ``NotImplementedError`` with
one line naming the assignment, the function and its file::

    # YOUR CODE HERE (A1)
    raise NotImplementedError("A1: implement im2col in minisegnet/functional/conv_matrix.py "
                              "(see assignments/a1/README.md)")    # one line in the file

and imports this module's ``NotImplementedError`` (a subclass of the built-in one, so
``except NotImplementedError`` and ``pytest.raises`` work as usual) at the top of the
file. It differs from the built-in only in how it is shown: in a notebook, IPython prints
its ``_render_traceback_()``, one line instead of a traceback through the layers that led
to the stub; ``minisegnet`` commands and ``pytest assignments/aN`` print the same line.
"""

from __future__ import annotations

import builtins
import re

__all__ = ["NotImplementedError", "is_stub", "stub_line"]

_MESSAGE = re.compile(r"^(?P<tag>[A-Z][A-Za-z0-9_]*): implement (?P<function>\S+)"
                      r"(?: in (?P<file>\S+))?(?: \(see (?P<readme>[^)]+)\))?$")


class NotImplementedError(builtins.NotImplementedError):
    """A stub of the student edition: ``str()`` says what to write, where, for which
    assignment; ``.function``, ``.file``, ``.assignment`` hold the parts."""

    stub = True

    def __init__(self, message: str = ""):
        super().__init__(message)
        match = _MESSAGE.match(message)
        parts = match.groupdict() if match else {}
        self.assignment = parts.get("tag")
        self.function = parts.get("function")
        self.file = parts.get("file")
        self.readme = parts.get("readme")

    def _render_traceback_(self):
        """What IPython shows instead of the traceback: one line."""
        return [stub_line(self)]


def is_stub(exc) -> bool:
    """Whether ``exc`` is the exception of a stub of the student edition."""
    return getattr(type(exc), "stub", False) is True


def stub_line(exc) -> str:
    """The one line shown for a stub: what is missing, where, and which assignment writes it."""
    function = getattr(exc, "function", None)
    if not function:
        return f"NotImplementedError: {exc}"
    where = f" in {exc.file}" if getattr(exc, "file", None) else ""
    see = f"; see {exc.readme}" if getattr(exc, "readme", None) else ""
    return (f"NotImplementedError: {function}{where} is not written yet: it is part of "
            f"assignment {exc.assignment}{see}")
