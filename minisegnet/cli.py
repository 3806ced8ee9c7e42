"""The ``minisegnet`` command line: ``minisegnet --help`` lists the subcommands.

- ``demo``: the main job: train MiniPSPNet on the ``context`` data set, evaluate, refine
  with the dense CRF, write a figure and the checkpoint (``minisegnet.demo.run_demo``);
- ``ablate``: PSPNet's Table 1 on ``context`` (``minisegnet.demo.run_ablation``);
- ``tour``: a tour of the convolution family (``minisegnet.showcase``);
- ``release``, ``check``, ``grade``: the course's assignments (``minisegnet.course``).

Heavy imports happen inside the handlers, so ``--help`` is instant. In the student edition
a function that is not written yet stops a command with one line naming it, its file and
its assignment (``minisegnet._stubs``), not with a traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _integer_parser(minimum, meaning):
    """An argparse type: an integer of at least ``minimum``, else a clear error."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {meaning} integer, got {text!r}")
        return value

    return parse


_positive_int = _integer_parser(1, "positive")
_seed = _integer_parser(0, "non-negative")


def _threads(text):
    return "auto" if text == "auto" else _positive_int(text)


def _add_common(p, default_out):
    p.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    p.add_argument("--seed", type=_seed, default=0, metavar="N",
                   help="random seed: the same seed gives the same numbers (default 0)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="cpu (NumPy) or gpu (CuPy; needs a CUDA GPU) (default cpu)")
    p.add_argument("--iterations", type=_positive_int, default=None, metavar="N",
                   help="training iterations (demo: 400, 100 with --quick; ablate: 400, 120 "
                        "with --quick)")
    p.add_argument("--threads", type=_threads, default="auto", metavar="N",
                   help="BLAS threads (needs threadpoolctl); default auto: 1 when the machine "
                        "is busy (load average >= 0.5), else the BLAS default")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--out", default=default_out, metavar="DIR",
                   help=f"output folder (default {default_out})")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minisegnet",
        description="Semantic segmentation built from scratch, forward and backward.",
    )
    parser.add_argument("--version", action="version", version=f"minisegnet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="the main job: train a small PSPNet on built-in data, evaluate, refine "
                     "with the dense CRF",
        description="Train MiniPSPNet from scratch on the built-in `context` data set (boats "
                    "on water, cars on road, drawn alike), print per-class IoU and mIoU before "
                    "and after dense-CRF refinement, and write a figure (image | ground truth | "
                    "prediction | refined), the training curves and the checkpoint.")
    _add_common(demo, "minisegnet-out")
    demo.add_argument("--no-crf", action="store_true", help="skip the dense-CRF refinement")

    ablate = commands.add_parser(
        "ablate", help="PSPNet's Table 1 on `context`: FCN baseline vs pyramid pooling variants",
        description="Train the FCN baseline and MiniPSPNet with bins {1} and {1,2,3,6}, average "
                    "and max pooling, with and without dimension reduction and the auxiliary "
                    "loss, all from one seed, and print mIoU and pixel accuracy per row.")
    _add_common(ablate, None)
    ablate.set_defaults(out=None)
    ablate.add_argument("--seeds", type=_positive_int, default=1, metavar="K",
                        help="repeat every row with seeds N..N+K-1 and report mean ± std "
                             "(default 1)")

    tour = commands.add_parser(
        "tour", help="a tour of the convolution family (matrices, receptive fields, a "
                     "gradient check, a timing)")
    tour.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    tour.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    _add_course_commands(commands)
    return parser


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _run(args)
    except NotImplementedError as e:
        from ._stubs import is_stub, stub_line

        if not is_stub(e):
            raise
        print(f"minisegnet {args.command}: {stub_line(e)}", file=sys.stderr)
        return 1
    except SyntaxError as e:    # a library file being written does not compile
        name = e.filename.rsplit("/", 1)[-1] if e.filename else "a file"
        print(f"minisegnet {args.command}: {name} does not compile (line {e.lineno}: {e.msg}): "
              f"{e.filename}", file=sys.stderr)
        return 1


def _run(args) -> int:
    if getattr(args, "course_handler", None) is not None:  # release, check, grade
        return args.course_handler(args)
    if args.command == "tour":
        from .showcase import run_showcase  # keeps --help instant

        return run_showcase(seed=args.seed, quick=args.quick)

    from .demo import GpuUnavailableError, run_ablation, run_demo

    try:
        if args.command == "demo":
            run_demo(quick=args.quick, seed=args.seed, out=args.out, device=args.device,
                     iterations=args.iterations, threads=args.threads,
                     progress=not args.no_progress, crf=not args.no_crf)
        else:
            run_ablation(quick=args.quick, seed=args.seed, seeds=args.seeds, device=args.device,
                         iterations=args.iterations, out=args.out, threads=args.threads,
                         progress=not args.no_progress)
    except GpuUnavailableError as e:
        print(f"minisegnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nminisegnet {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


GRADE_LAYOUTS = """\
SUBMISSIONS may hold, side by side:
  <name>/              one folder per student; the graded files anywhere inside, at their
                       package path (minisegnet/functional/conv.py) or by a unique file name
  <name>.zip           the same, zipped (read in memory: no path in it is ever extracted)
  Gradescope's export  "Download Submissions" of the assignment, unpacked or as its zip:
                       assignment_<id>_export/ with submission_metadata.yml and one
                       submission_<id>/ folder per submission (grades.csv lists submitters)
Anything else (loose files, links, hidden entries) is skipped and listed in the summary
with the reason. Limits per submission: 2000 entries, 24 folder levels, 1 MiB per graded
file (UTF-8, a BOM is fine); a graded file that does not compile keeps its stub and the
tests that need it say so.
"""


def _add_course_commands(commands) -> None:
    """``release``, ``check``, ``grade``: the assignments and their autograder
    (``minisegnet.course``, imported only when one of them runs)."""
    release = commands.add_parser(
        "release", help="build the student edition and the Gradescope grader bundles (instructors)",
        description="Write DIR/student, the edition a class receives for assignment STAGE (the "
                    "solutions of the assignments before it filled in, its own and later "
                    "ones stubbed; public tests with recorded expected values, no hidden "
                    "tests; lecture notebooks with the solution's outputs; a student README), "
                    "and DIR/grader/aN plus DIR/grader/aN.zip (one Gradescope autograder per "
                    "assignment, ready to upload).")
    release.add_argument("--out", required=True, metavar="DIR", help="output folder")
    release.add_argument("--stage", default=None, metavar="aK",
                         help="the assignment the edition is for (default: the first, a1)")
    release.add_argument("--no-render", action="store_true",
                         help="ship the lecture notebooks without outputs (quicker; not for "
                              "students)")
    release.add_argument("--no-cache", action="store_true",
                         help="record and render afresh instead of reusing ~/.cache/minisegnet")
    release.add_argument("--source", default=None, metavar="DIR",
                         help="the solution project (default: the project around the working "
                              "directory)")
    release.add_argument("--force", action="store_true", help="replace an earlier release in DIR")
    release.set_defaults(course_handler=_course("run_release"))

    check = commands.add_parser(
        "check", help="run an assignment's public tests in the isolated runner, with points",
        description="The public tests of an assignment, run on this project's code in the same "
                    "sandboxed worker as the autograder; prints a points table. Exit status: 0 "
                    "every public test passes, 1 some fail, 2 the tests could not run.")
    check.add_argument("assignment", help="a1, a2, ...")
    check.add_argument("--root", default=None, metavar="DIR", help="project folder")
    check.add_argument("--time-limit", type=float, default=None, metavar="S",
                       help="seconds per test (default: the assignment's)")
    check.add_argument("--all", action="store_true",
                       help="list every failure, one line each, the lowest-level function first")
    check.add_argument("--quiet", action="store_true", help="no details of the first failure")
    check.set_defaults(course_handler=_course("run_check"))

    grade = commands.add_parser(
        "grade", help="grade a folder of submissions (folders, zip files or Gradescope's export)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Grade every submission in SUBMISSIONS for one assignment; writes "
                    "OUT/<name>/results.json (Gradescope's format) and log.json, OUT/grades.csv "
                    "and OUT/summary.json|md.",
        epilog=GRADE_LAYOUTS)
    grade.add_argument("assignment", help="a1, a2, ...")
    grade.add_argument("submissions", metavar="SUBMISSIONS",
                       help="a folder of submissions (layouts below)")
    grade.add_argument("-o", "--out", required=True, metavar="OUT")
    grade.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N",
                       help="submissions graded in parallel (default 1)")
    grade.add_argument("--hidden", action="store_true", help="include the hidden tests")
    grade.add_argument("--bundle", default=None, metavar="DIR",
                       help="a grader bundle (grader/aN) or release folder; default: build one "
                            "from the project")
    grade.add_argument("--source", default=None, metavar="DIR",
                       help="the solution project to build the bundle from")
    grade.add_argument("--time-limit", type=float, default=None, metavar="S",
                       help="seconds per test (default: the assignment's)")
    grade.add_argument("--memory-limit", type=int, default=None, metavar="MB",
                       help="worker memory limit (default: the assignment's)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.set_defaults(course_handler=_course("run_grade"))


def _course(name):
    def handler(args):
        from .course import commands  # keeps --help instant

        return getattr(commands, name)(args)

    return handler


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
