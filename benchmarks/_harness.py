"""Shared helpers for the benchmark scripts in this folder.

A benchmark script uses this module in a fixed order, because the BLAS thread count can
only be set through environment variables *before* NumPy is first imported (unless
``threadpoolctl`` is installed, which can change it later):

    import _harness as H

    ARGS = H.parse_args(__doc__)      # reads --threads and sets the env vars; no NumPy yet
    H.use_repo_checkout()             # import minisegnet from this checkout

    import numpy as np                # only now: OpenBLAS reads OPENBLAS_NUM_THREADS here

    torch = H.torch_or_none()         # PyTorch is an optional peer
    H.set_threads(ARGS.threads)       # threadpoolctl (if any) and torch.set_num_threads

This module therefore imports NumPy only inside the functions that need it.

Every script accepts ``--threads N`` (default: the CPUs this process may run on),
``--repeat R``, ``--warmup W``, ``--settle S``, ``--quick`` (a CI smoke test: few repeats) and
``--json PATH`` (also write the results as JSON).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The variables read at load time by the BLAS libraries NumPy may be built against
# (OpenBLAS, MKL) and by the OpenMP runtime PyTorch uses.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

QUICK_REPEAT = 2
QUICK_WARMUP = 1
DEFAULT_SETTLE = 0.1  # seconds; see interleaved_times
# Seconds one timed sample lasts at least: a faster op is called several times per sample.
MIN_SAMPLE = 0.02


# --------------------------------------------------------------------------- arguments


def default_threads() -> int:
    """The number of CPUs this process may run on (``os.cpu_count()`` where unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def make_parser(description: str | None) -> argparse.ArgumentParser:
    """The command-line options every benchmark script shares."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads(),
        help="threads for NumPy's BLAS and for PyTorch alike (default: %(default)s)",
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per case (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default: %(default)s)")
    parser.add_argument(
        "--settle",
        type=float,
        default=DEFAULT_SETTLE,
        help="untimed seconds of running an op before each timed run (default: %(default)s)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test for CI: {QUICK_REPEAT} timed runs, {QUICK_WARMUP} warm-up run",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    return parser


def parse_args(description: str | None, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the shared options and set the thread environment variables.

    Call this before NumPy is imported anywhere in the process.
    """
    args = make_parser(description).parse_args(argv)
    if args.threads < 1:
        raise SystemExit("--threads must be at least 1")
    if args.quick:
        args.repeat, args.warmup = QUICK_REPEAT, QUICK_WARMUP
    if args.repeat < 1 or args.warmup < 0 or args.settle < 0:
        raise SystemExit("--repeat must be at least 1, --warmup and --settle at least 0")
    set_thread_env(args.threads)
    return args


def use_repo_checkout() -> None:
    """Put this checkout's root first on ``sys.path`` so ``import minisegnet`` finds it."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


# --------------------------------------------------------------------------- threads


def set_thread_env(n: int) -> None:
    """Set the thread-count environment variables to ``n``.

    They only take effect for libraries loaded afterwards, so this warns if NumPy is
    already imported and ``threadpoolctl`` (which can still fix it) is not available.
    """
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(n)
    if "numpy" in sys.modules and threadpoolctl_or_none() is None:
        warnings.warn(
            "NumPy was imported before the thread count was set and threadpoolctl is not "
            "installed: NumPy's BLAS may not use the requested number of threads",
            stacklevel=2,
        )


def threadpoolctl_or_none():
    """The ``threadpoolctl`` module, or ``None`` if it is not installed."""
    try:
        import threadpoolctl  # optional
    except ImportError:
        return None
    return threadpoolctl


def torch_or_none():
    """The ``torch`` module, or ``None`` if PyTorch is not installed (it is optional)."""
    try:
        import torch  # optional peer
    except ImportError:
        return None
    return torch


_BLAS_LIMITS = None  # keeps threadpoolctl's limits object alive for the whole run


def set_threads(n: int) -> None:
    """Use ``n`` threads in NumPy's BLAS and in PyTorch (if installed) from here on.

    The BLAS part needs ``threadpoolctl``; without it the environment variables set by
    ``parse_args`` (before NumPy's import) have already done that job.
    """
    global _BLAS_LIMITS
    tpc = threadpoolctl_or_none()
    if tpc is not None:
        _BLAS_LIMITS = tpc.threadpool_limits(limits=n)
    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(n)


def thread_report() -> dict:
    """The thread counts actually in force, as far as they can be read back."""
    report = {"env": {name: os.environ.get(name) for name in THREAD_ENV_VARS}}
    tpc = threadpoolctl_or_none()
    if tpc is not None:
        report["blas"] = [
            {"library": info["internal_api"], "threads": info["num_threads"],
             "kernels": info.get("architecture")}
            for info in tpc.threadpool_info()
            if info.get("user_api") == "blas"
        ]
    torch = torch_or_none()
    if torch is not None:
        report["torch"] = torch.get_num_threads()
    return report


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Summary of repeated wall-clock measurements, in seconds."""

    median: float
    min: float
    iqr: float
    samples: list[float]


def summarize(samples: list[float]) -> Timing:
    """Median, minimum and interquartile range of a list of durations."""
    if len(samples) >= 2:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        iqr = q3 - q1
    else:
        iqr = 0.0
    return Timing(statistics.median(samples), min(samples), iqr, list(samples))


def time_once(fn: Callable[[], object], calls: int = 1) -> float:
    """Seconds one call of ``fn`` takes (``time.perf_counter``), averaged over ``calls``
    calls in a row."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def calls_per_sample(seconds_per_call: float, min_sample: float = MIN_SAMPLE) -> int:
    """How many calls make one timed sample of at least ``min_sample`` seconds."""
    return max(1, math.ceil(min_sample / max(seconds_per_call, 1e-9)))


def median_time(fn: Callable[[], object], repeat: int = 7, warmup: int = 2) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times timed."""
    for _ in range(warmup):
        fn()
    return summarize([time_once(fn) for _ in range(repeat)])


def run_for(fn: Callable[[], object], seconds: float) -> None:
    """Call ``fn`` untimed, at least once, until ``seconds`` have passed."""
    end = time.perf_counter() + seconds
    fn()
    while time.perf_counter() < end:
        fn()


def interleaved_times(
    fns: dict[str, Callable[[], object]],
    repeat: int = 7,
    warmup: int = 2,
    settle: float = DEFAULT_SETTLE,
) -> dict[str, Timing]:
    """Time several functions fairly against each other in one process.

    Each function first gets ``warmup`` untimed calls. Then come ``repeat`` rounds; in each
    round every function is run untimed for ``settle`` seconds and then timed once. The
    order is reversed every other round, so none of them is always first or last, and a
    drift in the machine's speed hits them all alike. One timed sample lasts at least
    ``MIN_SAMPLE`` seconds: an op of a millisecond or two is called that many times in a
    row and their mean is the sample (a single call's time scattered by ±20 % between
    runs of ``bench_conv.py`` on the 2-core development machine).

    Why ``settle``: two libraries' multithreaded kernels run back to back on the same cores
    get in each other's way (one library's worker threads are still spinning when the
    other starts), which makes whichever runs second look slow; on a 2-core machine PyTorch
    measured up to 2x slower that way. Running a function for a moment before timing it
    puts it in the steady state it has in a training loop, as when it runs alone.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    calls = {name: calls_per_sample(time_once(fns[name])) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(repeat):
        order = names if round_no % 2 == 0 else names[::-1]
        for name in order:
            if settle > 0:
                run_for(fns[name], settle)
            samples[name].append(time_once(fns[name], calls[name]))
    return {name: summarize(samples[name]) for name in names}


def gemm_rate(threads: int | None = None, n: int = 2048, repeat: int = 7, warmup: int = 3) -> float:
    """The float32 GEMM rate of NumPy on this machine, in GFLOP/s (median of ``repeat``).

    A ``n x n`` by ``n x n`` matmul is ``2 n^3`` flops. The first few BLAS calls of a
    process can run at half speed (threads and clocks still waking up), hence the
    ``warmup`` calls. ``threads`` is applied for the
    measurement when ``threadpoolctl`` is installed; otherwise the count set through the
    environment before NumPy's import is the one in force.
    """
    import numpy as np  # see the module docstring

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    tpc = threadpoolctl_or_none()
    if tpc is not None and threads is not None:
        with tpc.threadpool_limits(limits=threads, user_api="blas"):
            timing = median_time(lambda: a @ b, repeat=repeat, warmup=warmup)
    else:
        timing = median_time(lambda: a @ b, repeat=repeat, warmup=warmup)
    return 2.0 * n**3 / timing.median / 1e9


# --------------------------------------------------------------------------- checking


def max_rel_error(actual, reference) -> float:
    """``max |actual - reference| / max |reference|``: one number per array, scale-free.

    Dividing by the largest reference magnitude (not element-wise) keeps entries that are
    near zero from blowing the number up. A shape mismatch counts as ``inf``.
    """
    import numpy as np

    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(reference), initial=0.0)), 1e-30)
    return float(np.max(np.abs(actual - reference), initial=0.0)) / scale


# --------------------------------------------------------------------------- reporting


def machine_info(threads: int, gemm_gflops: float) -> dict:
    """What a results file needs to be compared with another one."""
    import numpy as np

    torch = torch_or_none()
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus_available": default_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "threads": threads,
        "thread_report": thread_report(),
        "numpy_gemm_gflops": gemm_gflops,
    }


def print_header(title: str, info: dict) -> None:
    """Print the lines that say under which conditions the table below was measured."""
    print(title)
    print(
        f"  python {info['python']}, numpy {info['numpy']}, "
        f"torch {info['torch'] or 'not installed'}, {info['platform']}"
    )
    print(f"  threads: {info['threads']} (of {info['cpus_available']} CPUs); {_threads_line()}")
    print(f"  NumPy float32 GEMM (2048^3): {info['numpy_gemm_gflops']:.1f} GFLOP/s{_kernels_note()}")
    print()


def _kernels_note() -> str:
    """The BLAS kernels in use (OpenBLAS picks them per CPU, ``OPENBLAS_CORETYPE`` overrides),
    e.g. ``; openblas kernels: Haswell (OPENBLAS_CORETYPE=Haswell)``: an AVX2 kernel on an
    AVX-512 CPU runs GEMMs at about half the speed PyTorch's own kernels may reach."""
    kernels = list(dict.fromkeys(f"{b['library']} kernels: {b['kernels']}"
                                 for b in thread_report().get("blas", []) if b.get("kernels")))
    if not kernels:
        return ""
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return "; " + ", ".join(kernels) + (f" (OPENBLAS_CORETYPE={forced})" if forced else "")


def _threads_line() -> str:
    """A short line with the thread counts read back from the libraries."""
    report = thread_report()
    parts = []
    if "blas" in report:
        parts.append("BLAS " + ", ".join(f"{b['library']}={b['threads']}" for b in report["blas"]))
    else:
        parts.append(f"BLAS via OPENBLAS_NUM_THREADS={report['env']['OPENBLAS_NUM_THREADS']}")
    if "torch" in report:
        parts.append(f"torch={report['torch']}")
    return ", ".join(parts)


def format_value(value, fmt: str) -> str:
    """Format one table cell; ``None`` becomes ``-``."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return format(value, fmt)


def _is_number(value) -> bool:
    """Whether a table cell holds a number (and so is aligned right)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A plain-text table with aligned columns.

    ``columns`` is a list of ``(key, heading, format_spec)``; text columns are aligned
    left, number columns right.
    """
    cells = [[format_value(row.get(key), fmt) for key, _, fmt in columns] for row in rows]
    headings = [heading for _, heading, _ in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headings)]
    is_text = [not any(_is_number(row.get(key)) for row in rows) for key, _, _ in columns]

    def line(values: list[str]) -> str:
        parts = [
            value.ljust(width) if text else value.rjust(width)
            for value, width, text in zip(values, widths, is_text, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headings), rule] + [line(r) for r in cells])


def print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """Print ``format_table(rows, columns)``."""
    print(format_table(rows, columns))


def print_mismatches(rows: list[dict], tolerance: float, note: str = "") -> None:
    """Spell out, per output, the errors of every case whose check read MISMATCH."""
    for row in rows:
        if row.get("check") == "MISMATCH":
            detail = ", ".join(f"{k} {v:.1e}" for k, v in row["errors"].items())
            print(f"MISMATCH {row['name']}: {detail} (tolerance {tolerance:.0e}{note})")


def to_jsonable(value):
    """Turn ``Timing`` objects (and dicts/lists of them) into plain JSON values."""
    if isinstance(value, Timing):
        return asdict(value)
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not valid JSON
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    return value


def write_json(path: str, script: str, info: dict, rows: list[dict]) -> None:
    """Write ``{"script", "machine", "results"}`` to ``path``."""
    payload = {"script": script, "machine": info, "results": rows}
    Path(path).write_text(json.dumps(to_jsonable(payload), indent=2) + "\n")
    print(f"\nresults written to {path}")
