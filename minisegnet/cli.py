"""The ``minisegnet`` command line: ``minisegnet --help`` lists the subcommands."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minisegnet",
        description="Semantic segmentation built from scratch, forward and backward.",
    )
    parser.add_argument("--version", action="version", version=f"minisegnet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="the main job: a tour of the convolution family (a training demo comes next)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    return parser


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        from .showcase import run_showcase  # noqa: PLC0415  (keeps --help instant)

        return run_showcase(seed=args.seed, quick=args.quick)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
