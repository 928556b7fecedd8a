"""Outlier detection on the 17 ODDS datasets: skae against PCA, IForest, LOF
and PyOD's AutoEncoder, following PyOD's benchmark protocol.

For each dataset and seed: a 60/40 train/test split (``train_test_split`` with
``random_state=seed``), features standardised with the training statistics,
every detector fitted on the training split with ``contamination`` set to the
true outlier fraction, and scored on the test split: ROC-AUC, precision at n
(n = number of outliers in the test split) and fit time. skae runs with its
default parameters, with no per-dataset tuning.

PyOD's published ROC-AUC numbers (typed in from ``shared/data/README.md``) are
shown beside our own runs of the same detectors.

Run ``python benchmarks/bench_outliers.py --help`` for the options.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

from skae import AutoencoderOutlierDetector  # noqa: E402

NAME = "outliers"

# ROC-AUC published by PyOD for its detectors, as given in shared/data/README.md.
# These are the only numbers typed in by hand in the benchmarks.
PUBLISHED_SOURCE = "PyOD benchmark, as given in shared/data/README.md"
PUBLISHED_METHODS = ("PCA", "IForest", "LOF", "PyOD AutoEncoder")
PUBLISHED_ROC_AUC = {
    "arrhythmia": (0.782, 0.800, 0.779, 0.774),
    "cardio": (0.950, 0.921, 0.574, 0.817),
    "glass": (0.675, 0.757, 0.864, 0.675),
    "ionosphere": (0.796, 0.850, 0.875, 0.896),
    "letter": (0.528, 0.642, 0.859, 0.814),
    "lympho": (0.985, 0.994, 0.977, 0.985),
    "mnist": (0.853, 0.816, 0.716, 0.864),
    "musk": (1.00, 1.00, 0.529, 0.813),
    "optdigits": (0.509, 0.725, 0.450, 0.598),
    "pendigits": (0.935, 0.944, 0.470, 0.782),
    "pima": (0.648, 0.681, 0.627, 0.666),
    "satellite": (0.599, 0.702, 0.557, 0.663),
    "satimage-2": (0.982, 0.995, 0.458, 0.929),
    "shuttle": (0.990, 0.997, 0.526, 0.990),
    "vertebral": (0.403, 0.390, 0.408, 0.482),
    "vowels": (0.603, 0.758, 0.941, 0.924),
    "wbc": (0.916, 0.931, 0.935, 0.923),
}

# Full mode: 10 seeds (PyOD's protocol), but fewer on the largest datasets to
# stay within the time budget on 2 CPU cores (shuttle only); the tables
# give n_seeds.
FULL_SEEDS = 10
LARGE_SEEDS = 5
LARGE_N_SAMPLES = 20000

QUICK_DATASETS = ("glass", "lympho", "vertebral", "wbc", "pima", "cardio")
SMOKE_DATASETS = ("glass", "vertebral")


# ----------------------------------------------------------------------
# Detectors. Each factory returns (estimator, abnormality score function):
# higher abnormality = more likely an outlier, whatever the library's sign.
# ----------------------------------------------------------------------
def _skae(contamination, seed, **params):
    det = AutoencoderOutlierDetector(
        contamination=contamination, random_state=seed, **params
    )
    return det, lambda X: -det.score_samples(X)


def _skae_components(rule):
    def factory(contamination, seed, n_features):
        return _skae(contamination, seed, n_components=rule(n_features))

    return factory


def _pyod_pca(contamination, seed, n_features):
    from pyod.models.pca import PCA

    # svd_solver="full": scikit-learn's "auto" now picks "covariance_eigh" for
    # tall data, which clips the smallest eigenvalue of a rank-deficient
    # covariance (cardio) to exactly 0, and PyOD divides by it.
    det = PCA(contamination=contamination, random_state=seed, svd_solver="full")
    return det, det.decision_function


def _iforest(contamination, seed, n_features):
    det = IsolationForest(contamination=contamination, random_state=seed)
    return det, lambda X: -det.score_samples(X)


def _lof(contamination, seed, n_features):
    det = LocalOutlierFactor(novelty=True, contamination=contamination)
    return det, lambda X: -det.score_samples(X)


def _pyod_autoencoder(contamination, seed, n_features, **params):
    from pyod.models.auto_encoder import AutoEncoder

    det = AutoEncoder(
        contamination=contamination,
        random_state=seed,
        verbose=0,
        device="cpu",
        **params,
    )
    return det, det.decision_function


METHODS = {
    "skae": lambda c, s, n: _skae(c, s),
    "PCA": _pyod_pca,
    "IForest": _iforest,
    "LOF": _lof,
    "PyOD AutoEncoder": _pyod_autoencoder,
    # Candidate defaults for n_components, compared with --methods.
    "skae n//4": _skae_components(lambda n: max(1, n // 4)),
    "skae n//2": _skae_components(lambda n: max(1, n // 2)),
    "skae sqrt(n)": _skae_components(lambda n: max(1, round(np.sqrt(n)))),
    "skae 2": _skae_components(lambda n: min(2, n)),
}
DEFAULT_METHODS = ("skae", "PCA", "IForest", "LOF", "PyOD AutoEncoder")
METHOD_LABELS = {
    "skae": "skae AutoencoderOutlierDetector (defaults)",
    "PCA": "PyOD PCA (defaults but svd_solver='full')",
    "IForest": "sklearn IsolationForest",
    "LOF": "sklearn LocalOutlierFactor(novelty=True)",
    "PyOD AutoEncoder": "PyOD AutoEncoder (defaults)",
}


def _candidate_label(method):
    """Describe a candidate default such as ``"skae n//2"``."""
    rules = {
        "skae n//4": "max(1, n_features // 4)",
        "skae n//2": "max(1, n_features // 2), the default",
        "skae sqrt(n)": "max(1, round(sqrt(n_features)))",
        "skae 2": "2",
    }
    return f"AutoencoderOutlierDetector(n_components={rules[method]})"


def precision_at_n(y_true, abnormality):
    """Fraction of true outliers among the n most abnormal samples.

    n is the number of outliers in ``y_true`` (PyOD's ``precision_n_scores``).
    """
    n = int(np.sum(y_true))
    top = np.argsort(-abnormality, kind="stable")[:n]
    return float(np.mean(y_true[top]))


def run_one(name, X, y, seed, methods, progress):
    """Run every method on one split; return a list of result rows."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    contamination = float(np.mean(y_train))
    rows = []
    for method in methods:
        det, abnormality = METHODS[method](contamination, seed, X.shape[1])
        with _common.Timer() as fit:
            det.fit(X_train)
        scores = np.asarray(abnormality(X_test), dtype=np.float64)
        finite = bool(np.isfinite(scores).all())
        if not finite:
            progress(f"{name} seed={seed} {method}: non-finite scores, no metrics")
        row = {
            "dataset": name,
            "seed": seed,
            "method": method,
            "roc_auc": roc_auc_score(y_test, scores) if finite else np.nan,
            "precision_at_n": precision_at_n(y_test, scores) if finite else np.nan,
            "fit_time_s": fit.seconds,
            "n_train": len(X_train),
            "n_test": len(X_test),
            "n_features": X.shape[1],
            "n_outliers_test": int(y_test.sum()),
        }
        if hasattr(det, "n_iter_") and method.startswith("skae"):
            row["n_iter"] = det.n_iter_
        rows.append(row)
        progress(
            f"{name:<11} seed={seed} {method:<17} roc_auc={row['roc_auc']:.3f} "
            f"p@n={row['precision_at_n']:.3f} fit={fit.seconds:.2f}s"
        )
    return rows


def settings_for(args):
    """Datasets and seeds of the run, from the command line."""
    if args.smoke:
        datasets, n_seeds = SMOKE_DATASETS, 1
    elif args.quick:
        datasets, n_seeds = QUICK_DATASETS, 2
    else:
        datasets, n_seeds = _common.ODDS_DATASETS, FULL_SEEDS
    if args.datasets:
        datasets = tuple(args.datasets.split(","))
    if args.seeds is not None:
        n_seeds = args.seeds
    return datasets, n_seeds


def seeds_for(n_samples, n_seeds, args):
    """Seeds for one dataset: fewer on the large ones in full mode."""
    if not (args.quick or args.smoke or args.seeds) and n_samples > LARGE_N_SAMPLES:
        n_seeds = min(n_seeds, LARGE_SEEDS)
    return list(range(n_seeds))


# ----------------------------------------------------------------------
# Tables and figure
# ----------------------------------------------------------------------
def summarise(runs, methods, metric):
    """Mean of ``metric`` per dataset (rows) and method (columns), with n_seeds
    and a final mean row."""
    table = runs.pivot_table(
        index="dataset", columns="method", values=metric, aggfunc="mean"
    )[list(methods)]
    table.insert(0, "n_seeds", runs.groupby("dataset")["seed"].nunique())
    table = table.reset_index()
    table["n_seeds"] = table["n_seeds"].astype(str)
    mean = {"dataset": "mean", "n_seeds": ""}
    mean.update(table[list(methods)].mean().to_dict())
    return pd.concat([table, pd.DataFrame([mean])], ignore_index=True)


def published_table(datasets):
    rows = [
        {"dataset": d, **dict(zip(PUBLISHED_METHODS, auc, strict=True))}
        for d, auc in ((d, PUBLISHED_ROC_AUC[d]) for d in datasets)
    ]
    table = pd.DataFrame(rows)
    mean = {"dataset": "mean", **table[list(PUBLISHED_METHODS)].mean().to_dict()}
    return pd.concat([table, pd.DataFrame([mean])], ignore_index=True)


def side_by_side(ours, published, methods):
    """ROC-AUC of our runs with the published number of each peer beside it."""
    table = ours[["dataset", "n_seeds"]].copy()
    for method in methods:
        table[method] = ours[method]
        if method in PUBLISHED_METHODS:
            table[f"{method} (PyOD pub.)"] = published[method].to_numpy()
    return table


def plot_roc_auc(runs, methods, datasets, path):
    """Bars: mean test ROC-AUC per dataset and method, plus the mean over
    datasets; black ticks: PyOD's published number for the same detector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = runs.groupby(["dataset", "method"])["roc_auc"].mean().unstack()
    means = means.reindex(index=datasets, columns=methods)
    means.loc["mean"] = means.mean()
    published = pd.DataFrame(
        [PUBLISHED_ROC_AUC[d] for d in datasets],
        index=datasets,
        columns=PUBLISHED_METHODS,
    )
    published.loc["mean"] = published.mean()
    labels = [*datasets, "mean"]
    x = np.arange(len(labels), dtype=float)
    x[-1] += 0.5  # set the mean apart
    fig, ax = plt.subplots(figsize=(max(8, 0.8 * len(labels) + 2), 5.2))
    width = 0.8 / len(methods)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, method in enumerate(methods):
        offset = (i - (len(methods) - 1) / 2) * width
        ax.bar(
            x + offset,
            means[method].to_numpy(),
            width,
            label=f"{method} (this run)",
            color=colors[i % len(colors)],
        )
        if method in PUBLISHED_METHODS:
            ax.scatter(
                x + offset,
                published[method].to_numpy(),
                marker="_",
                s=60,
                color="black",
                zorder=3,
                linewidths=1.5,
            )
    if set(methods) & set(PUBLISHED_METHODS):
        ax.scatter(
            [],
            [],
            marker="_",
            color="black",
            s=60,
            linewidths=1.5,
            label="PyOD published (same detector)",
        )
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_ylim(0.3, 1.02)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("test ROC-AUC (mean over seeds)")
    ax.set_xlabel("ODDS dataset")
    ax.set_title(
        "Outlier detection on ODDS: 60/40 split, contamination = true outlier fraction"
    )
    ax.legend(
        fontsize=8,
        ncol=len(methods) + 1,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.07),
        frameon=False,
    )
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(runs, methods, datasets, out, mode):
    runs.to_csv(out / "runs.csv", index=False)
    auc = summarise(runs, methods, "roc_auc")
    prec = summarise(runs, methods, "precision_at_n")
    fit = summarise(runs, methods, "fit_time_s")
    published = published_table(list(auc["dataset"][:-1]))
    both = side_by_side(auc, published, methods)
    for table, stem in [
        (auc, "roc_auc"),
        (prec, "precision_at_n"),
        (fit, "fit_time_s"),
        (both, "roc_auc_vs_published"),
    ]:
        _common.write_table(table, out / f"{stem}.csv")
    plot_roc_auc(runs, methods, list(auc["dataset"][:-1]), out / "roc_auc.png")

    lines = [
        f"# Outlier detection on ODDS ({mode} mode)\n",
        "Generated by `benchmarks/bench_outliers.py`; see `meta.json` for the "
        "command, machine and versions. Means over seeds of the test-split "
        "metrics; `n_seeds` is the number of random 60/40 splits. Columns "
        f"marked *PyOD pub.* are published numbers ({PUBLISHED_SOURCE}), not "
        "runs of ours.\n",
        "Methods: "
        + "; ".join(
            f"**{m}** = {METHOD_LABELS.get(m) or _candidate_label(m)}" for m in methods
        )
        + ".\n",
        "![ROC-AUC per dataset](roc_auc.png)\n",
        "## ROC-AUC, this run beside PyOD's published numbers\n",
        _common.markdown_table(both),
        "\n## Precision at n (n = outliers in the test split)\n",
        _common.markdown_table(prec),
        "\n## Fit time (seconds, mean over seeds)\n",
        _common.markdown_table(fit, floatfmt=".2f"),
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))
    return auc, prec, fit, both


def main(argv=None):
    """Run the outlier-detection benchmark.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.
    """
    parser = _common.make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", help="comma-separated ODDS names (default: by mode)"
    )
    parser.add_argument("--seeds", type=int, help="number of seeds for every dataset")
    parser.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help="comma-separated methods, among: " + ", ".join(METHODS),
    )
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="rewrite tables and figure from the runs.csv in --out, run nothing",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    progress = _common.Progress(NAME)
    if args.tables_only:
        runs = pd.read_csv(args.out / "runs.csv")
        methods = list(dict.fromkeys(runs["method"]))
        datasets = list(dict.fromkeys(runs["dataset"]))
        mode = json.loads((args.out / "meta.json").read_text())["settings"]["mode"]
        write_outputs(runs, methods, datasets, args.out, mode)
        return runs
    if not _common.has_data("odds"):
        progress(f"skipped: no ODDS data in {_common.DATA_DIR / 'odds'}")
        return None
    with _common.limit_threads(args.threads):
        started, git = _common.utc_now(), _common.git_state()
        methods = args.methods.split(",")
        unknown = set(methods) - set(METHODS)
        if unknown:
            parser.error(f"unknown methods: {sorted(unknown)}")
        datasets, n_seeds = settings_for(args)
        args.out.mkdir(parents=True, exist_ok=True)

        rows, seeds_used = [], {}
        for name in datasets:
            X, y = _common.load_odds(name)
            seeds = seeds_for(len(X), n_seeds, args)
            seeds_used[name] = len(seeds)
            for seed in seeds:
                rows.extend(run_one(name, X, y, seed, methods, progress))
        runs = pd.DataFrame(rows)
        auc, *_ = write_outputs(
            runs, methods, list(datasets), args.out, _common.mode_name(args)
        )
        _common.write_meta(
            args.out,
            argv,
            started=started,
            git=git,
            seconds=progress.elapsed,
            settings={
                "mode": _common.mode_name(args),
                "datasets": list(datasets),
                "seeds_per_dataset": seeds_used,
                "methods": methods,
                "split": "train_test_split(test_size=0.4, random_state=seed)",
                "scaling": "StandardScaler fitted on the training split",
                "contamination": "outlier fraction of the training split",
                "threads": args.threads,
                "published_source": PUBLISHED_SOURCE,
            },
        )
        progress(f"done; results in {args.out}")
        print(_common.markdown_table(auc), flush=True)
        return runs


if __name__ == "__main__":
    main()
