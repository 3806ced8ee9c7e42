"""The course machinery: solution markers, the release, and an isolated autograder.

Nothing in the library imports this package, and this package imports nothing of the
library: it knows ``minisegnet`` only as files to rewrite and tests to run. Its modules
import each other relatively, so the grader can load a private copy of it (as
``_msn_course``) in a process that never imports a submission.

One source of truth
    The graded bodies in ``minisegnet/`` sit between nbgrader-style markers tagged with the
    assignment (``### BEGIN SOLUTION A1`` ... ``### END SOLUTION A1``, ``markers.py``). Each
    ``assignments/aN/`` holds ``assignment.json`` (files students submit, limits, point
    totals), a README (task, rules, points table), a guiding notebook ``aN.ipynb`` (stored
    without outputs; cells tagged ``solution`` are stubbed on release), ``tests/probes.py``,
    ``tests/public/`` and ``tests/hidden/``. Adding an assignment is adding markers and such
    a folder: nothing here names A1 or A2.

How the parent grades without importing student code (``grading.py``, ``plugin.py``)
    A test never calls the library directly: it asks for a *probe* by name
    (``check("conv2d", x=x, w=w, dy=dy)``), a few lines in ``probes.py`` that call the
    functions under test and return named arrays. In the grader the trusted pytest process
    (``python -I``, ``--noconftest``, plugin auto-loading off, the tests taken from the
    grader bundle) sends the probe name, plain parameters (JSON) and input arrays (``.npz``)
    to a worker process; the worker runs the probe on the student's package (the module
    named by ``assignment.json``'s ``module``, by default ``minisegnet.functional``, is what
    a probe receives) and writes the
    outputs as ``.npz``. The parent reads them back without pickles, as fresh base
    ``ndarray`` objects (``npzio.py``), checks names, dtypes and shapes, then compares values
    with the expected outputs it computes itself. Patching NumPy, pytest or builtins, an
    ``ndarray`` subclass or an object whose ``__eq__`` is always true, reading the caller's
    frame: all of that happens in the worker, which never holds an expected value, and none
    of it survives the trip through ``.npz``.

Expected values
    Public tests: recorded from the solution at release (``tests/public/expected.json`` and
    ``.npz``, keyed by test and call, checked against a digest of the inputs), shipped to
    students and used identically by ``pytest assignments/aN``, ``minisegnet check`` and the
    grader, so check and grade agree. Hidden tests: computed live in the trusted process by
    the reference solution held in the grader bundle. Inputs come from ``data.py``
    (integer hashing, exact scaling): the same bits on every machine.

The worker (``sandbox.py``, ``_worker.py``)
    Each submission gets a box (``sandbox.Box``): a user id of its own where the grader runs
    as root (leased under a lock, so concurrent submissions never share one), cgroups
    (memory, pids and CPU for all its processes together, and a kill switch) where the
    grader may create them, and fresh mount, PID and network namespaces from util-linux
    ``unshare`` where the kernel allows. A trusted launcher (``_worker.py``, run from the
    grader's own copy, PID 1 of those namespaces) joins the cgroups, mounts a size-capped
    tmpfs as a fresh home per start, makes the package folder read-only, hides the grader's
    folders, and forks the worker, which before any submitted byte runs lowers its rlimits,
    drops to the leased uid (no capabilities, ``no_new_privs``), installs a seccomp filter
    (AF_UNIX sockets only) and a Landlock ruleset (the system and standard libraries and
    the dependency folders readable, ``site-packages`` only listable, its home writable;
    TCP, outside signals and abstract sockets closed). Inputs and outputs travel over pipes
    as ``.npz`` bytes: the parent never opens a path the worker controls. Each test has a
    wall-clock budget for the whole call; all start-ups of a submission share one budget; a
    crash, an exit, a timeout or a memory error fails that test only, and a fresh worker
    serves the next one. At the end every process of the submission is killed (cgroup,
    namespace, uid). Where a mechanism is missing the next one down holds, and the log says
    which (``sandbox.sandbox_summary``). ``grade`` refuses to run where an installed
    ``minisegnet`` with solution bodies would be readable by the worker.

Points
    Every test carries ``@pytest.mark.points(n)`` and is all or nothing; the public and the
    hidden totals must match ``assignment.json`` (the release checks). A test may carry
    ``@pytest.mark.time_limit(seconds)`` to override the assignment's ``time_s``. The manifest lists
    every test with id, name, points, visibility (``visible`` for public,
    ``after_due_date`` for hidden) and number (``1.k`` public, ``2.k`` hidden); results hold
    every manifest test exactly once, 0 points for anything but a pass (including a test
    that never ran), the score is their sum and the maximum the manifest total.

The student edition's own tests
    Of ``tests/``, only the allow list in ``assignments/course.json`` ships (tests that touch
    no graded function and no oracle such as ``tests/reference.py``); the release rejects an
    allowed test that names a graded function or imports an oracle, and the course's own
    tests run the shipped ones on the stubs. Everything else in ``tests/`` may exercise graded
    code through layers and models and stays with the instructor.

Staged editions (``release.py``, ``staging.py``)
    ``minisegnet release --stage aK`` writes the edition a class receives for aK: the
    regions of the assignments before aK filled in (their posted solutions, markers removed),
    the others stubbed. A stub raises ``minisegnet._stubs.NotImplementedError`` with one line
    naming the function, its file and its assignment, which is all a notebook
    (``_render_traceback_``), ``minisegnet`` commands and ``pytest assignments/aN`` show of
    it. The grader bundle of aN holds the package of the aN edition, and its manifest lists
    the functions of earlier assignments (``posted``): in a submitted file those are
    replaced by the posted solution before grading, so an earlier mistake never costs points
    again. A function with regions of two assignments is a release error.

What the student edition reads (``notebooks.py``, ``edition.py``)
    The lecture notebooks ship with their outputs, rendered by running each one on a solved
    edition (the shipped files, every region filled in); the outputs of cells tagged
    ``exercise`` or ``solution`` are left out. In that run each region's BEGIN line calls a
    recorder, so the release also learns which assignments' code each notebook runs (its
    "needs": the lessons index and the student README show it). The edition gets a README of
    its own: set-up, ``minisegnet check aK``, the lessons with their needs, the assignments,
    how to submit, what the tools do. Recordings and renderings are cached per user.

``check`` (``commands.py``) never leaves a student stuck: a missing pytest is named with the
command that installs it, a file that does not compile marks the tests with the file, line
and reason, failures are listed lowest-level function first (``--all``: one line each), and
the exit status is 0 (all public points), 1 (some fail) or 2 (the tests could not run).

Entry points: ``release.release`` (``minisegnet release``), ``commands.run_check`` and
``grading.check_project`` (``minisegnet check``), ``grading.grade_batch`` (``minisegnet
grade``), ``gradescope.main`` (``run_autograder``).
"""
