"""Run skae's benchmarks: dimensionality reduction, outlier detection, the
choice of defaults, speed, scaling up.

One command for all of them (``make bench`` / ``make bench-quick``)::

    python benchmarks/run.py [--quick] [--only reduction,outliers,defaults,...]

Each benchmark is a module ``benchmarks/bench_<name>.py`` with a
``main(argv)`` that accepts ``--quick`` and ``--out``, and writes its tables,
figures and ``meta.json`` to ``benchmarks/results/<name>/``. Progress lines
are printed as they run. A benchmark that fails does not stop the others; the
exit status is then 1.
"""

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BENCHMARKS = ("reduction", "outliers", "defaults", "speed", "scaling_up")


def main(argv=None):
    """Run the selected benchmarks; return the process exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 if every selected benchmark ran, 1 otherwise.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="minutes, not the full run")
    mode.add_argument(
        "--smoke",
        action="store_true",
        help="tiny settings checking the scripts run (used by the tests)",
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help="comma-separated benchmarks to run, among " + ", ".join(BENCHMARKS),
    )
    parser.add_argument(
        "--out-root",
        type=Path,
        default=None,
        help="write to OUT_ROOT/<name>/ instead of benchmarks/results/<name>/",
    )
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; choose among {BENCHMARKS}")

    start = time.perf_counter()
    failed = []
    for name in selected:
        if not (HERE / f"bench_{name}.py").exists():
            print(
                f"=== {name}: skipped, benchmarks/bench_{name}.py not found", flush=True
            )
            continue
        bench_argv = []
        if args.smoke:
            bench_argv.append("--smoke")
        elif args.quick:
            bench_argv.append("--quick")
        if args.out_root is not None:
            bench_argv += ["--out", str(args.out_root / name)]
        print(f"=== {name}: bench_{name}.main({bench_argv})", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench_{name}")
            module.main(bench_argv)
        except Exception:  # report and go on with the other benchmarks
            traceback.print_exc()
            failed.append(name)
            status = "FAILED"
        else:
            status = "done"
        print(
            f"=== {name}: {status} in {time.perf_counter() - t0:.1f}s "
            f"(total {time.perf_counter() - start:.1f}s)",
            flush=True,
        )
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
