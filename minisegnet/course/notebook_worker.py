"""The confined worker of a lecture unit: it runs the student's notebook, then the probes.

``NotebookWorker`` is the ``sandbox.Worker`` of the assignments (same launcher, same box, same
limits and protections) in notebook mode: before the first probe it sends the notebook's code
cells one by one, each with a wall-clock limit (``cell_s``) and all of them within the
notebook's budget (``notebook_s``), and keeps how each one went. A cell that raises, does
not compile or calls ``sys.exit`` fails alone; one that loops, exits the process or runs out
of memory is stopped with the worker, which is started again, re-runs the cells that ran
before (not the offender) and goes on with the next one. When a probe later kills the
worker (a student's function that loops, say), the next probe first gets a fresh worker with
the notebook's successful cells re-run, charged to the same notebook budget.

``log`` holds one outcome per cell: ``status`` (``ok``, ``error``, ``syntax``, ``exit``,
``timeout``, ``crash``, ``memory``, ``not run``) and, for a failure, the exception, its line
in the cell and how long the cell ran. The grader turns it into per-exercise messages.
"""

from __future__ import annotations

import json
import time

from .errors import StudentFailure, StudentTimeout
from .sandbox import Worker

__all__ = ["NotebookWorker", "cell_problem"]


class NotebookWorker(Worker):
    """A ``Worker`` whose probes receive the namespace of the submitted notebook."""

    def __init__(self, root, limits=None, *, cells=(), **kwargs):
        kwargs.pop("module", None)
        super().__init__(root, limits, mode="notebook", module="", **kwargs)
        self.cells = [(int(index), str(source)) for index, source in cells]
        self.log = {}                 # cell index -> outcome
        self.notebook_spent = 0.0
        self.replays = 0
        self._played = None           # the process whose namespace holds the notebook
        self._notebook_broken = None

    # ------------------------------------------------------------ what the harness calls

    def output_mark(self) -> int:
        self.ensure_notebook()        # the notebook's prints are not a test's output
        return super().output_mark()

    def call(self, probe, arrays, params, budget_s):
        self.ensure_notebook()
        return super().call(probe, arrays, params, budget_s)

    def report(self) -> dict:
        return {"cells": [self.log[i] for i, _ in self.cells if i in self.log],
                "seconds": round(self.notebook_spent, 3), "replays": self.replays,
                "budget_s": float(self.limits["notebook_s"])}

    # ------------------------------------------------------------ running the notebook

    def ensure_notebook(self):
        """A live worker whose namespace holds the notebook (run, or re-run after a crash)."""
        if self._notebook_broken is not None:
            b = self._notebook_broken
            raise type(b)(b.message, b.detail, b.category)
        if self._played is not None and self._played is self.proc and self.alive():
            return
        if self.log:
            self.replays += 1
        while True:
            if not self.alive():
                self.start()
            if self._play():
                self._played = self.proc
                return

    def _budget_left(self) -> float:
        return float(self.limits["notebook_s"]) - self.notebook_spent

    def _play(self) -> bool:
        """Run what is due of the notebook on the live worker; ``False`` when a cell ended
        the worker (the caller starts a fresh one and calls again)."""
        for index, source in self.cells:
            seen = self.log.get(index)
            if seen is not None and seen["status"] != "ok":
                continue                                   # failed before: never again
            if self._budget_left() <= 0:
                if seen is not None:                       # a re-run that cannot finish
                    self._notebook_broken = StudentTimeout(
                        f"Your notebook could not be run again after your code stopped the "
                        f"worker: its time budget of {self.limits['notebook_s']:.0f} s is "
                        f"spent.", "", "timeout")
                    raise self._notebook_broken
                self.log[index] = {"index": index, "status": "not run",
                                   "message": f"not run: the notebook's time budget of "
                                              f"{self.limits['notebook_s']:.0f} s was spent"}
                continue
            outcome = self._run_cell(index, source,
                                     min(float(self.limits["cell_s"]), self._budget_left()))
            if seen is not None and outcome["status"] != "ok":
                outcome["message"] += " (when re-run after a crash; it ran the first time)"
            if seen is None or outcome["status"] != "ok":
                self.log[index] = outcome
            if not self.alive():
                return False
        return True

    def _run_cell(self, index: int, source: str, budget_s: float) -> dict:
        started = time.monotonic()
        deadline = started + max(budget_s, 0.0)
        self._counter += 1
        ident = self._counter
        request = json.dumps({"id": ident, "cell": source, "index": index}).encode("utf-8")
        try:
            self._send(request + b"\n", deadline)
            message = self._read_reply(deadline)
            if message.get("id") != ident:
                self.stop()
                message = {"ok": False, "status": "crash", "message": "the worker answered out "
                           "of turn (protocol violation)"}
        except StudentTimeout:
            self.stop()
            message = {"ok": False, "status": "timeout",
                       "message": f"did not finish within {budget_s:.0f} s and was stopped"}
        except StudentFailure as e:
            self.stop()
            status = {"exit": "exit", "memory": "memory"}.get(e.category, "crash")
            words = {"exit": "ended the worker process (os._exit or the like) and was not "
                             "finished",
                     "memory": f"ran over the memory limit ({self.limits['memory_mb']} MiB) "
                               f"and was stopped"}
            message = {"ok": False, "status": status,
                       "message": words.get(status, f"crashed the worker: {e.message}")}
        seconds = time.monotonic() - started
        self.notebook_spent += seconds
        return _outcome(index, message, seconds)


def _outcome(index, message, seconds) -> dict:
    """One cell's outcome from the worker's reply (untrusted: every field is re-made here)."""
    entry = {"index": index, "seconds": round(seconds, 3)}
    if message.get("ok") is True:
        return dict(entry, status="ok")
    kind = str(message.get("type", ""))[:80]
    text = str(message.get("message", ""))[:500]
    line = message.get("line") if isinstance(message.get("line"), int) else None
    where = f" (line {line})" if line else ""
    if "status" in message:
        status, text = message["status"], text
    elif message.get("phase") == "compile":
        status, text = "syntax", f"does not compile{where}: {kind}: {text}"
    elif kind == "SystemExit":
        status, text = "exit", f"called sys.exit ({text}){where}"
    elif kind == "MemoryError":
        status, text = "memory", f"ran out of memory{where}"
    else:
        status, text = "error", f"raised {kind}{where}: {text}"
    return dict(entry, status=status, message=text, type=kind, line=line,
                detail=str(message.get("traceback", ""))[-2000:])


def cell_problem(outcome) -> str:
    """``"cell 12 raised NameError (line 3): ..."`` for a failed cell's outcome."""
    return f"cell {outcome['index']} {outcome.get('message') or outcome['status']}"
