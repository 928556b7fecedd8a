"""Outlier detection on the whole development suite in two protocols: skae
against IsolationForest, PCA, LOF, kNN and PyOD's AutoEncoder.

The suite: the 17 ODDS sets and the 25 ADBench sets of ``shared/data``, in
two collections, **tabular** (17 ODDS + 7 ADBench classical sets, 24 sets)
and **embeddings** (17 ResNet-18 image sets + 1 BERT text set, 18 sets),
each capped at 10,000 rows (stratified subsample, seed 0). For each set and
split: a 60/40 stratified train/test split (``random_state=split``), a
``StandardScaler`` fitted on the training rows and applied to both parts, and
two protocols:

- **contaminated**: every method is fitted on all training rows; skae gets
  ``contamination`` = the training outlier fraction (at most 0.5);
- **clean**: every method is fitted on the training inliers only; skae keeps
  its default ``contamination``.

Every method scores the test rows; ROC-AUC against the test labels (with
each method's score oriented so that higher = more anomalous) and the time of
fit + score are recorded. The threshold (``contamination``) does not change
the ROC-AUC; it is set for skae as a user would set it.

Extra skae candidates (``--candidates``, see ``CANDIDATES``) run in the same
harness, to compare candidate defaults against the same peers.

Run ``python benchmarks/bench_protocols.py --help`` for the options.
"""

import json
import sys
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import bench_outliers  # noqa: E402

from skae import AutoencoderOutlierDetector  # noqa: E402

NAME = "protocols"

COLLECTIONS = {
    "tabular": (*_common.ODDS_DATASETS, *_common.ADBENCH_TABULAR),
    "embeddings": _common.ADBENCH_EMBEDDINGS,
}
PROTOCOLS = ("contaminated", "clean")
MAX_ROWS = 10_000
FULL_SPLITS = 5

QUICK_SETS = ("glass", "cv_MVTec-AD_toothbrush")
#: Quick mode trains every network for a few epochs only: it checks that the
#: script runs, its numbers mean nothing.
QUICK_SKAE_PARAMS = {"max_iter": 3}
QUICK_PYOD_PARAMS = {"epoch_num": 2}

#: Share of the variance that PCA's detector and the "pca 0.9 code"
#: candidate keep.
VARIANCE_KEPT = 0.9
#: kNN's score: the distance to the k-th nearest training row.
KNN_NEIGHBOURS = 5
#: skae is "below PCA" on a set when its clean-protocol ROC-AUC is this much
#: lower than PCA's (the detector's goal).
BELOW_PCA_MARGIN = 0.05


# ----------------------------------------------------------------------
# skae candidates: name -> function(X_train, **params) -> unfitted detector,
# where params holds contamination, random_state and the mode's overrides.
# ----------------------------------------------------------------------
def variance_components(X, fraction=VARIANCE_KEPT):
    """Smallest number of principal components keeping ``fraction`` of the
    variance of ``X`` (the code size that ``PCA(n_components=fraction)``
    picks)."""
    ratios = PCA(svd_solver="full").fit(X).explained_variance_ratio_
    k = int(np.searchsorted(np.cumsum(ratios), fraction) + 1)
    return min(k, X.shape[1])


CANDIDATES = {
    "default": lambda X, **params: AutoencoderOutlierDetector(**params),
    "no code density": lambda X, **params: AutoencoderOutlierDetector(
        density_components=None, **params
    ),
    "pca 0.9 code": lambda X, **params: AutoencoderOutlierDetector(
        n_components=variance_components(X), **params
    ),
    "linear": lambda X, **params: AutoencoderOutlierDetector(
        architecture="linear", **params
    ),
    "half or 0.9 code": lambda X, **params: AutoencoderOutlierDetector(
        n_components=max(1, X.shape[1] // 2, variance_components(X)), **params
    ),
}
CANDIDATE_LABELS = {
    "default": "AutoencoderOutlierDetector with its defaults",
    "no code density": "density_components=None",
    "pca 0.9 code": (
        "n_components = the smallest k keeping 90% of the variance of the "
        "scaled training rows"
    ),
    "linear": 'architecture="linear"',
    "half or 0.9 code": (
        "n_components = the larger of n_features // 2 and the smallest k "
        "keeping 90% of the variance of the scaled training rows"
    ),
}


def skae_method(candidate):
    """Method name of a skae candidate: ``"skae"`` for the default."""
    return "skae" if candidate == "default" else f"skae {candidate}"


# ----------------------------------------------------------------------
# Peers. Each factory takes (X_train, contamination, seed, quick) and returns
# (estimator, abnormality(X)): higher abnormality = more likely an outlier.
# ----------------------------------------------------------------------
class PCAReconstruction:
    """PCA's detector: squared reconstruction error, in the scaled units."""

    def fit(self, X):
        self.pca_ = PCA(n_components=VARIANCE_KEPT, svd_solver="full").fit(X)
        return self

    def abnormality(self, X):
        rebuilt = self.pca_.inverse_transform(self.pca_.transform(X))
        return np.sum((X - rebuilt) ** 2, axis=1)


class KNNDistance:
    """kNN's detector: distance to the ``KNN_NEIGHBOURS``-th training row."""

    def fit(self, X):
        self.neighbours_ = NearestNeighbors(n_neighbors=KNN_NEIGHBOURS).fit(X)
        return self

    def abnormality(self, X):
        distances, _ = self.neighbours_.kneighbors(X)
        return distances[:, -1]


def _peer_contamination(contamination):
    return "auto" if contamination == "auto" else contamination


def _iforest(X_train, contamination, seed, quick):
    return bench_outliers._iforest(_peer_contamination(contamination), seed, None)


def _lof(X_train, contamination, seed, quick):
    return bench_outliers._lof(_peer_contamination(contamination), seed, None)


def _pca(X_train, contamination, seed, quick):
    det = PCAReconstruction()
    return det, det.abnormality


def _knn(X_train, contamination, seed, quick):
    det = KNNDistance()
    return det, det.abnormality


def _pyod_autoencoder(X_train, contamination, seed, quick):
    # PyOD wants a fraction; 0.1 is its default (clean protocol). The
    # threshold does not change the ROC-AUC.
    fraction = 0.1 if contamination == "auto" else contamination
    params = QUICK_PYOD_PARAMS if quick else {}
    return bench_outliers._pyod_autoencoder(fraction, seed, None, **params)


PEERS = {
    "IForest": _iforest,
    "PCA": _pca,
    "LOF": _lof,
    "kNN": _knn,
    "PyOD AE": _pyod_autoencoder,
}
PEER_LABELS = {
    "IForest": "sklearn IsolationForest (defaults, random_state = split)",
    "PCA": ('squared reconstruction error of PCA(n_components=0.9, svd_solver="full")'),
    "LOF": "sklearn LocalOutlierFactor(novelty=True), defaults",
    "kNN": f"distance to the {KNN_NEIGHBOURS}th nearest training row",
    "PyOD AE": "PyOD AutoEncoder (defaults, as in bench_outliers.py)",
}
DEFAULT_METHODS = ("skae", *PEERS)


def make_method(method, X_train, contamination, seed, quick):
    """An unfitted detector for ``method`` and its abnormality function."""
    if method in PEERS:
        return PEERS[method](X_train, contamination, seed, quick)
    candidate = "default" if method == "skae" else method.removeprefix("skae ")
    params = {"contamination": contamination, "random_state": seed}
    if quick:
        params.update(QUICK_SKAE_PARAMS)
    det = CANDIDATES[candidate](X_train, **params)
    return det, lambda X: -det.score_samples(X)


def is_skae(method):
    return method not in PEERS


# ----------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------
def protocol_runs(name, collection, X, y, split):
    """One split of a set in both protocols.

    Yields, per protocol: ``X_fit`` (all training rows, or the training
    inliers), the ``contamination`` skae gets, ``X_test``, ``y_test`` and the
    columns every result row of that protocol starts with.
    """
    X_train, X_test, y_train, y_test = _common.pyod_split(X, y, split, stratify=True)
    for protocol in PROTOCOLS:
        if protocol == "contaminated":
            X_fit = X_train
            contamination = min(float(np.mean(y_train)), 0.5)
        else:
            X_fit = X_train[y_train == 0]
            contamination = "auto"
        columns = {
            "set": name,
            "collection": collection,
            "protocol": protocol,
            "split": split,
            "n_train": len(X_fit),
            "n_test": len(X_test),
            "n_features": X.shape[1],
            "train_outlier_fraction": float(np.mean(y_train)),
        }
        yield X_fit, contamination, X_test, y_test, columns


def run_split(name, collection, X, y, split, methods, quick, progress):
    """Every protocol and method on one split of one set; result rows."""
    rows = []
    for X_fit, contamination, X_test, y_test, columns in protocol_runs(
        name, collection, X, y, split
    ):
        protocol = columns["protocol"]
        for method in methods:
            row = {
                **columns,
                "method": method,
                "roc_auc": np.nan,
                "time_s": np.nan,
                "error": "",
            }
            try:
                det, abnormality = make_method(
                    method, X_fit, contamination, split, quick
                )
                with _common.Timer() as timer:
                    det.fit(X_fit)
                    scores = np.asarray(abnormality(X_test), dtype=np.float64)
                row["time_s"] = timer.seconds
                if np.isfinite(scores).all():
                    row["roc_auc"] = roc_auc_score(y_test, scores)
                else:
                    row["error"] = "non-finite scores"
                if is_skae(method):
                    row["n_components"] = det.n_components_
                    row["n_iter"] = det.n_iter_
            except Exception as exc:  # a failure must not stop a long run
                row["error"] = f"{type(exc).__name__}: {exc}"
                progress(traceback.format_exc())
            rows.append(row)
            progress(
                f"{name:<24} split={split} {protocol:<12} {method:<20} "
                f"roc_auc={row['roc_auc']:.3f} {row['time_s']:.2f}s {row['error']}"
            )
    return rows


def run_suite(sets, n_splits, out, run_one):
    """``run_one(name, collection, X, y, split)`` (result rows) on every
    split of every set; ``runs.csv`` in ``out`` is rewritten after each set,
    so that a long run that is stopped keeps what has run."""
    rows = []
    for name, collection in sets:
        X, y = _common.load_outlier_set(name, MAX_ROWS)
        for split in range(n_splits):
            rows.extend(run_one(name, collection, X, y, split))
        pd.DataFrame(rows).to_csv(out / "runs.csv", index=False)
    return pd.DataFrame(rows)


def settings_for(args, full_splits=FULL_SPLITS):
    """Sets (with their collection) and number of splits of the run."""
    collection_of = {s: c for c, sets in COLLECTIONS.items() for s in sets}
    if args.sets:
        sets = args.sets.split(",")
    elif args.quick or args.smoke:
        sets = list(QUICK_SETS)
    else:
        sets = list(collection_of)
    unknown = set(sets) - set(collection_of)
    if unknown:
        raise ValueError(f"unknown sets: {sorted(unknown)}")
    if args.splits is not None:
        n_splits = args.splits
    else:
        n_splits = 1 if (args.quick or args.smoke) else full_splits
    return [(s, collection_of[s]) for s in sets], n_splits


# ----------------------------------------------------------------------
# Tables and figures
# ----------------------------------------------------------------------
def _ordered(runs, column, order):
    present = list(dict.fromkeys(runs[column]))
    return [v for v in order if v in present] + [v for v in present if v not in order]


def cell_summary(runs, methods):
    """Per cell (collection x protocol) and method: mean ROC-AUC, its sd over
    splits (of the per-split collection means), sets, splits, and the summed
    time of one split over the collection's sets."""
    per_split = (
        runs.groupby(["collection", "protocol", "method", "split"])["roc_auc"]
        .mean()
        .reset_index()
    )
    spread = per_split.groupby(["collection", "protocol", "method"])["roc_auc"].agg(
        ["mean", "std", "count"]
    )
    per_set_time = runs.groupby(["collection", "protocol", "method", "set"])[
        "time_s"
    ].mean()
    time = per_set_time.groupby(["collection", "protocol", "method"]).sum()
    n_sets = runs.groupby(["collection", "protocol", "method"])["set"].nunique()
    table = spread.rename(
        columns={"mean": "roc_auc", "std": "sd_over_splits", "count": "n_splits"}
    )
    table["n_sets"] = n_sets
    table["time_s_per_split"] = time
    table = table.reset_index()
    table["method"] = pd.Categorical(table["method"], methods, ordered=True)
    table["protocol"] = pd.Categorical(table["protocol"], PROTOCOLS, ordered=True)
    table["collection"] = pd.Categorical(
        table["collection"], list(COLLECTIONS), ordered=True
    )
    return table.sort_values(["collection", "protocol", "method"]).reset_index(
        drop=True
    )


def _cell_name(collection, protocol):
    return f"{collection}, {protocol}"


def headline_table(cells, methods):
    """Methods as rows, cells as columns: ``mean ± sd``, and the leader."""
    columns, leaders = {}, {}
    for (collection, protocol), cell in cells.groupby(
        ["collection", "protocol"], observed=True
    ):
        name = _cell_name(collection, protocol)
        cell = cell.set_index("method")
        n_sets = int(cell["n_sets"].max())
        name = f"{name} ({n_sets} sets)"
        best = cell["roc_auc"].max()
        columns[name] = {
            m: (
                f"**{cell.loc[m, 'roc_auc']:.3f}**"
                if cell.loc[m, "roc_auc"] == best
                else f"{cell.loc[m, 'roc_auc']:.3f}"
            )
            + (
                f" ± {cell.loc[m, 'sd_over_splits']:.3f}"
                if np.isfinite(cell.loc[m, "sd_over_splits"])
                else ""
            )
            for m in methods
            if m in cell.index
        }
        leaders[name] = cell["roc_auc"].astype(float).idxmax()
    table = pd.DataFrame(columns).reindex(methods)
    table.index.name = "method"
    return table.reset_index(), leaders


def skae_margins(cells, methods):
    """Per cell and skae method: its mean minus the best peer's mean."""
    peers = [m for m in methods if not is_skae(m)]
    rows = []
    for (collection, protocol), cell in cells.groupby(
        ["collection", "protocol"], observed=True
    ):
        cell = cell.set_index("method")["roc_auc"].astype(float)
        present = [p for p in peers if p in cell.index]
        if not present:
            continue
        best_peer = cell[present].idxmax()
        row = {
            "cell": _cell_name(collection, protocol),
            "best peer": f"{best_peer} ({cell[best_peer]:.3f})",
        }
        for m in methods:
            if is_skae(m) and m in cell.index:
                row[f"{m} - best peer"] = cell[m] - cell[best_peer]
        rows.append(row)
    return pd.DataFrame(rows)


def per_set_table(runs, methods, protocol):
    """Mean ROC-AUC over splits per set (rows) and method (columns)."""
    sub = runs[runs["protocol"] == protocol]
    table = sub.pivot_table(
        index=["collection", "set"], columns="method", values="roc_auc", aggfunc="mean"
    ).reindex(columns=[m for m in methods if m in set(sub["method"])])
    order = [
        (c, s) for c, sets in COLLECTIONS.items() for s in sets if (c, s) in table.index
    ]
    table = table.reindex(order)
    table.insert(0, "n_splits", sub.groupby(["collection", "set"])["split"].nunique())
    return table.reset_index()


def below_pca(runs, methods):
    """Sets where a skae method is more than BELOW_PCA_MARGIN under PCA in the
    clean protocol (means over splits)."""
    clean = per_set_table(runs, methods, "clean")
    rows = []
    if "PCA" not in clean.columns:
        return pd.DataFrame(rows)
    for m in methods:
        if not is_skae(m) or m not in clean.columns:
            continue
        gap = clean[m] - clean["PCA"]
        for i in np.flatnonzero(gap.to_numpy() < -BELOW_PCA_MARGIN):
            rows.append(
                {
                    "method": m,
                    "collection": clean["collection"].iloc[i],
                    "set": clean["set"].iloc[i],
                    "skae": clean[m].iloc[i],
                    "PCA": clean["PCA"].iloc[i],
                    "difference": gap.iloc[i],
                }
            )
    return pd.DataFrame(rows)


def plot_cells(cells, runs, methods, path):
    """Left: mean ROC-AUC per cell and method, sd over splits as error bars.
    Right: per set, skae's ROC-AUC against the best peer's on that set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [1.6, 1]}
    )
    cell_names = [
        (c, p)
        for c in COLLECTIONS
        for p in PROTOCOLS
        if ((cells["collection"] == c) & (cells["protocol"] == p)).any()
    ]
    x = np.arange(len(cell_names), dtype=float)
    width = 0.8 / len(methods)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, method in enumerate(methods):
        sub = cells[cells["method"] == method].set_index(["collection", "protocol"])
        means = [sub["roc_auc"].get(k, np.nan) for k in cell_names]
        sds = [sub["sd_over_splits"].get(k, np.nan) for k in cell_names]
        ax.bar(
            x + (i - (len(methods) - 1) / 2) * width,
            means,
            width,
            yerr=np.nan_to_num(sds),
            capsize=2,
            label=method,
            color=colors[i % len(colors)],
        )
    ax.set_xticks(x, [f"{c}\n{p}" for c, p in cell_names])
    lows = cells["roc_auc"].astype(float)
    ax.set_ylim(max(0.0, np.nanmin(lows) - 0.08), min(1.0, np.nanmax(lows) + 0.05))
    ax.set_ylabel("mean test ROC-AUC (error bar: sd over splits)")
    ax.set_title("Mean ROC-AUC per collection and protocol")
    ax.legend(fontsize=8, ncol=3)
    ax.grid(axis="y", alpha=0.3)

    peers = [m for m in methods if not is_skae(m)]
    means = runs.groupby(["protocol", "collection", "set", "method"])["roc_auc"].mean()
    means = means.unstack("method")
    if "skae" in means.columns and peers:
        best = means[[p for p in peers if p in means.columns]].max(axis=1)
        markers = {"tabular": "o", "embeddings": "^"}
        for j, protocol in enumerate(PROTOCOLS):
            for collection, marker in markers.items():
                key = (protocol, collection)
                if key not in best.index.droplevel("set"):
                    continue
                ax2.scatter(
                    best.loc[key],
                    means["skae"].loc[key],
                    marker=marker,
                    color=colors[j],
                    alpha=0.75,
                    label=f"{collection}, {protocol}",
                )
        ax2.plot([0, 1], [0, 1], color="grey", lw=0.8)
        ax2.set_xlabel("best peer's ROC-AUC on the set (mean over splits)")
        ax2.set_ylabel("skae's ROC-AUC (defaults)")
        ax2.set_title("Per set: skae against the best of the peers")
        ax2.legend(fontsize=8)
        ax2.grid(alpha=0.3)
    else:
        ax2.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(runs, out, mode, git):
    """Write runs.csv, summary tables, the figure and README.md."""
    methods = _ordered(runs, "method", [*DEFAULT_METHODS])
    runs.to_csv(out / "runs.csv", index=False)
    cells = cell_summary(runs, methods)
    cells.to_csv(out / "cells.csv", index=False)
    headline, leaders = headline_table(cells, methods)
    margins = skae_margins(cells, methods)
    below = below_pca(runs, methods)
    below.to_csv(out / "below_pca_clean.csv", index=False)
    per_set = {p: per_set_table(runs, methods, p) for p in PROTOCOLS}
    for protocol, table in per_set.items():
        table.to_csv(out / f"per_set_{protocol}.csv", index=False)
    plot_cells(cells, runs, methods, out / "roc_auc.png")

    time_table = cells.pivot_table(
        index="method",
        columns=["collection", "protocol"],
        values="time_s_per_split",
        observed=True,
    ).reindex(methods)
    time_table.columns = [_cell_name(c, p) for c, p in time_table.columns]
    time_table["whole suite, both protocols"] = time_table.sum(axis=1)
    total = runs.groupby("method")["time_s"].sum().reindex(methods)
    time_table["all runs, summed"] = total
    time_table = time_table.reset_index()

    n_splits = runs["split"].nunique()
    errors = runs[runs["error"].fillna("") != ""]
    labels = {**PEER_LABELS}
    for m in methods:
        if is_skae(m):
            candidate = "default" if m == "skae" else m.removeprefix("skae ")
            labels[m] = f"skae, {CANDIDATE_LABELS[candidate]}"
    lines = [
        f"# Outlier detection in two protocols over the development suite "
        f"({mode} mode)\n",
        "Generated by `benchmarks/bench_protocols.py` on "
        f"{_common.describe_code(git)}; see `meta.json` for the command, machine "
        f"and versions. {runs['set'].nunique()} sets, {n_splits} split(s) each: "
        "60/40 stratified (`random_state` = split), StandardScaler fitted on the "
        "training rows, rows capped at 10,000 (stratified, seed 0). "
        "*contaminated*: fitted on all training rows, skae's `contamination` = "
        "the training outlier fraction; *clean*: fitted on the training inliers "
        "only, skae's default `contamination`. Test ROC-AUC.\n",
        "Methods: " + "; ".join(f"**{m}** = {labels[m]}" for m in methods) + ".\n",
        "![ROC-AUC per cell, and per set against the best peer](roc_auc.png)\n",
        "## Mean ROC-AUC per cell\n",
        "Mean over the collection's sets ± the sd over splits of the per-split "
        "collection means; the best of each column in bold.\n",
        _common.markdown_table(headline),
        "\nLeader of each cell: "
        + "; ".join(f"{cell}: **{m}**" for cell, m in leaders.items())
        + ".\n",
    ]
    if len(margins):
        lines += [
            "skae's margin over the best peer of each cell (the goal: "
            "at least +0.02 in every cell):\n",
            _common.markdown_table(margins),
            "",
        ]
    lines += [
        f"## Sets where skae is more than {BELOW_PCA_MARGIN} below PCA, clean "
        "protocol\n",
    ]
    if len(below):
        counts = (
            below.groupby("method")["set"]
            .count()
            .reindex([m for m in methods if is_skae(m)], fill_value=0)
        )
        lines.append(
            "Count: "
            + "; ".join(f"{m}: {n}" for m, n in counts.items())
            + " (means over splits).\n"
        )
        lines.append(_common.markdown_table(below))
    else:
        lines.append("None (means over splits).")
    lines += [
        "\n## Time (fit + score, seconds)\n",
        "Per cell: the summed time of one split over the collection's sets "
        "(mean over splits per set). Last column: every run summed. One "
        "thread, on a machine shared with other work.\n",
        _common.markdown_table(time_table, floatfmt=".1f"),
    ]
    for protocol in PROTOCOLS:
        lines += [
            f"\n## Per set, {protocol} protocol (mean ROC-AUC over splits)\n",
            _common.markdown_table(per_set[protocol]),
        ]
    if len(errors):
        lines += [
            "\n## Failed runs\n",
            _common.markdown_table(
                errors[["set", "protocol", "split", "method", "error"]]
            ),
        ]
    lines.append("")
    (out / "README.md").write_text("\n".join(lines))
    return cells, headline, below


def add_suite_arguments(parser, full_splits=FULL_SPLITS):
    """``--sets``, ``--splits`` and ``--tables-only``, for benchmarks over
    the suite."""
    parser.add_argument(
        "--sets",
        help="comma-separated set names (default: all 42; quick: "
        + ", ".join(QUICK_SETS)
        + ")",
    )
    parser.add_argument(
        "--splits",
        type=int,
        help=f"number of splits per set (default {full_splits}; quick 1)",
    )
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="rewrite the tables from the runs.csv in --out, run nothing",
    )


def read_runs(out):
    """The ``runs.csv`` of the results folder ``out``, its mode and the code
    it ran on (from ``meta.json``), for ``--tables-only``."""
    runs = pd.read_csv(out / "runs.csv", keep_default_na=False, na_values=[""])
    runs["error"] = runs["error"].fillna("")
    meta = json.loads((out / "meta.json").read_text())
    git = {"commit": meta["git_commit"], "dirty": meta["git_dirty"]}
    return runs, meta["settings"]["mode"], git


#: How the suite is split and scaled, for ``meta.json``.
SUITE_SETTINGS = {
    "protocols": list(PROTOCOLS),
    "max_rows": MAX_ROWS,
    "split": "train_test_split(test_size=0.4, random_state=split, stratify=y)",
    "scaling": "StandardScaler fitted on the training rows",
}


def run_main(name, description, argv, *, full_splits, prepare, write_outputs):
    """The ``main`` of a benchmark over the suite in both protocols.

    Parses the options of :func:`_common.make_parser` and
    :func:`add_suite_arguments` (and the benchmark's own), runs
    ``run_one`` on every split of every set through :func:`run_suite`, writes
    the outputs and ``meta.json``, and prints the headline table.

    Parameters
    ----------
    name, description : str
        The benchmark's name (its results folder) and ``--help`` line.
    argv : list of str or None
        Command-line arguments; ``None`` reads ``sys.argv``.
    full_splits : int
        Splits per set of a full run.
    prepare : callable
        ``prepare(parser)`` adds the benchmark's own options and returns
        ``start(args, progress)``, which checks them (calling
        ``parser.error``) and returns ``(run_one, settings)``:
        ``run_one(name, collection, X, y, split)`` gives the result rows of
        one split, and ``settings`` (a dict) goes to ``meta.json``.
    write_outputs : callable
        ``write_outputs(runs, out, mode, git)`` writes the tables and
        returns the headline table.

    Returns
    -------
    runs : pandas.DataFrame or None
        Every result row; ``None`` without data.
    """
    parser = _common.make_parser(name, description)
    add_suite_arguments(parser, full_splits)
    start = prepare(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    progress = _common.Progress(name)
    if args.tables_only:
        runs, mode, git = read_runs(args.out)
        write_outputs(runs, args.out, mode, git)
        return runs
    run_one, settings = start(args, progress)
    try:
        sets, n_splits = settings_for(args, full_splits)
    except ValueError as exc:
        parser.error(str(exc))
    if not all(_common.has_data(d) for d in ("odds", "adbench")):
        progress(f"skipped: no ODDS or ADBench data in {_common.DATA_DIR}")
        return None
    mode = _common.mode_name(args)
    with _common.limit_threads(args.threads):
        started, git = _common.utc_now(), _common.git_state()
        args.out.mkdir(parents=True, exist_ok=True)
        runs = run_suite(sets, n_splits, args.out, run_one)
        headline = write_outputs(runs, args.out, mode, git)
        _common.write_meta(
            args.out,
            argv,
            started=started,
            git=git,
            seconds=progress.elapsed,
            settings={
                "mode": mode,
                "sets": dict(sets),
                "splits": n_splits,
                **SUITE_SETTINGS,
                **settings,
                "threads": args.threads,
            },
        )
        progress(f"done; results in {args.out}")
        print(_common.markdown_table(headline), flush=True)
        return runs


def main(argv=None):
    """Run the two-protocol benchmark.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    runs : pandas.DataFrame or None
        One row per (set, protocol, split, method); ``None`` without data.
    """

    def prepare(parser):
        parser.add_argument(
            "--methods",
            default=",".join(DEFAULT_METHODS),
            help="comma-separated methods, among: skae, " + ", ".join(PEERS),
        )
        parser.add_argument(
            "--candidates",
            default="",
            help="comma-separated skae candidates to add, run as 'skae <name>' "
            "('default' is 'skae'), among: " + ", ".join(CANDIDATES),
        )
        return lambda args, progress: start(parser, args, progress)

    def start(parser, args, progress):
        methods = [m for m in args.methods.split(",") if m]
        unknown_methods = set(methods) - {"skae", *PEERS}
        candidates = [c for c in args.candidates.split(",") if c]
        unknown_candidates = set(candidates) - set(CANDIDATES)
        if unknown_methods or unknown_candidates:
            parser.error(
                f"unknown methods {sorted(unknown_methods)} or candidates "
                f"{sorted(unknown_candidates)}"
            )
        methods = list(dict.fromkeys([*methods, *map(skae_method, candidates)]))
        quick = args.quick or args.smoke

        def run_one(name, collection, X, y, split):
            return run_split(name, collection, X, y, split, methods, quick, progress)

        settings = {
            "methods": methods,
            "contamination": {
                "contaminated": "training outlier fraction, at most 0.5",
                "clean": "skae's default ('auto'); PyOD's default 0.1",
            },
            "quick_overrides": (
                {"skae": QUICK_SKAE_PARAMS, "PyOD AE": QUICK_PYOD_PARAMS}
                if quick
                else None
            ),
        }
        return run_one, settings

    return run_main(
        NAME,
        __doc__.splitlines()[0],
        argv,
        full_splits=FULL_SPLITS,
        prepare=prepare,
        write_outputs=lambda *a: write_outputs(*a)[1],
    )


if __name__ == "__main__":
    main()
