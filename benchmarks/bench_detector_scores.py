"""Scores and code sizes of the outlier detector over the suite, both protocols.

The whole development suite, the splits and the two protocols are those of
``bench_protocols.py`` (42 sets in two collections, rows capped at 10,000,
60/40 stratified splits, a ``StandardScaler`` fitted on the training rows;
*contaminated*: fitted on all training rows with ``contamination`` = the
training outlier fraction; *clean*: fitted on the training inliers with
``contamination="auto"``). For each set, split and protocol two detectors are
trained:

- **default code**: ``AutoencoderOutlierDetector`` with its defaults;
- **90% code**: the same with ``n_components`` = the smallest k keeping 90%
  of the variance of the scaled training rows.

From each trained detector, several scores of the test rows are computed
(``SCORES``): the detector's own (``-score_samples``), the reconstruction
error alone, the error of each feature relative to its mean over the
training rows, and those two errors plus the negative log-density of the
code under a mixture of Gaussians fitted to the training codes, with 4, 8 or
16 components and weights 1.0 or 1.5. PCA's detector (squared reconstruction
error of ``PCA(n_components=0.9)``) runs beside them as the reference peer.
Test ROC-AUC of every score.

The scores other than the default are computed from the fitted network with
the estimator's private helpers (the per-feature squared error, in the
network's scaled units, and the codes); they are candidates, not options of
the estimator.

Run ``python benchmarks/bench_detector_scores.py --help`` for the options.
"""

import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import bench_protocols  # noqa: E402

from skae._base import _BaseAutoencoder  # noqa: E402

NAME = "detector_scores"
FULL_SPLITS = 3

#: The two code sizes: the bench_protocols candidate each detector is.
CODES = {"default code": "skae", "90% code": "skae pca 0.9 code"}
CODE_LABELS = {
    "default code": (
        "`n_components=None` (the larger of n_features // 2 and the 90% "
        "code), the default"
    ),
    "90% code": (
        "`n_components` = the smallest k keeping 90% of the variance of the "
        "scaled training rows"
    ),
}

#: The code density of the "+ density" scores, as the detector's: diagonal
#: covariances, this variance added (the codes standardised), fitted on at
#: most this many training rows (evenly spaced), components holding less than
#: DENSITY_MIN_SHARE / k of the rows left out (the largest always kept).
DENSITY_COMPONENTS = (4, 8, 16)
DENSITY_WEIGHTS = (1.0, 1.5)
DENSITY_REG_COVAR = 0.1
DENSITY_MAX_FIT_ROWS = 2_000
DENSITY_MIN_SHARE = 0.5

#: A variant is "level with the default" when its mean is within this much of
#: the default's in every cell.
LEVEL_MARGIN = 0.005


def _density_name(error, k, weight):
    return f"{error} + density {k}, w {weight}"


SCORES = (
    "default",
    "reconstruction only",
    "normalised error",
    *(
        _density_name(error, k, w)
        for error in ("error", "normalised error")
        for k in DENSITY_COMPONENTS
        for w in DENSITY_WEIGHTS
    ),
)
SCORE_LABELS = {
    "default": "`-score_samples`, the detector's three-term score",
    "reconstruction only": (
        "the mean squared error per row in the network's scaled units (what "
        "PCA's detector measures)"
    ),
    "normalised error": (
        "each feature's squared error divided by its mean over the training "
        "rows, averaged over features"
    ),
    "error + density k, w w": (
        "the reconstruction-only error plus w times the negative log-density "
        "of the code under a mixture of k diagonal Gaussians fitted to the "
        "training codes; each term minus its median over the training rows, "
        "divided by its interquartile range there"
    ),
    "normalised error + density k, w w": ("the same with the normalised error"),
}
PCA_METHOD = "PCA"


def method_name(code, score):
    """Name of a (code, score) pair in the tables: the score's name for the
    default code, prefixed by ``90% code:`` for the other."""
    return score if code == "default code" else f"{code}: {score}"


METHODS = (
    *(method_name(code, score) for code in CODES for score in SCORES),
    PCA_METHOD,
)


# ----------------------------------------------------------------------
# Scores of a fitted detector
# ----------------------------------------------------------------------
def _robust_z(reference, values):
    """``values`` minus the median of ``reference``, over its interquartile
    range (1 where that is 0)."""
    q1, median, q3 = np.percentile(reference, [25, 50, 75])
    spread = q3 - q1
    return (values - median) / (spread if spread > 0 else 1.0)


def code_nll(codes_fit, codes_test, n_components, seed):
    """Negative log-density of the codes of the training and test rows under
    a mixture of Gaussians fitted to the standardised training codes.

    The detector's recipe, with ``n_components`` Gaussians: diagonal
    covariances with ``DENSITY_REG_COVAR`` added, fitted on at most
    ``DENSITY_MAX_FIT_ROWS`` evenly spaced training codes; components that
    hold less than ``DENSITY_MIN_SHARE / n_components`` of the rows are left
    out, the largest always kept. The density sums the kept components with
    their weights (not renormalised: a constant that does not change the
    ranking or the standardised term).
    """
    center = codes_fit.mean(axis=0)
    scale = codes_fit.std(axis=0) + 1e-12
    fit, test = (codes_fit - center) / scale, (codes_test - center) / scale
    rows = fit
    if len(rows) > DENSITY_MAX_FIT_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, DENSITY_MAX_FIT_ROWS).astype(int)]
    mixture = GaussianMixture(
        n_components=min(n_components, len(rows)),
        covariance_type="diag",
        reg_covar=DENSITY_REG_COVAR,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(rows)
    kept = mixture.weights_ >= DENSITY_MIN_SHARE / n_components
    kept[np.argmax(mixture.weights_)] = True
    means = mixture.means_[kept]
    precisions = 1.0 / mixture.covariances_[kept]
    constants = (
        np.log(mixture.weights_[kept])
        + 0.5 * np.log(precisions / (2 * np.pi)).sum(axis=1)
        - 0.5 * (means**2 * precisions).sum(axis=1)
    )

    def nll(z):
        log_densities = (
            constants + z @ (means * precisions).T - 0.5 * (z * z) @ precisions.T
        )
        return -logsumexp(log_densities, axis=1)

    return nll(fit), nll(test)


def scores_of(det, X_fit, X_test, seed):
    """Every score of ``SCORES`` for the test rows, from a fitted detector:
    name -> abnormality (higher = more anomalous)."""
    errors_fit = _BaseAutoencoder._feature_errors(det, X_fit)
    errors_test = _BaseAutoencoder._feature_errors(det, X_test)
    feature_means = errors_fit.mean(axis=0) + 1e-12
    error = {
        "error": (errors_fit.mean(axis=1), errors_test.mean(axis=1)),
        "normalised error": (
            (errors_fit / feature_means).mean(axis=1),
            (errors_test / feature_means).mean(axis=1),
        ),
    }
    scores = {
        "default": -det.score_samples(X_test),
        "reconstruction only": error["error"][1],
        "normalised error": error["normalised error"][1],
    }

    def codes(X):
        return np.asarray(det._encode(X), dtype=np.float64).reshape(len(X), -1)

    codes_fit, codes_test = codes(X_fit), codes(X_test)
    for k in DENSITY_COMPONENTS:
        nll_fit, nll_test = code_nll(codes_fit, codes_test, k, seed)
        density = _robust_z(nll_fit, nll_test)
        for name, (fit, test) in error.items():
            base = _robust_z(fit, test)
            for weight in DENSITY_WEIGHTS:
                scores[_density_name(name, k, weight)] = base + weight * density
    return scores


# ----------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------
def _auc(y, scores):
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        return np.nan, "non-finite scores"
    return roc_auc_score(y, scores), ""


def run_split(name, collection, X, y, split, quick, progress):
    """Both detectors and PCA on one split of one set, both protocols: one
    result row per (protocol, code, score), and one per protocol for PCA."""
    rows = []
    for X_fit, contamination, X_test, y_test, columns in bench_protocols.protocol_runs(
        name, collection, X, y, split
    ):
        for code, candidate in CODES.items():
            base = {**columns, "code": code, "time_s": np.nan, "error": ""}
            try:
                det, _ = bench_protocols.make_method(
                    candidate, X_fit, contamination, split, quick
                )
                with _common.Timer() as timer:
                    det.fit(X_fit)
                base.update(
                    time_s=timer.seconds,
                    n_components=det.n_components_,
                    n_iter=det.n_iter_,
                )
                scores = scores_of(det, X_fit, X_test, split)
            except Exception as exc:  # a failure must not stop a long run
                base["error"] = f"{type(exc).__name__}: {exc}"
                progress(traceback.format_exc())
                scores = {}
            for score in SCORES:
                row = {
                    **base,
                    "score": score,
                    "method": method_name(code, score),
                    "roc_auc": np.nan,
                }
                if score in scores:
                    row["roc_auc"], row["error"] = _auc(y_test, scores[score])
                rows.append(row)
            progress(
                f"{name:<24} split={split} {columns['protocol']:<12} {code:<12} "
                f"default={rows[-len(SCORES)]['roc_auc']:.3f} "
                f"reconstruction={rows[-len(SCORES) + 1]['roc_auc']:.3f} "
                f"{base['time_s']:.2f}s {base['error']}"
            )
        pca, abnormality = bench_protocols.make_method(
            PCA_METHOD, X_fit, contamination, split, quick
        )
        with _common.Timer() as timer:
            pca.fit(X_fit)
            scores = abnormality(X_test)
        row = {**columns, "code": "PCA", "score": "PCA", "method": PCA_METHOD}
        row["roc_auc"], row["error"] = _auc(y_test, scores)
        row["time_s"] = timer.seconds
        rows.append(row)
    return rows


# ----------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------
def _per_split_means(runs):
    """Mean ROC-AUC per (collection, protocol, method, split)."""
    return runs.groupby(["collection", "protocol", "method", "split"])["roc_auc"].mean()


def _cells(runs):
    return [
        (c, p)
        for c in bench_protocols.COLLECTIONS
        for p in bench_protocols.PROTOCOLS
        if ((runs["collection"] == c) & (runs["protocol"] == p)).any()
    ]


def differences(runs, methods):
    """Per method and cell: its mean minus the default's, and the sd over
    splits of that difference of per-split collection means."""
    means = _per_split_means(runs).unstack("method")
    rows = []
    for method in methods:
        if method == "default" or method not in means.columns:
            continue
        row = {"method": method}
        for collection, protocol in _cells(runs):
            gap = (means[method] - means["default"]).loc[collection, protocol]
            row[f"{collection}, {protocol}"] = gap.mean()
            row[f"{collection}, {protocol} sd"] = gap.std()
        rows.append(row)
    return pd.DataFrame(rows)


def difference_table(diffs, runs):
    """``differences`` for a README: ``+0.003 ± 0.002`` per cell, and which
    cells the variant wins or loses by more than ``LEVEL_MARGIN``."""
    cells = [f"{c}, {p}" for c, p in _cells(runs)]
    table = pd.DataFrame({"method": diffs["method"]})
    for cell in cells:
        table[cell] = [
            f"{gap:+.3f}" + (f" ± {sd:.3f}" if np.isfinite(sd) else "")
            for gap, sd in zip(diffs[cell], diffs[f"{cell} sd"], strict=True)
        ]

    def verdict(row):
        ahead = [c for c in cells if row[c] > LEVEL_MARGIN]
        behind = [c for c in cells if row[c] < -LEVEL_MARGIN]
        if not ahead and not behind:
            return "level in every cell"
        parts = []
        if ahead:
            parts.append("ahead: " + "; ".join(ahead))
        if behind:
            parts.append("behind: " + "; ".join(behind))
        return " / ".join(parts)

    table[f"beyond ±{LEVEL_MARGIN}"] = diffs.apply(verdict, axis=1)
    return table


def write_outputs(runs, out, mode, git):
    """Write runs.csv, the tables and README.md."""
    methods = [m for m in METHODS if m in set(runs["method"])]
    runs.to_csv(out / "runs.csv", index=False)
    cells = bench_protocols.cell_summary(runs, methods)
    cells.to_csv(out / "cells.csv", index=False)
    headline, leaders = bench_protocols.headline_table(cells, methods)
    below = bench_protocols.below_pca(runs, methods).rename(columns={"skae": "score"})
    below.to_csv(out / "below_pca_clean.csv", index=False)
    counts = (
        below.groupby("method")["set"].count() if len(below) else pd.Series(dtype=int)
    )
    headline[f"sets > {bench_protocols.BELOW_PCA_MARGIN} below PCA, clean"] = [
        "" if m == PCA_METHOD else int(counts.get(m, 0)) for m in headline["method"]
    ]
    diffs = differences(runs, methods)
    diffs.to_csv(out / "differences.csv", index=False)
    diff_table = difference_table(diffs, runs)
    per_set = {
        p: bench_protocols.per_set_table(runs, methods, p)
        for p in bench_protocols.PROTOCOLS
    }
    for protocol, table in per_set.items():
        table.to_csv(out / f"per_set_{protocol}.csv", index=False)
    level = diff_table.loc[
        diff_table[f"beyond ±{LEVEL_MARGIN}"] == "level in every cell", "method"
    ]
    errors = runs[runs["error"].fillna("") != ""]
    shown = [
        m
        for m in (
            "default",
            "reconstruction only",
            "normalised error",
            method_name("90% code", "default"),
            PCA_METHOD,
        )
        if m in methods
    ]
    time = (
        runs.drop_duplicates(["set", "protocol", "split", "code"])
        .groupby("code")["time_s"]
        .sum()
        .reindex([*CODES, "PCA"])
        .dropna()
    )
    lines = [
        f"# Scores and code sizes of the detector over the development suite "
        f"({mode} mode)\n",
        "Generated by `benchmarks/bench_detector_scores.py` on "
        f"{_common.describe_code(git)}; see `meta.json` for the command, machine "
        f"and versions. {runs['set'].nunique()} sets, {runs['split'].nunique()} "
        "split(s) each, both protocols of `bench_protocols.py`: 60/40 "
        "stratified (`random_state` = split), StandardScaler fitted on the "
        "training rows, rows capped at 10,000. *contaminated*: fitted on all "
        "training rows, `contamination` = the training outlier fraction; "
        '*clean*: fitted on the training inliers, `contamination="auto"`. '
        "Test ROC-AUC.\n",
        "Two detectors per set, split and protocol ("
        + "; ".join(f"**{c}**: {label}" for c, label in CODE_LABELS.items())
        + "), each scored in every way below; the rows of the 90% code are "
        "prefixed `90% code:`. Scores: "
        + "; ".join(f"**{s}** = {label}" for s, label in SCORE_LABELS.items())
        + f". The density's mixture: diagonal covariances, `reg_covar="
        f"{DENSITY_REG_COVAR}` on the standardised codes, fitted on at most "
        f"{DENSITY_MAX_FIT_ROWS:,} training rows, components holding less than "
        f"{DENSITY_MIN_SHARE} / k of the rows left out. **PCA** = "
        f"{bench_protocols.PEER_LABELS[PCA_METHOD]}, the reference peer. "
        "The default's own score standardises its terms on the validation "
        "rows the network did not train on; the other scores standardise "
        "theirs on all training rows.\n",
        "## Mean ROC-AUC per cell\n",
        "Mean over the collection's sets ± the sd over splits of the "
        "per-split collection means; the best of each column in bold. Last "
        f"column: the sets where the score is more than "
        f"{bench_protocols.BELOW_PCA_MARGIN} below PCA in the clean protocol "
        "(means over splits).\n",
        _common.markdown_table(headline),
        "\nLeader of each cell: "
        + "; ".join(f"{cell}: **{m}**" for cell, m in leaders.items())
        + ".\n",
        "## Difference from the default\n",
        "Each score's mean minus the default's (default code, default score), "
        "± the sd over splits of the difference of the per-split collection "
        f"means; last column: the cells where it is more than {LEVEL_MARGIN} "
        "above or below.\n",
        _common.markdown_table(diff_table),
        f"\nWithin ±{LEVEL_MARGIN} of the default in every cell: "
        + (", ".join(f"**{m}**" for m in level) if len(level) else "none")
        + ".\n",
        f"## Sets more than {bench_protocols.BELOW_PCA_MARGIN} below PCA, clean "
        "protocol\n",
        _common.markdown_table(below) if len(below) else "None (means over splits).",
        "\n## Time\n",
        "Fit time of each model, every run summed (seconds; one thread, on a "
        "machine shared with other work; the scores other than the default "
        "are not timed): "
        + "; ".join(f"{code} {seconds:.0f} s" for code, seconds in time.items())
        + ".\n",
    ]
    for protocol in bench_protocols.PROTOCOLS:
        lines += [
            f"\n## Per set, {protocol} protocol (mean ROC-AUC over splits)\n",
            f"A few columns; every score in `per_set_{protocol}.csv`.\n",
            _common.markdown_table(
                per_set[protocol][["collection", "set", "n_splits", *shown]]
            ),
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
    return headline, diff_table


def main(argv=None):
    """Run the comparison of scores and code sizes.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    runs : pandas.DataFrame or None
        One row per (set, protocol, split, code, score), and one per (set,
        protocol, split) for PCA; ``None`` without data.
    """

    def start(args, progress):
        quick = args.quick or args.smoke

        def run_one(name, collection, X, y, split):
            return run_split(name, collection, X, y, split, quick, progress)

        settings = {
            "codes": CODE_LABELS,
            "scores": list(SCORES),
            "contamination": {
                "contaminated": "training outlier fraction, at most 0.5",
                "clean": "'auto'",
            },
            "density": {
                "components": list(DENSITY_COMPONENTS),
                "weights": list(DENSITY_WEIGHTS),
                "covariance_type": "diag",
                "reg_covar": DENSITY_REG_COVAR,
                "max_fit_rows": DENSITY_MAX_FIT_ROWS,
                "min_share": DENSITY_MIN_SHARE,
            },
            "quick_overrides": (
                {"skae": bench_protocols.QUICK_SKAE_PARAMS} if quick else None
            ),
        }
        return run_one, settings

    return bench_protocols.run_main(
        NAME,
        __doc__.splitlines()[0],
        argv,
        full_splits=FULL_SPLITS,
        prepare=lambda parser: start,
        write_outputs=lambda *a: write_outputs(*a)[0],
    )


if __name__ == "__main__":
    main()
