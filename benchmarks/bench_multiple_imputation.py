"""Multiple imputation: draws of skae's variational imputer against
IterativeImputer's posterior draws.

The sets, row caps, holes and normalised RMSE are those of
``bench_imputation.py`` (see its docstring): raw values, cells hidden
completely at random (MCAR 10% and 30%, each row and column keeping an
observed cell), transductive. For each set and pattern, ``M`` imputations
of the masked set are drawn:

- **skae**: ``AutoencoderImputer(variational=True, sample_posterior=True,
  random_state=seed)`` fitted once, then ``transform`` called ``M`` times
  (each call draws new codes from the posterior);
- **IterativeImputer**: ``IterativeImputer(BayesianRidge(),
  sample_posterior=True, max_iter=10, random_state=seed * M + m)`` fitted
  and applied once per draw ``m``, scikit-learn's recipe for multiple
  imputation.

For each method: the NRMSE of a single draw (averaged over the ``M``
draws), the NRMSE of the mean of the draws, and the **coverage**: the share
of hidden cells whose true value lies between the 5th and the 95th
percentile of its ``M`` draws (90% for draws as spread as the uncertainty;
lower for draws too narrow). Beside them, the NRMSE of skae's best guess,
``AutoencoderImputer(variational=True)`` (the same network, codes at their
mean). The time covers fitting and all ``M`` imputations.

Run ``python benchmarks/bench_multiple_imputation.py --help`` for the options.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import bench_imputation  # noqa: E402

from skae import AutoencoderImputer  # noqa: E402

NAME = "multiple_imputation"
SETS = (
    "breast_cancer",
    "wine",
    "diabetes",
    "cardio",
    "letter",
    "pendigits",
    "vowels",
    "pima",
    "shuttle",
    "cover",
    "donors",
    "skin",
)
MAX_ROWS = 1_500
PATTERNS = ("MCAR 10%", "MCAR 30%")
N_DRAWS = 20
#: The draws' central interval whose coverage is measured, in percent.
INTERVAL = (5, 95)
QUICK_SETS = ("wine", "diabetes")
QUICK_DRAWS = 5
QUICK_SKAE = {"max_iter": 3}
QUICK_ITERATIVE = {"max_iter": 2}


def skae_draws(X_masked, seed, n_draws, quick):
    """``n_draws`` imputations of ``X_masked`` by one fitted imputer, and
    the best guess of the same network."""
    params = {"variational": True, "random_state": seed}
    if quick:
        params.update(QUICK_SKAE)
    imputer = AutoencoderImputer(sample_posterior=True, **params).fit(X_masked)
    draws = np.array([imputer.transform(X_masked) for _ in range(n_draws)])
    best = imputer.set_params(sample_posterior=False).transform(X_masked)
    return draws, best


def iterative_draws(X_masked, seed, n_draws, quick):
    """``n_draws`` imputations of ``X_masked``, one fitted IterativeImputer
    each."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer
    from sklearn.linear_model import BayesianRidge

    draws = []
    for m in range(n_draws):
        imputer = IterativeImputer(
            estimator=BayesianRidge(),
            sample_posterior=True,
            max_iter=QUICK_ITERATIVE["max_iter"] if quick else 10,
            random_state=seed * n_draws + m,
        )
        with warnings.catch_warnings():
            # IterativeImputer warns when it stops at max_iter, which the
            # protocol fixes.
            warnings.simplefilter("ignore", ConvergenceWarning)
            draws.append(imputer.fit_transform(X_masked))
    return np.array(draws)


def coverage(X, draws, mask):
    """Share of the hidden cells whose true value lies in the central
    interval of its draws."""
    low, high = np.percentile(draws, INTERVAL, axis=0)
    inside = (X >= low) & (X <= high)
    return float(inside[mask].mean())


def run(name, collection, X, seed, pattern, n_draws, quick):
    mask = bench_imputation.make_mask(X, pattern, seed)
    X_masked = np.where(mask, np.nan, X)
    rows = []
    for method, draw in (("skae", skae_draws), ("IterativeImputer", iterative_draws)):
        with _common.Timer() as timer:
            result = draw(X_masked, seed, n_draws, quick)
        draws, best = result if method == "skae" else (result, None)
        rows.append(
            {
                "set": name,
                "collection": collection,
                "n_rows": X.shape[0],
                "n_features": X.shape[1],
                "pattern": pattern,
                "seed": seed,
                "method": method,
                "one_draw_nrmse": np.mean(
                    [bench_imputation.nrmse(X, d, mask) for d in draws]
                ),
                "mean_of_draws_nrmse": bench_imputation.nrmse(
                    X, draws.mean(axis=0), mask
                ),
                "coverage_90": coverage(X, draws, mask),
                "best_guess_nrmse": (
                    np.nan if best is None else bench_imputation.nrmse(X, best, mask)
                ),
                "seconds": timer.seconds,
            }
        )
    return rows


def write_outputs(runs, out, mode, git, n_draws):
    runs.to_csv(out / "runs.csv", index=False)
    metrics = ["one_draw_nrmse", "mean_of_draws_nrmse", "coverage_90", "seconds"]
    mean = (
        runs.groupby(["pattern", "method"], sort=False)[[*metrics, "best_guess_nrmse"]]
        .mean()
        .reset_index()
    )
    per_set = runs.pivot_table(
        index=["set", "pattern"],
        columns="method",
        values=["coverage_90", "mean_of_draws_nrmse"],
        sort=False,
    )
    per_set.columns = [f"{method} {metric}" for metric, method in per_set.columns]
    per_set = per_set.reset_index()
    lines = [
        f"# Multiple imputation ({mode} mode)\n",
        f"Generated by `benchmarks/bench_multiple_imputation.py` on "
        f"{_common.describe_code(git)}; see `meta.json` for the command, "
        "machine, versions and settings, and the script's docstring for the "
        f"protocol. Draws per set and pattern: {n_draws}. Coverage: share of "
        "hidden cells whose true value lies between the 5th and 95th "
        "percentile of its draws (0.90 for draws as spread as the "
        "uncertainty). NRMSE: lower is better; `best_guess_nrmse` is skae's "
        "network with codes at their mean.\n",
        "## Means over the sets\n",
        _common.markdown_table(mean) + "\n",
        "## Per set\n",
        _common.markdown_table(per_set) + "\n",
    ]
    (out / "README.md").write_text("\n".join(lines))
    return mean


def main(argv=None):
    """Run the benchmark; return the per-run rows."""
    parser = _common.make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--sets", help="comma-separated sets (default: all)")
    parser.add_argument("--draws", type=int, help=f"draws per set ({N_DRAWS})")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    progress = _common.Progress(NAME)
    quick = args.quick or args.smoke
    mode = _common.mode_name(args)
    names = args.sets.split(",") if args.sets else QUICK_SETS if quick else SETS
    n_draws = args.draws or (QUICK_DRAWS if quick else N_DRAWS)
    patterns = PATTERNS[:1] if quick else PATTERNS
    with _common.limit_threads(args.threads):
        started, git = _common.utc_now(), _common.git_state()
        args.out.mkdir(parents=True, exist_ok=True)
        rows = []
        for name in names:
            if name not in bench_imputation.SKLEARN_SETS and not _common.has_data():
                progress(f"{name}: skipped, no data in {_common.DATA_DIR}")
                continue
            X, collection = bench_imputation.load_set(name, MAX_ROWS)
            for pattern in patterns:
                rows.extend(run(name, collection, X, 0, pattern, n_draws, quick))
                skae, iterative = rows[-2:]
                progress(
                    f"{name} {pattern}: coverage skae {skae['coverage_90']:.3f}, "
                    f"IterativeImputer {iterative['coverage_90']:.3f}"
                )
        runs = pd.DataFrame(rows)
        mean = write_outputs(runs, args.out, mode, git, n_draws)
        _common.write_meta(
            args.out,
            argv,
            started=started,
            git=git,
            seconds=progress.elapsed,
            settings={
                "mode": mode,
                "sets": list(runs["set"].unique()),
                "patterns": list(patterns),
                "draws": n_draws,
                "max_rows": MAX_ROWS,
                "interval": list(INTERVAL),
                "quick_overrides": (
                    {"skae": QUICK_SKAE, "iterative": QUICK_ITERATIVE}
                    if quick
                    else None
                ),
                "threads": args.threads,
            },
        )
        progress(f"done; results in {args.out}")
        print(_common.markdown_table(mean), flush=True)
        return runs


if __name__ == "__main__":
    main()
