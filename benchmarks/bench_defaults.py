"""How skae's defaults were chosen: candidate settings of both estimators
compared on every suite, with IsolationForest and PCA beside them.

Detector candidates run on the 17 ODDS sets (PyOD's protocol: 60/40 splits,
standardised on the training split, ``contamination`` = the training outlier
fraction), on ODDS inliers with ADBench-style synthetic anomalies (local,
global, dependency, clustered), on small data sets of our own, on training
data contaminated by planted outliers (scored on the training rows
themselves), and on the calibration of ``predict`` on new inliers (breast
cancer, and every ODDS split). Transformer candidates run on digits, breast
cancer and a swiss roll: held-out reconstruction error relative to PCA's at
the same ``n_components``. The defaults are the candidates named "default";
the mean over all suites decides, not the 17 alone.

Run ``python benchmarks/bench_defaults.py --help`` for the options.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, make_swiss_roll
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _anomalies  # noqa: E402
import _common  # noqa: E402

from skae import AutoencoderOutlierDetector, AutoencoderTransformer  # noqa: E402

NAME = "defaults"

#: Detector candidates: parameters of AutoencoderOutlierDetector.
DETECTORS = {
    "default": {},
    "previous default (reconstruction only, lr 3e-3)": {
        "density_components": None,
        "learning_rate_init": 3e-3,
    },
    "lr 3e-3": {"learning_rate_init": 3e-3},
    "200 epochs": {"max_iter": 200},
    "wider branches": {"hidden_layer_sizes": (128, 64)},
    "mlp network": {
        "architecture": "mlp",
        "hidden_layer_sizes": (128, 64),
        "max_iter": 200,
        "batch_size": 128,
        "learning_rate_init": 3e-3,
    },
}
#: Candidates whose code size depends on the data: name -> function of the
#: number of features giving ``n_components``.
CODE_SIZES = {
    "half code (the rule before)": lambda n: max(1, n // 2),
}
#: Ensemble candidates: ``SubsampleEnsemble`` parameters.
ENSEMBLES = {
    "ensemble 10 x 256 rows": {"n_estimators": 10, "max_samples": 256},
    "ensemble 10 x 256 rows, feature bagging": {
        "n_estimators": 10,
        "max_samples": 256,
        "feature_bagging": True,
    },
}
BASELINES = ("IForest", "PCA (PyOD)")

#: Transformer candidates: parameters of AutoencoderTransformer.
TRANSFORMERS = {
    "default": {},
    "residual, standard scaling": {"scaling": "standard"},
    "mlp, global scaling": {"architecture": "mlp", "scaling": "global"},
    "previous default (mlp, standard scaling)": {
        "architecture": "mlp",
        "scaling": "standard",
    },
}
REDUCTION_COMPONENTS = {
    "digits": (2, 4, 8, 16, 32, 48),
    "breast cancer": (2, 4, 8, 16),
    "swiss roll": (1, 2),
}


def settings_for(args):
    """Seeds and subsets of each suite, from the mode."""
    if args.smoke:
        return {
            "odds": (("glass", "wbc"), [0]),
            "adbench": (("glass",), ("global", "cluster"), [0]),
            "small": (("gauss1d", "blobs2d"), [0]),
            "contaminated": (("scattered", "cluster"), [0]),
            "calibration": [0],
            "reduction": ({"breast cancer": (2,)}, [0]),
            "detectors": ("default",),
            "transformers": ("default",),
        }
    seeds = [0, 1] if args.quick else [0, 1, 2]
    return {
        "odds": (_common.ODDS_DATASETS, seeds),
        "adbench": (_anomalies.ADBENCH_BASES, _anomalies.ADBENCH_TYPES, [0]),
        "small": (_anomalies.SMALL_SETS, seeds),
        "contaminated": (_anomalies.CONTAMINATIONS, seeds),
        "calibration": seeds,
        "reduction": (REDUCTION_COMPONENTS, seeds),
        "detectors": (*DETECTORS, *CODE_SIZES, *ENSEMBLES),
        "transformers": tuple(TRANSFORMERS),
    }


# ----------------------------------------------------------------------
# Detectors
# ----------------------------------------------------------------------
class CodeSizeDetector:
    """The default detector with ``n_components = code_size(n_features)``."""

    def __init__(self, code_size, **params):
        self.code_size = code_size
        self.params = params

    def fit(self, X):
        n_components = self.code_size(X.shape[1])
        self.detector_ = AutoencoderOutlierDetector(n_components, **self.params)
        self.detector_.fit(X)
        return self

    def score_samples(self, X):
        return self.detector_.score_samples(X)

    def predict(self, X):
        return self.detector_.predict(X)


class SubsampleEnsemble:
    """Default detectors fitted on random subsamples, their scores averaged.

    The ensembles of small autoencoders on subsamples of the literature
    (RandNet, ROBOD), written with skae's public API: ``n_estimators``
    detectors with default parameters, each fitted on ``max_samples`` rows
    drawn without replacement (all rows when there are fewer). With
    ``feature_bagging``, each member also sees its own random subset of the
    features, of between half and all but one of them (Lazarevic and
    Kumar's feature bagging). The score is the mean of the members'
    ``score_samples``, and ``offset_`` its ``contamination`` quantile on the
    training rows, as the detector's.
    """

    def __init__(
        self,
        n_estimators,
        max_samples,
        contamination,
        random_state,
        feature_bagging=False,
    ):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.random_state = random_state
        self.feature_bagging = feature_bagging

    def fit(self, X):
        rng = np.random.RandomState(self.random_state)
        n_samples, n_features = X.shape
        n_rows = min(self.max_samples, n_samples)
        self.members_, self.estimators_features_ = [], []
        for _ in range(self.n_estimators):
            seed = rng.randint(np.iinfo(np.int32).max)
            rows = rng.choice(n_samples, n_rows, replace=False)
            features = np.arange(n_features)
            if self.feature_bagging and n_features > 2:
                n_kept = rng.randint(n_features // 2, n_features)
                features = np.sort(rng.choice(n_features, n_kept, replace=False))
            member = AutoencoderOutlierDetector(
                contamination=self.contamination, random_state=seed
            ).fit(X[np.ix_(rows, features)])
            self.members_.append(member)
            self.estimators_features_.append(features)
        self.offset_ = np.percentile(self.score_samples(X), 100 * self.contamination)
        return self

    def score_samples(self, X):
        return np.mean(
            [
                member.score_samples(X[:, features])
                for member, features in zip(
                    self.members_, self.estimators_features_, strict=True
                )
            ],
            axis=0,
        )

    def predict(self, X):
        return np.where(self.score_samples(X) < self.offset_, -1, 1)


def make_detector(name, contamination, seed):
    """A fitted-to-be detector and its ``abnormality(X)`` (higher = worse)."""
    if name == "IForest":
        det = IsolationForest(contamination=contamination, random_state=seed)
    elif name == "PCA (PyOD)":
        from pyod.models.pca import PCA as PyODPCA

        det = PyODPCA(
            contamination=min(max(contamination, 1e-3), 0.5), svd_solver="full"
        )
        return det, det.decision_function, lambda X: det.predict(X) == 1
    elif name in ENSEMBLES:
        det = SubsampleEnsemble(
            contamination=contamination, random_state=seed, **ENSEMBLES[name]
        )
    elif name in CODE_SIZES:
        det = CodeSizeDetector(
            CODE_SIZES[name], contamination=contamination, random_state=seed
        )
    else:
        det = AutoencoderOutlierDetector(
            contamination=contamination, random_state=seed, **DETECTORS[name]
        )
    return det, lambda X: -det.score_samples(X), lambda X: det.predict(X) == -1


def detector_row(name, suite, dataset, seed, X_train, X_test, y_test, contamination):
    """Fit on ``X_train``, score ``X_test``: ROC-AUC, time, flag rate of inliers."""
    det, abnormality, flagged = make_detector(name, contamination, seed)
    with _common.Timer() as timer:
        det.fit(X_train)
        scores = abnormality(X_test)
    return {
        "candidate": name,
        "suite": suite,
        "dataset": dataset,
        "seed": seed,
        "roc_auc": roc_auc_score(y_test, scores),
        "fit_score_s": timer.seconds,
        "contamination": contamination,
        "inliers_flagged": float(np.mean(flagged(X_test[y_test == 0]))),
    }


def run_detectors(settings, candidates, progress):
    rows = []

    def run(suite, dataset, seed, X_train, X_test, y_train, y_test):
        contamination = max(float(np.mean(y_train)), 1e-3)
        for name in candidates:
            row = detector_row(
                name, suite, dataset, seed, X_train, X_test, y_test, contamination
            )
            rows.append(row)
            progress(
                f"{suite:<12} {dataset:<24} seed={seed} {name:<14} "
                f"roc_auc={row['roc_auc']:.3f} {row['fit_score_s']:.1f}s"
            )

    datasets, seeds = settings["odds"]
    if _common.has_data("odds"):
        for dataset in datasets:
            X, y = _common.load_odds(dataset)
            for seed in seeds:
                run("odds", dataset, seed, *_common.pyod_split(X, y, seed))
        bases, kinds, seeds = settings["adbench"]
        for base in bases:
            for kind in kinds:
                for seed in seeds:
                    X, y = _anomalies.adbench_like(base, kind, seed)
                    split = _common.pyod_split(X, y, seed, stratify=True)
                    run(f"adbench {kind}", base, seed, *split)
    names, seeds = settings["small"]
    for name in names:
        for seed in seeds:
            X, y = _anomalies.small_set(name, seed)
            split = _common.pyod_split(X, y, seed, stratify=True)
            run("small sets", name, seed, *split)
    for seed in settings["calibration"]:
        X_train, X_test, y_train, y_test = _anomalies.breast_cancer_split(seed)
        run("breast cancer", "breast cancer", seed, X_train, X_test, y_train, y_test)
    # Contaminated training data: fit and score the same rows.
    kinds, seeds = settings["contaminated"]
    for kind in kinds:
        for seed in seeds:
            X, y = _anomalies.contaminated(kind, seed)
            run("contaminated", kind, seed, X, X, y, y)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------
# Transformers
# ----------------------------------------------------------------------
def reduction_data(name):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return train_test_split(X / 16.0, test_size=0.25, random_state=0, stratify=y)
    if name == "breast cancer":
        X, y = load_breast_cancer(return_X_y=True)
        X_train, X_test = train_test_split(
            X, test_size=0.25, random_state=0, stratify=y
        )
    else:
        X, _ = make_swiss_roll(3000, noise=0.1, random_state=0)
        X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def run_transformers(settings, candidates, progress):
    components, seeds = settings["reduction"]
    rows = []
    for dataset, ks in components.items():
        X_train, X_test = reduction_data(dataset)
        for k in ks:
            pca = PCA(n_components=k).fit(X_train)
            pca_error = np.mean(
                (pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2
            )
            for name in candidates:
                for seed in seeds:
                    ae = AutoencoderTransformer(
                        n_components=k, random_state=seed, **TRANSFORMERS[name]
                    )
                    with _common.Timer() as timer:
                        ae.fit(X_train)
                    X_hat = ae.inverse_transform(ae.transform(X_test))
                    ratio = np.mean((X_hat - X_test) ** 2) / pca_error
                    rows.append(
                        {
                            "candidate": name,
                            "dataset": dataset,
                            "n_components": k,
                            "seed": seed,
                            "mse_over_pca": ratio,
                            "fit_s": timer.seconds,
                            "n_iter": ae.n_iter_,
                        }
                    )
                    progress(
                        f"reduction {dataset:<14} k={k:<3} seed={seed} "
                        f"{name:<42} ratio={ratio:.3f} fit={timer.seconds:.1f}s"
                    )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------
def detector_summary(runs):
    """One row per candidate: the mean of every suite, and the checks."""
    table = {}
    for name, group in runs.groupby("candidate", sort=False):
        row = {}
        odds = group[group.suite == "odds"]
        if len(odds):
            row["ODDS"] = odds.groupby("dataset").roc_auc.mean().mean()
            row["ODDS sd over seeds"] = odds.groupby("seed").roc_auc.mean().std()
            per_seed = odds.groupby("seed").fit_score_s.sum()
            row["ODDS fit+score s per split"] = per_seed.mean()
            by_set = odds.groupby("dataset")[
                ["inliers_flagged", "contamination"]
            ].mean()
            limit = 1.5 * by_set.contamination + 0.02
            row["ODDS sets flagging > 1.5c+0.02"] = int(
                (by_set.inliers_flagged > limit).sum()
            )
        for suite in ["adbench " + kind for kind in _anomalies.ADBENCH_TYPES]:
            part = group[group.suite == suite]
            if len(part):
                row[suite] = part.roc_auc.mean()
        small = group[group.suite == "small sets"]
        if len(small):
            row["small sets"] = small.roc_auc.mean()
        contaminated = group[group.suite == "contaminated"]
        for kind, part in contaminated.groupby("dataset", sort=False):
            row[f"contaminated {kind} (min)"] = part.roc_auc.min()
        breast = group[group.suite == "breast cancer"]
        if len(breast):
            row["breast cancer inliers flagged (max)"] = breast.inliers_flagged.max()
            row["breast cancer limit 1.5c+0.02"] = (
                1.5 * breast.contamination + 0.02
            ).min()
        suites = group[~group.suite.isin(["contaminated", "breast cancer"])]
        row["mean of all ROC-AUC suites"] = (
            suites.groupby("suite").roc_auc.mean().mean()
        )
        table[name] = row
    return pd.DataFrame(table).T.rename_axis("candidate").reset_index()


def write_outputs(detectors, transformers, out, git):
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# How the defaults were chosen ({_common.describe_code(git)})",
        "",
        "Generated by `benchmarks/bench_defaults.py`; see `meta.json` for the "
        "command, machine and versions. ROC-AUC means over seeds; "
        "`contaminated` rows fit and score the same training rows; "
        "`inliers flagged` is the fraction of new inliers `predict` calls "
        "outliers, with `contamination` set to the training outlier fraction c.",
        "",
    ]
    if len(detectors):
        detectors.to_csv(out / "detector_runs.csv", index=False)
        summary = detector_summary(detectors)
        summary.to_csv(out / "detector_summary.csv", index=False)
        shown = summary.set_index("candidate").T.reset_index(names="measure")
        lines += ["## Detector candidates", "", _common.markdown_table(shown), ""]
        odds = detectors[detectors.suite == "odds"]
        if len(odds):
            per_set = odds.pivot_table(
                index="dataset", columns="candidate", values="roc_auc", sort=False
            )
            per_set.loc["mean"] = per_set.mean()
            lines += [
                "## ODDS ROC-AUC per dataset",
                "",
                _common.markdown_table(per_set.reset_index()),
                "",
            ]
    if len(transformers):
        transformers.to_csv(out / "transformer_runs.csv", index=False)
        ratios = transformers.pivot_table(
            index=["dataset", "n_components"],
            columns="candidate",
            values="mse_over_pca",
            sort=False,
        )
        worst = transformers.groupby("candidate", sort=False).mse_over_pca.max()
        fit = (
            transformers[transformers.dataset == "digits"]
            .groupby("candidate", sort=False)
            .fit_s.max()
        )
        lines += [
            "## Transformer candidates: held-out MSE / PCA's",
            "",
            _common.markdown_table(ratios.reset_index()),
            "",
            "Worst ratio of any seed, and the longest fit on digits (s):",
            "",
            _common.markdown_table(
                pd.DataFrame(
                    {"worst ratio": worst, "digits fit s (max)": fit}
                ).reset_index()
            ),
            "",
        ]
    (out / "README.md").write_text("\n".join(lines))


def main(argv=None):
    """Run the comparison of default candidates.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.
    """
    parser = _common.make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=["all", "detector", "transformer"], default="all"
    )
    parser.add_argument(
        "--detectors",
        default="",
        help="comma-separated detector candidates to run (default: the mode's)",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    progress = _common.Progress(NAME)
    settings = settings_for(args)
    if args.detectors:
        chosen = args.detectors.split(",")
        unknown = set(chosen) - {*DETECTORS, *CODE_SIZES, *ENSEMBLES}
        if unknown:
            parser.error(f"unknown detector candidates {sorted(unknown)}")
        settings["detectors"] = tuple(chosen)
    warnings.filterwarnings("ignore", module="pyod")
    with _common.limit_threads(args.threads):
        started, git = _common.utc_now(), _common.git_state()
        detectors = transformers = pd.DataFrame()
        if args.part in ("all", "detector"):
            candidates = (*settings["detectors"], *BASELINES)
            detectors = run_detectors(settings, candidates, progress)
        if args.part in ("all", "transformer"):
            transformers = run_transformers(
                settings, settings["transformers"], progress
            )
        write_outputs(detectors, transformers, args.out, git)
        _common.write_meta(
            args.out,
            argv,
            started=started,
            git=git,
            seconds=progress.elapsed,
            settings={
                "mode": _common.mode_name(args),
                "detector candidates": {
                    k: {**DETECTORS, **ENSEMBLES}.get(k, "n_components from n_features")
                    for k in settings["detectors"]
                },
                "baselines": list(BASELINES),
                "transformer candidates": {
                    k: TRANSFORMERS[k] for k in settings["transformers"]
                },
                "threads": args.threads,
            },
        )
        progress(f"done; results in {args.out}")
        return detectors, transformers


if __name__ == "__main__":
    main()
