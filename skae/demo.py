"""Autoencoder vs PCA on scikit-learn's bundled digits.

Run ``python -m skae.demo`` (or ``skae-demo``): it fits PCA and an
:class:`~skae.AutoencoderTransformer` with the same ``n_components`` on a
training split of ``load_digits``, prints the held-out reconstruction error and
the accuracy of a logistic regression on each code, and saves a figure of
original, PCA and autoencoder reconstructions. Needs matplotlib.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer


def compare(n_components=8, random_state=0):
    """Fit PCA and an autoencoder on digits; return results and test data.

    Parameters
    ----------
    n_components : int, default=8
        Size of both codes.
    random_state : int, default=0
        Seed of the split and the autoencoder.

    Returns
    -------
    rows : list of dict
        One row per method: name, held-out reconstruction MSE (pixel units),
        accuracy of a logistic regression on the code, fit seconds.
    reconstructions : dict
        Method name to held-out reconstructions, plus ``"original"``.
    """
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    reducers = {
        "PCA": PCA(n_components=n_components),
        "Autoencoder": AutoencoderTransformer(
            n_components=n_components, random_state=random_state
        ),
    }
    rows, reconstructions = [], {"original": X_test}
    for name, reducer in reducers.items():
        start = time.perf_counter()
        reducer.fit(X_train)
        fit_seconds = time.perf_counter() - start
        X_hat = reducer.inverse_transform(reducer.transform(X_test))
        classifier = make_pipeline(
            reducer, StandardScaler(), LogisticRegression(max_iter=2000)
        )
        # The reducer is already fitted: fit the classifier on its codes only.
        classifier[1:].fit(reducer.transform(X_train), y_train)
        rows.append(
            {
                "method": name,
                "reconstruction_mse": float(np.mean((X_hat - X_test) ** 2)),
                "accuracy": classifier.score(X_test, y_test),
                "fit_seconds": fit_seconds,
            }
        )
        reconstructions[name] = X_hat
    return rows, reconstructions


def plot_reconstructions(reconstructions, rows, n_images=10, path="skae_demo.png"):
    """Save a grid of original, PCA and autoencoder digits to ``path``.

    ``rows`` are the results of :func:`compare`, whose errors label the rows.
    """
    errors = {row["method"]: row["reconstruction_mse"] for row in rows}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(reconstructions)
    fig, axes = plt.subplots(
        len(names), n_images, figsize=(n_images, 1.15 * len(names) + 0.5)
    )
    for row, name in enumerate(names):
        for col in range(n_images):
            ax = axes[row, col]
            ax.imshow(
                reconstructions[name][col].reshape(8, 8),
                cmap="gray_r",
                vmin=0,
                vmax=16,
            )
            ax.set_xticks([])
            ax.set_yticks([])
        label = name if name not in errors else f"{name}\nMSE {errors[name]:.2f}"
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.suptitle("Held-out digits: original, PCA and autoencoder reconstructions")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--output", default="skae_demo.png", help="figure path")
    args = parser.parse_args(argv)

    rows, reconstructions = compare(args.n_components, args.random_state)
    print(
        f"load_digits, n_components={args.n_components}, 25% held out "
        f"(reconstruction MSE in pixel units, 0-16 scale)\n"
    )
    print(f"{'method':<12} {'recon. MSE':>11} {'accuracy':>9} {'fit (s)':>8}")
    for row in rows:
        print(
            f"{row['method']:<12} {row['reconstruction_mse']:>11.3f} "
            f"{row['accuracy']:>9.3f} {row['fit_seconds']:>8.2f}"
        )
    path = plot_reconstructions(reconstructions, rows, path=args.output)
    print(f"\nfigure saved to {path}")


if __name__ == "__main__":
    main()
