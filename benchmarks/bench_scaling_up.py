"""Scaling up: partial_fit over blocks, two processes, and a memory map.

Three measurements, each written to ``--out`` (default
``benchmarks/results/scaling_up``) with a ``README.md`` and ``meta.json``:

- ``partial_fit.csv``: throughput (training rows per CPU second) of ``fit``
  for some epochs, against as many passes of ``partial_fit`` over the same
  data cut into blocks, and the final training loss of each: the cost of
  training in chunks.
- ``processes.csv``: ``fit`` in one process against two processes started by
  ``torchrun`` training through an ``accelerate.Accelerator`` (gloo, CPU),
  at the same global batch size; wall time of the fit. On a machine with
  two CPU cores, two processes also compete for the cores.
- ``memmap.csv``: ``fit`` then ``score_samples`` from a memory-mapped file of
  ``--memmap-gb`` gigabytes, in a fresh process each, for several
  ``working_memory`` budgets: peak resident memory (``VmHWM``), and the
  peaks of its anonymous and file-backed parts, against the file's size.

Run ``python benchmarks/bench_scaling_up.py`` (full: minutes, and a 2 GB
file in the system's temporary folder), ``--quick`` or ``--smoke``.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

NAME = "scaling_up"
HERE = Path(__file__).resolve()

SETTINGS = {
    "full": {
        "rows": 20_000,
        "epochs": 5,
        "blocks": (1, 5, 20),
        "reps": 3,
        "process_rows": 20_000,
        "process_epochs": 5,
        "memmap_gb": 2.0,
        "working_memory": (1024, 256),
    },
    "quick": {
        "rows": 5_000,
        "epochs": 2,
        "blocks": (1, 10),
        "reps": 1,
        "process_rows": 5_000,
        "process_epochs": 2,
        "memmap_gb": 0.25,
        "working_memory": (64,),
    },
    "smoke": {
        "rows": 1_000,
        "epochs": 1,
        "blocks": (2,),
        "reps": 1,
        "process_rows": 0,
        "process_epochs": 1,
        "memmap_gb": 0.02,
        "working_memory": (4,),
    },
}
N_FEATURES = 64
NETWORK = {
    "n_components": 8,
    "architecture": "mlp",
    "hidden_layer_sizes": (64,),
    "batch_size": 256,
    "early_stopping": False,
    "scaling": "standard",
}


def tabular(n_samples, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 8)) @ rng.normal(size=(8, N_FEATURES))
    return (X + 0.1 * rng.normal(size=X.shape)).astype(np.float32)


# ----------------------------------------------------------------------
# partial_fit against fit
# ----------------------------------------------------------------------
def bench_partial_fit(settings, log):
    from skae import AutoencoderTransformer

    X = tabular(settings["rows"])
    epochs = settings["epochs"]
    rows = []
    # Untimed: the first fit of a process loads parts of torch.
    AutoencoderTransformer(**NETWORK, max_iter=1).fit(X[:1000])
    for n_blocks in ("fit", *settings["blocks"]):
        cpu_times, losses = [], []
        for rep in range(settings["reps"]):
            est = AutoencoderTransformer(**NETWORK, max_iter=epochs, random_state=rep)
            start = time.process_time()
            if n_blocks == "fit":
                est.set_params(n_iter_no_change=epochs + 1, tol=0).fit(X)
            else:
                for _ in range(epochs):
                    for block in np.array_split(X, n_blocks):
                        est.partial_fit(block)
            cpu_times.append(time.process_time() - start)
            losses.append(float(-est.score(X)))
        row = {
            "method": "fit" if n_blocks == "fit" else f"partial_fit, {n_blocks} blocks",
            "n_samples": len(X),
            "epochs": epochs,
            "cpu_s": float(np.median(cpu_times)),
            "rows_per_cpu_s": len(X) * epochs / float(np.median(cpu_times)),
            "training_mse": float(np.mean(losses)),
        }
        rows.append(row)
        log(f"{row['method']}: {row['rows_per_cpu_s']:.0f} rows/s")
    fit_speed = rows[0]["rows_per_cpu_s"]
    for row in rows:
        row["speed_vs_fit"] = row["rows_per_cpu_s"] / fit_speed
    return rows


# ----------------------------------------------------------------------
# Two processes through accelerate
# ----------------------------------------------------------------------
def worker(out_path, n_rows, epochs, batch_size):
    """Fit in this process (under torchrun, through accelerate, or alone)."""
    import torch

    from skae import AutoencoderTransformer

    torch.set_num_threads(1)
    X = tabular(n_rows)
    params = {**NETWORK, "batch_size": batch_size, "max_iter": epochs}
    params.update(n_iter_no_change=epochs + 1, tol=0, random_state=0)
    accelerator = None
    if "WORLD_SIZE" in os.environ:
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=True)
        accelerator.wait_for_everyone()
    start = time.perf_counter()
    est = AutoencoderTransformer(**params, accelerator=accelerator).fit(X)
    wall = time.perf_counter() - start
    if accelerator is None or accelerator.is_main_process:
        result = {"wall_s": wall, "training_mse": float(-est.score(X))}
        Path(out_path).write_text(json.dumps(result))


def bench_processes(settings, log):
    if not settings["process_rows"]:
        return []
    try:
        import accelerate  # noqa: F401
    except ImportError:
        log("processes: skipped, accelerate is not installed")
        return []
    rows = []
    n_rows, epochs = settings["process_rows"], settings["process_epochs"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as folder:
        for label, n_procs in (("one process", 1), ("two processes", 2)):
            out = Path(folder) / f"{n_procs}.json"
            # The same global batch: 256 rows per step, shared by the processes.
            batch = NETWORK["batch_size"] // n_procs
            args = [str(HERE), "--worker", str(out), str(n_rows), str(epochs)]
            args.append(str(batch))
            if n_procs > 1:
                command = [
                    sys.executable,
                    "-m",
                    "torch.distributed.run",
                    "--standalone",
                    "--nproc_per_node",
                    str(n_procs),
                    *args,
                ]
            else:
                command = [sys.executable, *args]
            subprocess.run(command, env=env, check=True, capture_output=True)
            result = json.loads(out.read_text())
            rows.append(
                {
                    "setting": label,
                    "processes": n_procs,
                    "n_samples": n_rows,
                    "epochs": epochs,
                    "global_batch": NETWORK["batch_size"],
                    **result,
                }
            )
            log(f"{label}: fit {result['wall_s']:.2f} s wall")
    rows[1]["wall_vs_one_process"] = rows[1]["wall_s"] / rows[0]["wall_s"]
    return rows


# ----------------------------------------------------------------------
# Out of core: a memory map
# ----------------------------------------------------------------------
def _status_mb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memmap_child(path, n_rows, working_memory):
    """Fit and score from the memory map at ``path``; print the peaks."""
    import sklearn
    import torch

    from skae import AutoencoderOutlierDetector

    torch.set_num_threads(1)
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, N_FEATURES))
    # Warm up on 1000 rows, so that library code mapped on first use does
    # not count, then drop those pages again.
    AutoencoderOutlierDetector(**NETWORK, max_iter=1).fit(np.array(X[:1000]))
    del X
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, N_FEATURES))
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    base = {f: _status_mb(f) for f in ("VmRSS", "RssAnon", "RssFile")}
    peaks = dict.fromkeys(base, 0.0)
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            for field in peaks:
                peaks[field] = max(peaks[field], _status_mb(field) - base[field])

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    with sklearn.config_context(working_memory=working_memory):
        det = AutoencoderOutlierDetector(**NETWORK, max_iter=1, random_state=0)
        det.fit(X)
        det.score_samples(X)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": _status_mb("VmHWM") - base["VmRSS"],
                "peak_anon_mb_sampled": peaks["RssAnon"],
                "peak_file_mb_sampled": peaks["RssFile"],
            }
        )
    )


def bench_memmap(settings, log):
    if not Path("/proc/self/status").exists():
        log("memmap: skipped, needs Linux's /proc")
        return []
    n_rows = int(settings["memmap_gb"] * 2**30 / (4 * N_FEATURES))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "X.f32"
        X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_rows, N_FEATURES))
        for start in range(0, n_rows, 100_000):
            X[start : start + 100_000] = tabular(min(100_000, n_rows - start), start)
        X.flush()
        file_mb = X.nbytes / 2**20
        del X
        # glibc's malloc keeps freed blocks below a threshold that grows with
        # the allocations it has seen (up to 32 MB): the process's heap can
        # then grow well past what it holds at once. A fixed threshold shows
        # what skae itself holds.
        allocators = {
            "glibc default": {},
            "MALLOC_MMAP_THRESHOLD_=1MiB": {"MALLOC_MMAP_THRESHOLD_": "1048576"},
        }
        cases = [(wm, a) for wm in settings["working_memory"] for a in allocators]
        for working_memory, allocator in cases:
            out = subprocess.run(
                [
                    sys.executable,
                    str(HERE),
                    "--memmap-child",
                    str(path),
                    str(n_rows),
                    str(working_memory),
                ],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, **allocators[allocator]},
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            row = {
                "file_mb": file_mb,
                "n_samples": n_rows,
                "working_memory_mb": working_memory,
                "allocator": allocator,
                **result,
            }
            row["peak_over_file"] = row["peak_rss_mb"] / file_mb
            rows.append(row)
            log(
                f"memmap {file_mb:.0f} MB, working_memory {working_memory} MB, "
                f"{allocator}: peak {row['peak_rss_mb']:.0f} MB "
                f"({row['peak_over_file']:.2f}x)"
            )
    return rows


# ----------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------
def write_readme(results, out, meta):
    lines = [
        "# Scaling up: results",
        "",
        f"Written by `benchmarks/bench_scaling_up.py` ({meta['mode']} mode) on "
        f"{common.describe_code(meta['git'])}, started {meta['started']}; machine "
        "and versions in `meta.json`. One torch thread per process.",
        "",
    ]
    titles = {
        "partial_fit": "partial_fit over blocks against fit (same data, epochs)",
        "processes": "Two processes (torchrun, accelerate, gloo) against one",
        "memmap": "fit and score_samples from a memory map (fresh process each)",
    }
    for part, title in titles.items():
        if results.get(part):
            lines += [f"## {title}", ""]
            lines += [common.markdown_table(pd.DataFrame(results[part])), ""]
    (out / "README.md").write_text("\n".join(lines))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--worker"]:
        worker(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
        return
    if argv[:1] == ["--memmap-child"]:
        memmap_child(argv[1], int(argv[2]), float(argv[3]))
        return
    parser = common.make_parser(NAME, __doc__.splitlines()[0])
    args = parser.parse_args(argv)
    mode = common.mode_name(args)
    settings = SETTINGS[mode]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"mode": mode, "started": common.utc_now(), "git": common.git_state()}
    log = common.Progress(NAME)
    results = {}
    with common.limit_threads(args.threads):
        for part, run in (
            ("partial_fit", bench_partial_fit),
            ("processes", bench_processes),
            ("memmap", bench_memmap),
        ):
            results[part] = run(settings, log)
            if results[part]:
                pd.DataFrame(results[part]).to_csv(out / f"{part}.csv", index=False)
        # Still under the thread limit, which meta.json records.
        write_readme(results, out, meta)
        common.write_meta(
            out,
            argv,
            started=meta["started"],
            git=meta["git"],
            seconds=log.elapsed,
            settings={"mode": mode, "threads": args.threads, **settings},
        )
    log(f"wrote {out}")
    return results


if __name__ == "__main__":
    main()
