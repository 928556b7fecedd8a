"""Speed and memory of skae against a plain PyTorch loop and PyOD.

Every comparison runs in this one process with the same number of threads
for all methods (one by default), and interleaves the methods within each
repetition so that a burst of load from other jobs hits them alike. Ratios
are of CPU time, which with one thread hardly depends on what else runs on
the machine; medians over repetitions. The parts are described in
``benchmarks/speed/__init__.py``.

Writes to ``--out`` (default ``benchmarks/results/speed``): one CSV per part,
``sweep.png``, ``README.md`` (the targets and every table) and ``meta.json``.

Run ``python benchmarks/bench_speed.py`` (full, about half an hour on two
cores), ``--quick`` (minutes) or ``--smoke`` (seconds, for tests).
"""

import os
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
from speed import defaults, fit, inference, memory, pyod  # noqa: E402

SETTINGS = {
    "full": {
        "reps": 5,
        "mnist_rows": (10_000, 20_000, 60_000),
        "mnist_epochs": (3, 3, 3),
        "tabular_epochs": 50,
        "tabular_reps": 61,
        "sweep_rows": (1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 60_000),
        "sweep_features": (20, 50, 100, 200, 400, 784, 1600, 3200),
        "sweep_reps": 3,
        "inference_rows": 60_000,
        "latency_calls": 2000,
        "memory_rows": (10_000, 60_000),
        "memory_cases": (
            ("float32", False),
            ("float32", True),
            ("float64", False),
            ("float64", True),
        ),
        "pyod_datasets": ("cardio", "mnist", "satimage-2"),
        "pyod_epochs": 20,
        "pyod_reps": 3,
        "defaults": ("digits", "mnist"),
    },
    "quick": {
        "reps": 3,
        "mnist_rows": (10_000,),
        "mnist_epochs": (1,),
        "tabular_epochs": 20,
        "tabular_reps": 5,
        "sweep_rows": (1_000, 5_000, 10_000),
        "sweep_features": (20, 200, 784),
        "sweep_reps": 1,
        "inference_rows": 20_000,
        "latency_calls": 300,
        "memory_rows": (10_000,),
        "memory_cases": (("float32", False), ("float32", True)),
        "pyod_datasets": ("cardio",),
        "pyod_epochs": 10,
        "pyod_reps": 1,
        "defaults": ("digits",),
    },
    "smoke": {
        "reps": 1,
        "mnist_rows": (1_000,),
        "mnist_epochs": (1,),
        "tabular_epochs": 2,
        "tabular_reps": 1,
        "sweep_rows": (500, 1_000),
        "sweep_features": (20, 100),
        "sweep_reps": 1,
        "inference_rows": 1_000,
        "latency_calls": 5,
        "memory_rows": (1_000,),
        "memory_cases": (("float32", False),),
        "pyod_datasets": ("cardio",),
        "pyod_epochs": 1,
        "pyod_reps": 1,
        "defaults": (),
    },
}

# Part name -> function(settings, log) returning rows.
PARTS = {
    "fit": fit.bench_fit,
    "sweep": fit.bench_sweep,
    "inference": inference.bench_inference,
    "memory": memory.bench_memory,
    "pyod": pyod.bench_pyod,
    "defaults": defaults.bench_defaults,
}

# Part -> (title, columns) of its table in README.md.
TABLES = {
    "fit": (
        "fit against a plain PyTorch loop (CPU seconds, ratio skae / plain)",
        [
            "case",
            "data",
            "epochs",
            "plain_cpu_s",
            "skae_cpu_s",
            "ratio_cpu",
            "ratio_cpu_min",
            "ratio_cpu_max",
            "ratio_wall",
            "ratio_cpu_standard",
        ],
    ),
    "sweep": (
        "fit against rows and features (CPU seconds per epoch)",
        [
            "axis",
            "n_samples",
            "n_features",
            "hidden",
            "n_components",
            "plain_cpu_s_per_epoch",
            "skae_cpu_s_per_epoch",
            "ratio_cpu",
        ],
    ),
    "inference": (
        "Inference against a bare forward pass, and one-row latency",
        [
            "method",
            "input_dtype",
            "n_samples",
            "plain_cpu_s",
            "skae_cpu_s",
            "ratio_cpu",
            "plain_one_row_us",
            "skae_one_row_us",
            "one_row_overhead_us",
        ],
    ),
    "memory": (
        "Peak memory of fit (fresh process, 2 epochs)",
        [
            "method",
            "n_samples",
            "input_dtype",
            "early_stopping",
            "input_mb",
            "model_mb",
            "extra_peak_mb",
            "peak_over_float32_input",
            "target_over_float32_input",
        ],
    ),
    "pyod": (
        "skae against PyOD's AutoEncoder (same widths, epochs, batch, lr)",
        [
            "dataset",
            "rep",
            "layers",
            "epochs",
            "skae_cpu_s",
            "pyod_cpu_s",
            "pyod_over_skae_cpu",
            "skae_roc_auc",
            "pyod_roc_auc",
        ],
    ),
    "defaults": (
        "fit with default parameters",
        ["data", "shape", "estimator", "wall_s", "cpu_s", "n_iter_"],
    ),
}


def targets(results):
    """One row per target: what was measured, and whether it is met."""
    rows = []
    for row in results.get("fit", []):
        rows.append(
            {
                "target": f"fit time / plain loop, {row['case']}",
                "goal": "<= 1.10",
                "measured": f"{row['ratio_cpu']:.3f} (runs {row['ratio_cpu_min']:.2f}"
                f"-{row['ratio_cpu_max']:.2f}); {row['ratio_cpu_standard']:.3f} with "
                "scaling='standard'",
                "met": row["ratio_cpu"] <= 1.10,
            }
        )
    sweep = results.get("sweep", [])
    if sweep:
        ratios = [row["ratio_cpu"] for row in sweep]
        rows.append(
            {
                "target": "fit time / plain loop, every size of the sweep",
                "goal": "<= 1.10",
                "measured": f"{min(ratios):.3f} to {max(ratios):.3f}",
                "met": max(ratios) <= 1.10,
            }
        )
    for row in results.get("inference", []):
        rows.append(
            {
                "target": f"{row['method']} ({row['input_dtype']}) / bare forward pass",
                "goal": "<= 1.10",
                "measured": f"{row['ratio_cpu']:.3f}; one row +"
                f"{row['one_row_overhead_us']:.0f} us",
                "met": row["ratio_cpu"] <= 1.10,
            }
        )
    for row in results.get("memory", []):
        if row["method"] == "skae":
            rows.append(
                {
                    "target": f"peak memory of fit, {row['n_samples']} x 784 "
                    f"{row['input_dtype']}, early_stopping={row['early_stopping']}",
                    "goal": f"<= {row['target_over_float32_input']:.2f} x input",
                    "measured": f"{row['peak_over_float32_input']:.2f} x input",
                    "met": row["peak_over_float32_input"]
                    <= row["target_over_float32_input"],
                }
            )
    return rows


def write_readme(results, out, meta):
    lines = [
        "# Speed benchmark: results",
        "",
        f"Written by `benchmarks/bench_speed.py` ({meta['mode']} mode) on "
        f"{common.describe_code(meta['git'])}, started {meta['started']}; machine "
        "and versions in `meta.json`. Ratios of CPU time with one thread, "
        "medians over interleaved repetitions. Load average (1, 5, 15 min): "
        f"{meta['load_before']} before, {meta['load_after']} after.",
        "",
        "## Targets",
        "",
        common.markdown_table(pd.DataFrame(targets(results))),
        "",
    ]
    for part, (title, columns) in TABLES.items():
        if results.get(part):
            frame = pd.DataFrame(results[part])
            frame = frame[[c for c in columns if c in frame]]
            lines += [f"## {title}", "", common.markdown_table(frame), ""]
    if results.get("sweep"):
        lines += ["![fit time against rows and features](sweep.png)", ""]
    (out / "README.md").write_text("\n".join(lines))


def plot_sweep(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, axis, key, label in (
        (axes[0], "rows", "n_samples", "rows (784 MNIST-shaped features)"),
        (axes[1], "features", "n_features", "features (5,000 tabular rows)"),
    ):
        sub = [r for r in rows if r["axis"] == axis]
        x = [r[key] for r in sub]
        ax.plot(x, [r["skae_cpu_s_per_epoch"] for r in sub], "o-", label="skae fit")
        ax.plot(x, [r["plain_cpu_s_per_epoch"] for r in sub], "s--", label="plain")
        for r in sub:
            ax.annotate(
                f"{r['ratio_cpu']:.2f}x",
                (r[key], r["skae_cpu_s_per_epoch"]),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7,
            )
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel="CPU s per epoch")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("skae fit against a plain PyTorch loop (labels: skae / plain)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    """Run the speed benchmark; write its tables and figure.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--memory-child"]:
        memory.child(int(argv[1]), argv[2], bool(int(argv[3])), argv[4])
        return
    parser = common.make_parser(
        "speed", "skae's training and inference speed against plain PyTorch and PyOD"
    )
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these")
    args = parser.parse_args(argv)
    mode = common.mode_name(args)
    settings = SETTINGS[mode]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "mode": mode,
        "started": common.utc_now(),
        "git": common.git_state(),
        "load_before": tuple(round(x, 2) for x in os.getloadavg()),
    }
    log = common.Progress("speed")
    results = {}
    with common.limit_threads(args.threads):
        for part in args.only or PARTS:
            results[part] = PARTS[part](settings, log)
            if results[part]:
                pd.DataFrame(results[part]).to_csv(
                    out / f"{part}.csv", index=False, float_format="%.6g"
                )
        # Still under the thread limit, which meta.json records.
        meta["load_after"] = tuple(round(x, 2) for x in os.getloadavg())
        if results.get("sweep"):
            plot_sweep(results["sweep"], out / "sweep.png")
        write_readme(results, out, meta)
        common.write_meta(
            out,
            argv,
            started=meta["started"],
            git=meta["git"],
            seconds=log.elapsed,
            settings={
                "mode": mode,
                "threads": args.threads,
                "parts": list(results),
                "load_average_before": meta["load_before"],
                "load_average_after": meta["load_after"],
                **{
                    k: list(v) if isinstance(v, tuple) else v
                    for k, v in settings.items()
                },
            },
        )
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
