"""Dimensionality reduction: skae's AutoencoderTransformer against PCA and
KernelPCA.

For each dataset, one fixed train/test split; for each seed (the models'
``random_state``) and each ``n_components`` k:

- held-out reconstruction error, the mean squared error of
  ``inverse_transform(transform(X_test))`` against ``X_test``, in the units of
  the benchmark's inputs: pixel intensities scaled to [0, 1] for images
  (digits, MNIST), features standardised with the training statistics for
  tabular data (swiss roll, breast cancer). Every method gets these same
  inputs; skae's own internal scaling is part of skae.
- downstream accuracy: ``Pipeline(reducer, StandardScaler, LogisticRegression)``
  on the test split, for each fitted reducer;
- fit and transform wall time.

For the first seed, a ``GridSearchCV`` (3-fold, on the training split) over
the pipeline's ``reduce`` step chooses between ``PCA(k)`` and
``AutoencoderTransformer(n_components=k)`` in one search; the table reports
which it picked. Figures: error and accuracy against k, reconstructions of a
few images, and 2-D codes coloured by label.

Run ``python benchmarks/bench_reduction.py --help`` for the options.
"""

import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, make_swiss_roll
from sklearn.decomposition import PCA, KernelPCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

from skae import AutoencoderTransformer  # noqa: E402

NAME = "reduction"
COMPONENTS = (2, 4, 8, 16, 32)


@dataclass
class Dataset:
    """One benchmark dataset and what runs on it."""

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    units: str
    components: tuple
    methods: tuple
    n_seeds: int
    image_shape: tuple | None = None
    search_components: tuple = ()
    labels: str = "class"
    skae_params: dict = field(default_factory=dict)
    # Per-method restrictions where the full grid does not fit the time budget:
    # method -> n_components to run, and method -> parameter overrides.
    method_components: dict = field(default_factory=dict)
    method_params: dict = field(default_factory=dict)

    def params(self, method):
        """skae parameters the benchmark overrides for ``method``."""
        return {**self.skae_params, **self.method_params.get(method, {})}


# ----------------------------------------------------------------------
# Methods: name -> factory(k, seed, dataset) returning an unfitted estimator
# with transform and inverse_transform.
# ----------------------------------------------------------------------
def _skae(name, **params):
    def factory(k, seed, data):
        return AutoencoderTransformer(
            n_components=k, random_state=seed, **{**params, **data.params(name)}
        )

    return factory


def _conv(k, seed, data):
    # Images in [0, 1]: convolutions and a binary cross-entropy, as the
    # AutoencoderTransformer docstring recommends for images.
    return AutoencoderTransformer(
        n_components=k,
        architecture="conv",
        image_shape=data.image_shape,
        loss="bce",
        random_state=seed,
        **data.params("skae conv"),
    )


def _pca(k, seed, data):
    return PCA(n_components=k, random_state=seed)


def _kernel_pca(k, seed, data):
    return KernelPCA(
        n_components=k, kernel="rbf", fit_inverse_transform=True, random_state=seed
    )


METHODS = {
    "PCA": _pca,
    "KernelPCA": _kernel_pca,
    "skae mlp": _skae("skae mlp"),
    "skae mlp minmax": _skae("skae mlp minmax", scaling="minmax"),
    "skae linear": _skae("skae linear", architecture="linear"),
    "skae linear unscaled": _skae(
        "skae linear unscaled", architecture="linear", scaling=None
    ),
    "skae vae": _skae("skae vae", variational=True),
    "skae denoising": _skae("skae denoising", noise=0.2),
    "skae conv": _conv,
}
METHOD_LABELS = {
    "PCA": "sklearn PCA",
    "KernelPCA": "sklearn KernelPCA(kernel='rbf', fit_inverse_transform=True), "
    "default gamma and alpha",
    "skae mlp": "AutoencoderTransformer defaults (architecture='residual': "
    "PCA's start plus dense branches (128, 64); global scaling). The name is "
    "that of earlier runs, when the default was architecture='mlp'",
    "skae mlp minmax": "AutoencoderTransformer(scaling='minmax'): the default "
    "network with internal min-max scaling instead of the default global "
    "scaling (images only)",
    "skae linear": "AutoencoderTransformer(architecture='linear')",
    "skae linear unscaled": "AutoencoderTransformer(architecture='linear', "
    "scaling=None): trained on the same units as the error is measured in",
    "skae vae": "AutoencoderTransformer(variational=True)",
    "skae denoising": "AutoencoderTransformer(noise=0.2)",
    "skae conv": "AutoencoderTransformer(architecture='conv', image_shape=..., "
    "loss='bce')",
}


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------
def _standardise(X_train, X_test):
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def load_datasets(mode):
    """The datasets of a run, split and preprocessed, for ``mode``."""
    full = mode == "full"
    smoke = mode == "smoke"
    n_seeds = 3 if full else 1
    tabular = (
        "PCA",
        "KernelPCA",
        "skae mlp",
        "skae linear",
        "skae vae",
        "skae denoising",
    )
    image = (
        "PCA",
        "KernelPCA",
        "skae mlp",
        "skae mlp minmax",
        "skae linear",
        "skae linear unscaled",
        "skae vae",
        "skae denoising",
        "skae conv",
    )
    datasets = []

    X, y = load_digits(return_X_y=True)
    if smoke:
        X, y = X[:400], y[:400]
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )
    datasets.append(
        Dataset(
            "digits",
            X_train,
            X_test,
            y_train,
            y_test,
            units="pixels in [0, 1] (digits / 16)",
            components=(2, 8) if smoke else COMPONENTS,
            methods=("PCA", "skae mlp", "skae conv") if smoke else image,
            n_seeds=n_seeds,
            image_shape=(1, 8, 8),
            search_components=(8,) if smoke else COMPONENTS,
            skae_params={"max_iter": 5} if smoke else {},
        )
    )
    if smoke:
        return datasets

    X, y = make_swiss_roll(n_samples=3000, noise=0.1, random_state=0)
    X_train, X_test, t_train, t_test = train_test_split(
        X, y, test_size=0.25, random_state=0
    )
    X_train, X_test = _standardise(X_train, X_test)
    datasets.append(
        Dataset(
            "swiss roll",
            X_train,
            X_test,
            t_train,
            t_test,
            units="standardised features",
            components=(1, 2),
            methods=tabular,
            n_seeds=n_seeds,
            labels="position t along the roll (continuous: no classifier)",
        )
    )

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    X_train, X_test = _standardise(X_train, X_test)
    datasets.append(
        Dataset(
            "breast cancer",
            X_train,
            X_test,
            y_train,
            y_test,
            units="standardised features",
            components=(2, 4, 8, 16),
            methods=tabular,
            n_seeds=n_seeds,
            search_components=(2, 4, 8, 16) if full else (),
        )
    )

    if _common.has_data("mnist"):
        X, y = _common.load_mnist()
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.2, random_state=0, stratify=y
        )
        # KernelPCA's 8000 x 8000 kernel and its inverse map do not fit the
        # time budget; the others run with one seed (see the README).
        datasets.append(
            Dataset(
                "MNIST",
                X_train,
                X_test,
                y_train,
                y_test,
                units="pixels in [0, 1] (MNIST / 255)",
                components=COMPONENTS if full else (2, 16),
                methods=(
                    "PCA",
                    "skae mlp",
                    "skae mlp minmax",
                    "skae linear",
                    "skae linear unscaled",
                    "skae vae",
                    "skae conv",
                )
                if full
                else ("PCA", "skae mlp"),
                n_seeds=1,
                image_shape=(1, 28, 28),
                search_components=(2, 16) if full else (),
                # A convolutional epoch on 8000 28x28 images takes seconds on
                # one CPU thread: capped at 15 epochs to fit the time budget.
                method_params={"skae conv": {"max_iter": 15}},
            )
        )
    return datasets


# ----------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------
def _classifier(reducer):
    return Pipeline(
        [
            ("reduce", reducer),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )


def run_one(data, method, k, seed):
    """Fit one reducer; return its result row and the fitted reducer."""
    reducer = METHODS[method](k, seed, data)
    with _common.Timer() as fit:
        reducer.fit(data.X_train)
    with _common.Timer() as transform:
        Z_test = reducer.transform(data.X_test)
    X_rec = reducer.inverse_transform(Z_test)
    row = {
        "dataset": data.name,
        "method": method,
        "n_components": k,
        "seed": seed,
        "mse": float(np.mean((X_rec - data.X_test) ** 2)),
        "fit_time_s": fit.seconds,
        "transform_time_s": transform.seconds,
        "accuracy": np.nan,
    }
    if hasattr(reducer, "n_iter_"):
        row["n_iter"] = reducer.n_iter_
    if data.labels == "class":
        Z_train = reducer.transform(data.X_train)
        clf = Pipeline(
            [
                ("scale", StandardScaler()),
                ("clf", LogisticRegression(max_iter=2000)),
            ]
        ).fit(Z_train, data.y_train)
        row["accuracy"] = float(clf.score(Z_test, data.y_test))
    return row, reducer


def grid_search(data, k, seed):
    """One GridSearchCV choosing between PCA(k) and skae(k); a result row."""
    param_grid = {
        "reduce": [
            PCA(n_components=k, random_state=seed),
            AutoencoderTransformer(
                n_components=k, random_state=seed, **data.skae_params
            ),
        ]
    }
    search = GridSearchCV(_classifier(PCA()), param_grid, cv=3, n_jobs=1)
    with _common.Timer() as timer:
        search.fit(data.X_train, data.y_train)
    cv = search.cv_results_["mean_test_score"]
    picked = type(search.best_params_["reduce"]).__name__
    return {
        "dataset": data.name,
        "n_components": k,
        "cv_accuracy_PCA": float(cv[0]),
        "cv_accuracy_skae": float(cv[1]),
        "picked": "skae" if picked == "AutoencoderTransformer" else picked,
        "test_accuracy_of_pick": float(search.score(data.X_test, data.y_test)),
        "search_time_s": timer.seconds,
    }


# ----------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _method_styles(methods):
    plt = _pyplot()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {m: colors[i % len(colors)] for i, m in enumerate(methods)}


def plot_metric(runs, metric, ylabel, title, path, *, log=False):
    """One panel per dataset: ``metric`` against n_components, per method."""
    plt = _pyplot()
    runs = runs.dropna(subset=[metric])
    datasets = list(dict.fromkeys(runs["dataset"]))
    if not datasets:
        return
    styles = _method_styles(list(METHODS))
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(max(6.5, 4.2 * len(datasets)), 3.8), squeeze=False
    )
    for ax, name in zip(axes[0], datasets, strict=True):
        sub = runs[runs["dataset"] == name]
        for method in METHODS:
            rows = sub[sub["method"] == method]
            if rows.empty:
                continue
            stats = rows.groupby("n_components")[metric].agg(["mean", "min", "max"])
            ks = stats.index.to_numpy()
            ax.errorbar(
                ks,
                stats["mean"],
                # Rounding can put the mean of equal values a hair outside them.
                yerr=np.clip(
                    [stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
                    0,
                    None,
                ),
                label=method,
                color=styles[method],
                marker="o",
                ms=3.5,
                capsize=2,
                ls="--" if method in ("PCA", "KernelPCA") else "-",
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(sub["n_components"].unique()))
        ax.get_xaxis().set_major_formatter(plt.ScalarFormatter())
        if log:
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("n_components")
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel(ylabel)
    handles = {}
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="lower center",
        ncol=min(len(handles), 9),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reconstructions(examples, path):
    """Rows: original, then each method's reconstruction, per dataset."""
    plt = _pyplot()
    if not examples:
        return
    n_rows = sum(len(e["rows"]) for e in examples)
    n_cols = max(len(e["rows"][0][1]) for e in examples)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(1.0 * n_cols + 1.6, 1.0 * n_rows + 0.6), squeeze=False
    )
    r = 0
    for example in examples:
        side = example["shape"]
        for label, images in example["rows"]:
            for c in range(n_cols):
                ax = axes[r, c]
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(images):
                    ax.imshow(
                        np.clip(images[c], 0, 1).reshape(side),
                        cmap="gray_r",
                        vmin=0,
                        vmax=1,
                    )
                if c == 0:
                    ax.set_ylabel(
                        f"{example['name']}\n{label}",
                        rotation=0,
                        ha="right",
                        va="center",
                        fontsize=8,
                    )
            r += 1
    fig.suptitle("Test images and their reconstructions (n_components shown, seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latents(latents, path):
    """2-D codes of the test split: PCA beside skae, coloured by label.

    Axes span the 1st to 99th percentile of each code, so that a few far
    points do not squeeze the rest into a corner.
    """
    plt = _pyplot()
    if not latents:
        return
    n_cols = max(len(item["codes"]) for item in latents)
    fig, axes = plt.subplots(
        len(latents), n_cols, figsize=(4.2 * n_cols, 3.9 * len(latents)), squeeze=False
    )
    for row, item in zip(axes, latents, strict=True):
        for ax in row[len(item["codes"]) :]:
            ax.set_visible(False)
        for ax, (method, Z) in zip(row, item["codes"], strict=False):
            if item["continuous"]:
                style = {"c": item["labels"], "cmap": "viridis"}
            else:
                style = {"c": item["labels"], "cmap": "tab10", "vmin": -0.5}
                style["vmax"] = 9.5
            points = ax.scatter(
                Z[:, 0], Z[:, 1], s=4, alpha=0.7, rasterized=True, **style
            )
            for axis, set_lim in ((0, ax.set_xlim), (1, ax.set_ylim)):
                low, high = np.percentile(Z[:, axis], [1, 99])
                margin = 0.05 * (high - low)
                set_lim(low - margin, high + margin)
            ax.set_title(f"{item['name']}: {method}")
            ax.set_xlabel("code 1")
            ax.set_ylabel("code 2")
        fig.colorbar(
            points,
            ax=row[len(item["codes"]) - 1],
            label=item["label_name"],
            ticks=None if item["continuous"] else range(10),
        )
    fig.suptitle(
        "2-D codes of the test split (seed 0; axes: 1st-99th percentile of each code)"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------
def summary_table(runs, metric):
    """Mean of ``metric`` per dataset and k (rows) and method (columns)."""
    table = runs.pivot_table(
        index=["dataset", "n_components"],
        columns="method",
        values=metric,
        aggfunc="mean",
    )
    order = [m for m in METHODS if m in table.columns]
    table = table[order].reset_index()
    table.columns.name = None
    return table


def write_outputs(runs, searches, out, datasets, mode):
    runs.to_csv(out / "runs.csv", index=False)
    seeds = runs.groupby("dataset")["seed"].nunique()
    mse = summary_table(runs, "mse")
    acc = summary_table(runs.dropna(subset=["accuracy"]), "accuracy")
    fit = summary_table(runs, "fit_time_s")
    transform = summary_table(runs, "transform_time_s")
    for table, stem in [
        (mse, "mse"),
        (acc, "accuracy"),
        (fit, "fit_time_s"),
        (transform, "transform_time_s"),
    ]:
        _common.write_table(table, out / f"{stem}.csv")
    if not searches.empty:
        searches.to_csv(out / "grid_search.csv", index=False)

    # Relative error: each method's MSE over PCA's at the same k.
    ratio = mse.copy()
    methods = [m for m in METHODS if m in mse.columns]
    for m in methods:
        ratio[m] = mse[m] / mse["PCA"]

    data_lines = [
        f"- **{d.name}**: train {len(d.X_train)}, test {len(d.X_test)}, "
        f"{d.X_train.shape[1]} features; error in {d.units}; seeds: "
        f"{seeds.get(d.name, 0)}; methods: {', '.join(d.methods)}"
        for d in datasets
    ]
    lines = [
        f"# Dimensionality reduction ({mode} mode)\n",
        "Generated by `benchmarks/bench_reduction.py`; see `meta.json` for the "
        "command, machine and versions. Values are means over seeds (model "
        "`random_state`) on one fixed train/test split per dataset.\n",
        "Methods: "
        + "; ".join(f"**{m}** = {METHOD_LABELS[m]}" for m in methods)
        + ".\n",
        "Datasets:\n",
        *data_lines,
        "",
        "![reconstruction error](reconstruction_error.png)\n",
        "## Held-out reconstruction MSE\n",
        _common.markdown_table(mse, floatfmt=".4g"),
        "\n## Reconstruction MSE relative to PCA at the same n_components "
        "(< 1: better than PCA)\n",
        _common.markdown_table(ratio, floatfmt=".3f"),
        "\n![downstream accuracy](accuracy.png)\n",
        "## Test accuracy of reducer + StandardScaler + LogisticRegression\n",
        _common.markdown_table(acc, floatfmt=".3f"),
    ]
    if not searches.empty:
        lines += [
            "\n## GridSearchCV choosing the reducer (PCA or skae defaults), "
            "3-fold CV on the training split, seed 0\n",
            _common.markdown_table(searches, floatfmt=".3f"),
        ]
    lines += [
        "\n## Fit time (seconds)\n",
        _common.markdown_table(fit, floatfmt=".3g"),
        "\n## Transform time of the test split (seconds)\n",
        _common.markdown_table(transform, floatfmt=".3g"),
        "\n![reconstructions](reconstructions.png)\n",
        "![2-D codes](latent_2d.png)\n",
    ]
    (out / "README.md").write_text("\n".join(lines))
    return mse, acc, searches


def write_results(runs, searches, out, datasets, mode):
    """Write the tables and the error and accuracy figures; return the MSE
    table."""
    mse, _, _ = write_outputs(runs, searches, out, datasets, mode)
    plot_metric(
        runs,
        "mse",
        "held-out reconstruction MSE (log scale)",
        "Reconstruction error on the test split (lower is better)",
        out / "reconstruction_error.png",
        log=True,
    )
    plot_metric(
        runs,
        "accuracy",
        "test accuracy",
        "Reducer + LogisticRegression test accuracy (higher is better)",
        out / "accuracy.png",
    )
    return mse


def main(argv=None):
    """Run the dimensionality-reduction benchmark.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.
    """
    parser = _common.make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="rewrite tables and the error and accuracy figures from the "
        "runs.csv and grid_search.csv in --out, run nothing",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    progress = _common.Progress(NAME)
    if args.tables_only:
        mode = json.loads((args.out / "meta.json").read_text())["settings"]["mode"]
        runs = pd.read_csv(args.out / "runs.csv")
        search_file = args.out / "grid_search.csv"
        searches = pd.read_csv(search_file) if search_file.exists() else pd.DataFrame()
        write_results(runs, searches, args.out, load_datasets(mode), mode)
        return runs
    with _common.limit_threads(args.threads):
        started, git = _common.utc_now(), _common.git_state()
        mode = _common.mode_name(args)
        args.out.mkdir(parents=True, exist_ok=True)
        datasets = load_datasets(mode)
        if not any(d.name == "MNIST" for d in datasets) and mode != "smoke":
            progress(f"MNIST skipped: no data in {_common.DATA_DIR / 'mnist'}")

        rows, searches, examples, latents = [], [], [], []
        for data in datasets:
            recon_k = 16 if 16 in data.components else data.components[-1]
            recon = {}
            codes = []
            for seed in range(data.n_seeds):
                for k in data.components:
                    for method in data.methods:
                        if k not in data.method_components.get(method, (k,)):
                            continue
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", ConvergenceWarning)
                            row, reducer = run_one(data, method, k, seed)
                        rows.append(row)
                        progress(
                            f"{data.name:<13} seed={seed} k={k:<2} {method:<20} "
                            f"mse={row['mse']:.4g} acc={row['accuracy']:.3f} "
                            f"fit={row['fit_time_s']:.2f}s"
                        )
                        if seed == 0 and k == recon_k and data.image_shape:
                            recon[method] = reducer.inverse_transform(
                                reducer.transform(data.X_test[:8])
                            )
                        if (
                            seed == 0
                            and k == 2
                            and method in ("PCA", "skae mlp", "skae vae")
                        ):
                            codes.append((method, reducer.transform(data.X_test)))
            if recon:
                shape = data.image_shape[1:]
                examples.append(
                    {
                        "name": f"{data.name}, k={recon_k}",
                        "shape": shape,
                        "rows": [("original", data.X_test[:8])]
                        + [
                            (m, recon[m])
                            for m in ("PCA", "skae mlp", "skae mlp minmax", "skae conv")
                            if m in recon
                        ],
                    }
                )
            if codes and data.name != "breast cancer":
                continuous = data.name == "swiss roll"
                latents.append(
                    {
                        "name": data.name,
                        "codes": codes,
                        "labels": data.y_test,
                        "continuous": continuous,
                        "label_name": "t (position on the roll)"
                        if continuous
                        else "label",
                    }
                )
            for k in data.search_components:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    result = grid_search(data, k, seed=0)
                searches.append(result)
                progress(
                    f"{data.name:<13} GridSearchCV k={k:<2} picked {result['picked']} "
                    f"(cv PCA {result['cv_accuracy_PCA']:.3f}, skae "
                    f"{result['cv_accuracy_skae']:.3f}) "
                    f"in {result['search_time_s']:.1f}s"
                )

        runs = pd.DataFrame(rows)
        searches = pd.DataFrame(searches)
        mse = write_results(runs, searches, args.out, datasets, mode)
        plot_reconstructions(examples, args.out / "reconstructions.png")
        plot_latents(latents, args.out / "latent_2d.png")
        _common.write_meta(
            args.out,
            argv,
            started=started,
            git=git,
            seconds=progress.elapsed,
            settings={
                "mode": mode,
                "threads": args.threads,
                "datasets": {
                    d.name: {
                        "n_train": len(d.X_train),
                        "n_test": len(d.X_test),
                        "n_features": d.X_train.shape[1],
                        "units": d.units,
                        "components": list(d.components),
                        "methods": list(d.methods),
                        "n_seeds": d.n_seeds,
                        "grid_search_components": list(d.search_components),
                        "skae_overrides": d.skae_params,
                        "method_components": d.method_components,
                        "method_overrides": d.method_params,
                    }
                    for d in datasets
                },
            },
        )
        progress(f"done; results in {args.out}")
        print(_common.markdown_table(mse, floatfmt=".4g"), flush=True)
        return runs


if __name__ == "__main__":
    main()
