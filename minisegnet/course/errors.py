"""What can go wrong with submitted code, as exceptions the grader turns into 0 points.

Every one is an ``AssertionError`` subclass, so pytest reports the test as *failed* (never
as an error of the test suite), and carries a ``category`` the results show:
``wrong`` (a value, dtype or shape differs), ``not implemented``, ``error`` (an exception
in the student's code), ``import`` (the package does not import), ``exit`` (the code exited
the worker), ``crash`` (the worker died: a signal, a segfault), ``timeout``, ``memory``,
``output`` (an answer that is not a plain array of numbers), ``disk`` (more files than the
disk limit), ``grader`` (our side). The results add ``stub`` for a failure whose cause is a
graded file that kept its stub (not submitted, not UTF-8, did not compile).
"""

from __future__ import annotations

__all__ = ["StudentFailure", "StudentError", "StudentTimeout", "StudentCrash",
           "StudentOutputError", "GraderError"]


class StudentFailure(AssertionError):
    """Base class: a test fails because of the submission; ``str()`` is for the student."""

    category = "error"

    def __init__(self, message: str, detail: str = "", category: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        if category is not None:
            self.category = category


class StudentError(StudentFailure):
    """The student's code raised (``detail`` holds its traceback)."""


class StudentTimeout(StudentFailure):
    category = "timeout"


class StudentCrash(StudentFailure):
    category = "crash"


class StudentOutputError(StudentFailure):
    category = "output"


class GraderError(RuntimeError):
    """A fault on the grader's side (a broken bundle, a missing recording)."""
