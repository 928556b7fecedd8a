"""Imputation of missing cells, and outlier detection with holes.

**Imputation.** For every set (scikit-learn's bundled ``load_breast_cancer``,
``load_wine`` and ``load_diabetes`` with raw values, ODDS and ADBench sets
of ``shared/data`` with inliers and outliers together, and a subsample of
the MNIST test images), rows are capped at ``--max-rows`` (the sets in
``LARGE_SETS`` at ``--large-rows``, for the speed goal on sets over 5,000
rows; seed 0, stratified by the label where there is one). Nothing is
standardised: every imputer sees raw values (the autoencoder scales
internally). For each seed and missingness pattern, cells of the whole set
are hidden:

- ``MCAR r``: each cell is hidden with probability ``r`` (10%, 30%, 50%);
  a row (or column) left with no observed cell gets one of its cells, drawn
  at random, back;
- ``MAR 30%``: two distinct non-constant columns ``j`` and ``k`` are drawn;
  the cells of column ``j`` are hidden with probability
  ``0.6 * rank(x_k) / n`` (mean 30%), rising with the observed value of
  column ``k``, which stays complete.

Each imputer is fitted on the masked set and fills it (``fit_transform``,
transductive, as the imputation literature does), and is scored on the
hidden cells. With ``s_j`` the standard deviation of feature ``j`` over its
observed cells of the masked set, the normalised RMSE is

    NRMSE = sqrt( mean over hidden cells (i, j) of ((xhat_ij - x_ij) / s_j)^2 )

(features with ``s_j = 0`` are left out of the mean). The time of
``fit_transform`` is recorded. The imputers: ``AutoencoderImputer()`` with
its defaults, ``SimpleImputer(strategy="mean")``, ``KNNImputer()``,
``IterativeImputer(BayesianRidge(), max_iter=10)`` and
``IterativeImputer(ExtraTreesRegressor(n_estimators=50), max_iter=10)``
(scikit-learn's stand-in for missForest), all with ``random_state=seed``.

**Detection with holes.** On ODDS sets, the contaminated protocol of
``bench_protocols.py``: a 60/40 stratified split (``random_state=seed``);
cells are hidden MCAR at 10% and 30% in both parts (as above, per part); a
``StandardScaler`` (which ignores NaN) is fitted on the masked training
rows. ``AutoencoderOutlierDetector(contamination=training outlier
fraction)`` and ``IsolationForest`` (which accepts NaN) are fitted on all
training rows and scored by ROC-AUC on the test rows; skae is also fitted on
the complete data (``_common.pyod_split``). Goal: skae at 10% holes within
0.02 of its complete-data ROC-AUC and above IsolationForest, on the mean
over the sets.

Run ``python benchmarks/bench_imputation.py --help`` for the options.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

from skae import AutoencoderImputer, AutoencoderOutlierDetector  # noqa: E402

NAME = "imputation"
SKLEARN_SETS = ("breast_cancer", "wine", "diabetes")
ODDS_SETS = ("cardio", "letter", "musk", "optdigits", "pendigits", "satellite")
ODDS_LARGE = ("shuttle",)
ADBENCH_SETS = ("donors", "skin")
ADBENCH_LARGE = ("cover",)
IMPUTATION_SETS = (
    *SKLEARN_SETS,
    *ODDS_SETS,
    *ODDS_LARGE,
    *ADBENCH_SETS,
    *ADBENCH_LARGE,
    "mnist784",
)
LARGE_SETS = (*ODDS_LARGE, *ADBENCH_LARGE)
DETECTION_SETS = _common.ODDS_DATASETS
MAX_ROWS = 3_000
LARGE_ROWS = 6_000
PATTERNS = ("MCAR 10%", "MCAR 30%", "MCAR 50%", "MAR 30%")
HOLES = (0.1, 0.3)
IMPUTERS = (
    "skae",
    "SimpleImputer(mean)",
    "KNNImputer",
    "IterativeImputer(BayesianRidge)",
    "IterativeImputer(ExtraTrees)",
)
ET_NAME = "IterativeImputer(ExtraTrees)"
QUICK_SETS = ("wine", "diabetes")
QUICK_PATTERNS = ("MCAR 10%",)
QUICK_DETECTION_SETS = ("wbc",)
QUICK_SKAE = {"max_iter": 3}
QUICK_ITERATIVE = {"max_iter": 2}
QUICK_TREES = 10


# ----------------------------------------------------------------------
# Data and holes
# ----------------------------------------------------------------------
def _subsample(X, y, max_rows):
    if len(X) <= max_rows:
        return X, y
    rng = np.random.RandomState(0)
    keep = np.sort(rng.choice(len(X), max_rows, replace=False))
    return X[keep], y[keep]


def load_set(name, max_rows):
    """Raw ``X`` (float64) of a set, at most ``max_rows`` rows, and its
    collection's name."""
    import sklearn.datasets

    if name in SKLEARN_SETS:
        kwargs = {"scaled": False} if name == "diabetes" else {}
        X, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True, **kwargs)
        X, _ = _subsample(np.asarray(X, dtype=np.float64), y, max_rows)
        return X, "scikit-learn"
    if name == "mnist784":
        X, y = _common.load_mnist()
        return _subsample(X, y, max_rows)[0], "MNIST"
    X, _ = _common.load_outlier_set(name, max_rows)
    return X, "ODDS" if name in _common.ODDS_DATASETS else "ADBench"


def _keep_one_observed(mask, rng):
    """Give back one hidden cell, drawn at random, to each row and column of
    ``mask`` (True = hidden) that has none observed."""
    for axis in (1, 0):
        full = np.flatnonzero(mask.all(axis=axis))
        other = rng.randint(mask.shape[axis], size=len(full))
        if axis == 1:
            mask[full, other] = False
        else:
            mask[other, full] = False
    return mask


def mcar_mask(shape, rate, rng):
    """Cells hidden independently with probability ``rate``, every row and
    column keeping an observed cell."""
    return _keep_one_observed(rng.uniform(size=shape) < rate, rng)


def mar_mask(X, rng, mean_rate=0.3):
    """Cells of one column hidden with probability rising with another
    column's value: ``2 * mean_rate * rank(x_k) / n``."""
    varying = np.flatnonzero(np.nanstd(X, axis=0) > 0)
    j, k = rng.choice(varying, 2, replace=False)
    ranks = pd.Series(X[:, k]).rank().to_numpy() / len(X)
    mask = np.zeros(X.shape, dtype=bool)
    mask[:, j] = rng.uniform(size=len(X)) < 2 * mean_rate * ranks
    return _keep_one_observed(mask, rng)


def make_mask(X, pattern, seed):
    rng = np.random.RandomState(seed)
    if pattern.startswith("MAR"):
        return mar_mask(X, rng)
    return mcar_mask(X.shape, int(pattern.split()[1].rstrip("%")) / 100, rng)


def nrmse(X, X_filled, mask):
    """Normalised RMSE on the hidden cells (see the module docstring)."""
    X_masked = np.where(mask, np.nan, X)
    scale = np.nanstd(X_masked, axis=0)
    rows, cols = np.nonzero(mask & (scale > 0))
    errors = (X_filled[rows, cols] - X[rows, cols]) / scale[cols]
    return float(np.sqrt(np.mean(errors**2)))


# ----------------------------------------------------------------------
# Imputers
# ----------------------------------------------------------------------
def make_imputer(name, seed, quick):
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
    from sklearn.linear_model import BayesianRidge

    iterative = {"max_iter": 10, "random_state": seed}
    if quick:
        iterative.update(QUICK_ITERATIVE)
    if name == "skae":
        return AutoencoderImputer(random_state=seed, **(QUICK_SKAE if quick else {}))
    if name == "SimpleImputer(mean)":
        return SimpleImputer(strategy="mean")
    if name == "KNNImputer":
        return KNNImputer()
    if name == "IterativeImputer(BayesianRidge)":
        return IterativeImputer(estimator=BayesianRidge(), **iterative)
    if name == ET_NAME:
        trees = ExtraTreesRegressor(
            n_estimators=QUICK_TREES if quick else 50, n_jobs=1, random_state=seed
        )
        return IterativeImputer(estimator=trees, **iterative)
    raise ValueError(f"unknown imputer {name!r}")


def run_imputation(name, collection, X, seed, pattern, imputers, quick):
    mask = make_mask(X, pattern, seed)
    X_masked = np.where(mask, np.nan, X)
    rows = []
    for imputer in imputers:
        model = make_imputer(imputer, seed, quick)
        with _common.Timer() as timer, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            X_filled = model.fit_transform(X_masked)
        assert X_filled.shape == X.shape and np.isfinite(X_filled).all(), imputer
        rows.append(
            {
                "set": name,
                "collection": collection,
                "n_rows": X.shape[0],
                "n_features": X.shape[1],
                "seed": seed,
                "pattern": pattern,
                "missing_share": float(mask.mean()),
                "imputer": imputer,
                "nrmse": nrmse(X, X_filled, mask),
                "time_s": timer.seconds,
            }
        )
    return rows


# ----------------------------------------------------------------------
# Detection with holes
# ----------------------------------------------------------------------
def run_detection(name, X, y, seed, quick):
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, random_state=seed, stratify=y
    )
    contamination = min(0.5, float(np.mean(y_train)))
    params = {"contamination": contamination, "random_state": seed}
    params.update(QUICK_SKAE if quick else {})
    rows = []

    def record(method, holes, model, train, test):
        with _common.Timer() as timer:
            model.fit(train)
            scores = -model.score_samples(test)
        rows.append(
            {
                "set": name,
                "seed": seed,
                "holes": holes,
                "method": method,
                "roc_auc": roc_auc_score(y_test, scores),
                "time_s": timer.seconds,
            }
        )

    scaler = StandardScaler().fit(X_train)
    record(
        "skae",
        0.0,
        AutoencoderOutlierDetector(**params),
        scaler.transform(X_train),
        scaler.transform(X_test),
    )
    for holes in HOLES:
        rng = np.random.RandomState(seed)
        train = np.where(mcar_mask(X_train.shape, holes, rng), np.nan, X_train)
        test = np.where(mcar_mask(X_test.shape, holes, rng), np.nan, X_test)
        scaler = StandardScaler().fit(train)
        train, test = scaler.transform(train), scaler.transform(test)
        record("skae", holes, AutoencoderOutlierDetector(**params), train, test)
        record(
            "IsolationForest", holes, IsolationForest(random_state=seed), train, test
        )
    return rows


# ----------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------
def summarise_imputation(runs):
    per_set = runs.groupby(["set", "pattern", "imputer"], sort=False)[
        ["nrmse", "time_s"]
    ].mean()
    mean = (
        per_set["nrmse"]
        .groupby(["pattern", "imputer"], sort=False)
        .mean()
        .unstack("imputer")
    )
    times = (
        per_set["time_s"]
        .groupby(["pattern", "imputer"], sort=False)
        .mean()
        .unstack("imputer")
    )
    return per_set.reset_index(), mean, times


def speed_table(runs, min_rows=5_000):
    large = runs[runs["n_rows"] > min_rows]
    if large.empty:
        return pd.DataFrame()
    t = large.pivot_table(
        index=["set", "n_rows", "pattern"], columns="imputer", values="time_s"
    ).reset_index()
    t[f"{ET_NAME} / skae"] = t[ET_NAME] / t["skae"]
    return t


def goals(mean, speed):
    out = []

    def best(pattern):
        row = mean.loc[pattern]
        return row.idxmin(), row

    for pattern in ("MCAR 30%", "MCAR 50%"):
        if pattern in mean.index:
            winner, row = best(pattern)
            out.append(
                {
                    "goal": f"skae lowest mean NRMSE at {pattern}",
                    "value": f"skae {row['skae']:.3f}, best {winner} {row[winner]:.3f}",
                    "met": winner == "skae",
                }
            )
    if "MCAR 10%" in mean.index:
        row = mean.loc["MCAR 10%"]
        out.append(
            {
                "goal": "skae no worse than KNNImputer at MCAR 10%",
                "value": f"skae {row['skae']:.3f}, KNNImputer {row['KNNImputer']:.3f}",
                "met": row["skae"] <= row["KNNImputer"],
            }
        )
    if not speed.empty:
        ratio = speed[f"{ET_NAME} / skae"]
        out.append(
            {
                "goal": f"skae at least 5x faster than {ET_NAME} on sets over "
                "5,000 rows (every set and pattern)",
                "value": f"ratio min {ratio.min():.1f}, median {ratio.median():.1f}",
                "met": bool(ratio.min() >= 5),
            }
        )
    return pd.DataFrame(out)


def summarise_detection(det):
    table = det.pivot_table(
        index="set", columns=["method", "holes"], values="roc_auc"
    ).sort_index(axis=1)
    table.columns = [f"{m} {int(h * 100)}% holes" for m, h in table.columns]
    table = table.rename(columns={"skae 0% holes": "skae complete"})
    order = ["skae complete"] + [
        f"{m} {int(h * 100)}% holes" for h in HOLES for m in ("skae", "IsolationForest")
    ]
    table = table[order]
    table.loc["mean"] = table.mean()
    return table.reset_index()


def detection_goal(table):
    mean = table[table["set"] == "mean"].iloc[0]
    drop = mean["skae complete"] - mean["skae 10% holes"]
    above = mean["skae 10% holes"] - mean["IsolationForest 10% holes"]
    return pd.DataFrame(
        [
            {
                "goal": "skae at 10% holes within 0.02 of complete data (mean)",
                "value": f"{mean['skae 10% holes']:.3f} vs {mean['skae complete']:.3f}"
                f" (drop {drop:.3f})",
                "met": bool(drop <= 0.02),
            },
            {
                "goal": "skae above IsolationForest at 10% holes (mean)",
                "value": f"{mean['skae 10% holes']:.3f} vs "
                f"{mean['IsolationForest 10% holes']:.3f}",
                "met": bool(above > 0),
            },
        ]
    )


def write_outputs(runs, det, out, mode, git, settings):
    lines = [
        f"# Imputation, and outlier detection with holes ({mode} mode)\n",
        f"Generated by `benchmarks/bench_imputation.py` on "
        f"{_common.describe_code(git)}"
        f"{'' if git.get('dirty') else ' (clean tree)'}; see `meta.json` for the "
        "command, machine, versions and settings, and the script's docstring "
        f"for the protocol. Seeds: {settings['seeds']}.\n",
    ]
    if settings["sets"]:
        lines[-1] += (
            "\nImputation: NRMSE is the RMSE on the hidden cells, each cell's "
            "error divided by its feature's standard deviation over the observed "
            "cells (lower is better); transductive (each imputer fits and fills "
            f"the masked set). Rows capped at {settings['max_rows']:,} "
            f"({settings['large_rows']:,} for {', '.join(LARGE_SETS)}).\n"
        )
    if settings["detection_sets"]:
        lines[-1] += (
            "\nDetection: ODDS sets capped at "
            f"{settings['detection_max_rows']:,} rows; ROC-AUC on the test rows "
            "(40%), skae fitted with contamination = the training outlier "
            "fraction.\n"
        )
    goal_tables = []
    if runs is not None and not runs.empty:
        runs.to_csv(out / "runs.csv", index=False)
        per_set, mean, times = summarise_imputation(runs)
        speed = speed_table(runs)
        goal_tables.append(goals(mean, speed))
        n_sets = runs["set"].nunique()
        lines.append(f"## Mean NRMSE over the {n_sets} sets\n")
        lines.append(_common.markdown_table(mean.reset_index()) + "\n")
        wide = per_set.pivot_table(
            index=["set", "pattern"], columns="imputer", values="nrmse", sort=False
        )[list(mean.columns)]
        wide.insert(0, "best", wide.idxmin(axis=1))
        wins = wide["best"].value_counts().reindex(mean.columns, fill_value=0).to_dict()
        lines.append("## NRMSE per set\n")
        lines.append(
            "Lowest per row: "
            + ", ".join(f"{k} {v}" for k, v in wins.items())
            + f" (of {len(wide)}).\n"
        )
        lines.append(_common.markdown_table(wide.reset_index()) + "\n")
        lines.append("## Time of fit + transform (s), mean over sets\n")
        lines.append(_common.markdown_table(times.reset_index(), ".2f") + "\n")
        if not speed.empty:
            lines.append("### Sets over 5,000 rows\n")
            lines.append(_common.markdown_table(speed, ".2f") + "\n")
        sizes = (
            runs.groupby("set", sort=False)[["collection", "n_rows", "n_features"]]
            .first()
            .reset_index()
        )
        lines.append("## Sets\n")
        lines.append(_common.markdown_table(sizes) + "\n")
    if det is not None and not det.empty:
        det.to_csv(out / "detection_runs.csv", index=False)
        table = summarise_detection(det)
        table.to_csv(out / "detection.csv", index=False)
        goal_tables.append(detection_goal(table))
        lines.append("## Detection with holes: ROC-AUC (contaminated protocol)\n")
        lines.append(_common.markdown_table(table) + "\n")
    goal_table = pd.concat(goal_tables, ignore_index=True) if goal_tables else None
    if goal_table is not None:
        lines.insert(1, "## Goals\n\n" + _common.markdown_table(goal_table) + "\n")
    (out / "README.md").write_text("\n".join(lines))
    return goal_table


def _names(text, default):
    return tuple(s for s in text.split(",") if s) if text else default


def main(argv=None):
    """Run the benchmark; return ``(runs, detection_runs)``, or ``None``
    without the shared data."""
    parser = _common.make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds (mask, models)")
    parser.add_argument("--sets", help="comma-separated imputation sets")
    parser.add_argument(
        "--detection-sets", help="comma-separated ODDS sets for detection"
    )
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS)
    parser.add_argument("--large-rows", type=int, default=LARGE_ROWS)
    parser.add_argument(
        "--part",
        choices=("both", "imputation", "detection"),
        default="both",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    progress = _common.Progress(NAME)
    if not all(_common.has_data(d) for d in ("odds", "adbench", "mnist")):
        progress(f"skipped: no ODDS, ADBench or MNIST data in {_common.DATA_DIR}")
        return None
    quick = args.quick or args.smoke
    mode = _common.mode_name(args)
    max_rows, large_rows = args.max_rows, args.large_rows
    if args.smoke:
        max_rows = large_rows = 150
    sets = _names(args.sets, QUICK_SETS if quick else IMPUTATION_SETS)
    patterns = PATTERNS if not quick else QUICK_PATTERNS
    if args.smoke:
        patterns = ("MCAR 10%", "MAR 30%")
    det_sets = _names(
        args.detection_sets, QUICK_DETECTION_SETS if quick else DETECTION_SETS
    )
    settings = {
        "mode": mode,
        "seeds": args.seeds,
        "sets": list(sets) if args.part != "detection" else [],
        "patterns": list(patterns),
        "detection_sets": list(det_sets) if args.part != "imputation" else [],
        "holes": list(HOLES),
        "max_rows": max_rows,
        "large_rows": large_rows,
        "detection_max_rows": 400 if args.smoke else max_rows,
        "imputers": list(IMPUTERS),
        "quick_overrides": (
            {"skae": QUICK_SKAE, "iterative": QUICK_ITERATIVE, "trees": QUICK_TREES}
            if quick
            else None
        ),
        "threads": args.threads,
    }
    with _common.limit_threads(args.threads):
        started, git = _common.utc_now(), _common.git_state()
        args.out.mkdir(parents=True, exist_ok=True)
        rows, det_rows = [], []
        if args.part != "detection":
            for name in sets:
                X, collection = load_set(
                    name, large_rows if name in LARGE_SETS else max_rows
                )
                for seed in range(args.seeds):
                    for pattern in patterns:
                        new = run_imputation(
                            name, collection, X, seed, pattern, IMPUTERS, quick
                        )
                        rows += new
                        progress(
                            f"{name} {X.shape} seed {seed} {pattern}: "
                            + ", ".join(
                                f"{r['imputer']} {r['nrmse']:.3f} ({r['time_s']:.1f}s)"
                                for r in new
                            )
                        )
        if args.part != "imputation":
            cap = settings["detection_max_rows"]
            for name in det_sets:
                X, y = _common.load_outlier_set(name, cap)
                for seed in range(args.seeds):
                    new = run_detection(name, X, y, seed, quick)
                    det_rows += new
                    progress(
                        f"detection {name} seed {seed}: "
                        + ", ".join(
                            f"{r['method']} {r['holes']} {r['roc_auc']:.3f}"
                            for r in new
                        )
                    )
        runs = pd.DataFrame(rows)
        det = pd.DataFrame(det_rows)
        goal_table = write_outputs(runs, det, args.out, mode, git, settings)
        _common.write_meta(
            args.out,
            argv,
            started=started,
            git=git,
            seconds=progress.elapsed,
            settings=settings,
        )
        progress(f"done; results in {args.out}")
        if goal_table is not None:
            print(_common.markdown_table(goal_table), flush=True)
        return runs, det


if __name__ == "__main__":
    main()
