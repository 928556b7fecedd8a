"""Data sets with planted anomalies, for choosing defaults without fitting the 17.

- :func:`adbench_like`: ODDS inliers with synthetic anomalies of the four types
  of ADBench (Han et al., 2022): local, global, dependency and clustered.
- :func:`small_set`: small data sets of our own (curves, blobs, mixed units,
  wide data with few rows...).
- :func:`contaminated`: 500 correlated Gaussian points in 10-D plus 25 planted
  outliers, all in the training data, scattered or in a small cluster
  (:func:`planted_outliers`, from any random generator, draws them).
- :func:`breast_cancer_split`: benign tumours as inliers plus 30 malignant
  ones, split 60/40, for the calibration of the threshold on new data.

Every generator is deterministic given its seed.
"""

import _common
import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    make_blobs,
    make_moons,
    make_swiss_roll,
)
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors

ADBENCH_BASES = (
    "cardio",
    "glass",
    "ionosphere",
    "letter",
    "pendigits",
    "satimage-2",
    "vowels",
    "wbc",
)
ADBENCH_TYPES = ("local", "global", "dependency", "cluster")
SMALL_SETS = (
    "blobs2d",
    "moons2d",
    "helix3d",
    "corr20",
    "swiss3d",
    "gauss1d",
    "wide_smalln",
    "mixedscale8",
)
CONTAMINATIONS = (
    "scattered",
    "cluster",
    "cluster_on_main_axis",
    "cluster_far_on_main_axis",
    "cluster_on_minor_axis",
    "cluster_random_direction",
)


def _gaussian_mixture(Z, seed):
    """The Gaussian mixture of 1 to 9 components with the lowest BIC."""
    best, best_bic = None, np.inf
    for k in range(1, 10):
        if 5 * k > len(Z):
            break
        mixture = GaussianMixture(
            n_components=k, covariance_type="full", reg_covar=1e-3, random_state=seed
        ).fit(Z)
        bic = mixture.bic(Z)
        if bic < best_bic:
            best, best_bic = mixture, bic
    return best


def adbench_like(base, kind, seed, max_normal=3000, ratio=0.07):
    """Inliers of the ODDS set ``base`` with anomalies of one ADBench type.

    Normal rows are drawn from a Gaussian mixture fitted to the standardised
    inliers (for ``"dependency"``: the inliers themselves; ADBench uses a
    vine copula). Anomalies, ``ratio`` times as many: ``"local"``, from the
    mixture with covariances times 5; ``"global"``, uniform in 1.1 times the
    range of the normal rows; ``"dependency"``, every feature drawn
    independently from a kernel density estimate of its marginal;
    ``"cluster"``, from the mixture with its means moved 5 times further from
    the inliers' per-feature minimum.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        1 for anomalies.
    """
    rng = np.random.default_rng(1000 + seed)
    X, y = _common.load_odds(base)
    inliers = X[y == 0]
    if len(inliers) > max_normal:
        inliers = inliers[rng.choice(len(inliers), max_normal, replace=False)]
    inliers = inliers[:, inliers.std(axis=0) > 0]
    Z = (inliers - inliers.mean(axis=0)) / inliers.std(axis=0)
    n_normal = len(Z)
    n_anomalies = max(5, round(ratio * n_normal))
    if kind == "dependency":
        normal = Z
        columns = []
        for column in Z.T:
            width = 1.06 * column.std() * len(column) ** -0.2
            columns.append(
                rng.choice(column, n_anomalies) + rng.normal(0, width, n_anomalies)
            )
        anomalies = np.column_stack(columns)
    else:
        mixture = _gaussian_mixture(Z, seed)
        mixture.random_state = seed
        normal = mixture.sample(n_normal)[0]
        mixture.random_state = seed + 7
        if kind == "local":
            mixture.covariances_ = 5 * mixture.covariances_
            anomalies = mixture.sample(n_anomalies)[0]
        elif kind == "cluster":
            low = Z.min(axis=0)
            mixture.means_ = low + 5 * (mixture.means_ - low)
            anomalies = mixture.sample(n_anomalies)[0]
        elif kind == "global":
            low, high = normal.min(axis=0), normal.max(axis=0)
            centre, half = (low + high) / 2, (high - low) / 2
            anomalies = rng.uniform(
                centre - 1.1 * half, centre + 1.1 * half, size=(n_anomalies, Z.shape[1])
            )
        else:
            raise ValueError(kind)
    return _labelled(normal, anomalies)


def small_set(name, seed):
    """One of :data:`SMALL_SETS`: ``(X, y)``, 1 for anomalies."""
    rng = np.random.default_rng(2000 + seed)
    if name == "blobs2d":
        normal, _ = make_blobs(
            n_samples=600, centers=3, cluster_std=0.6, random_state=seed
        )
        candidates = rng.uniform(normal.min(0) - 2, normal.max(0) + 2, size=(200, 2))
        anomalies = _away_from(normal, candidates, 1.0)[:40]
    elif name == "moons2d":
        normal, _ = make_moons(n_samples=800, noise=0.06, random_state=seed)
        candidates = rng.uniform([-1.5, -1.0], [2.5, 1.5], size=(400, 2))
        anomalies = _away_from(normal, candidates, 0.3)[:50]
    elif name == "helix3d":
        t = rng.uniform(0, 4 * np.pi, 1000)
        normal = np.c_[np.cos(t), np.sin(t), t / (2 * np.pi)]
        normal += rng.normal(0, 0.05, normal.shape)
        # Inside the helix's bounding cylinder, off the curve.
        t, radius = rng.uniform(0, 4 * np.pi, 50), rng.uniform(0.2, 0.6, 50)
        anomalies = np.c_[radius * np.cos(t), radius * np.sin(t), t / (2 * np.pi)]
    elif name == "corr20":
        mixing = rng.normal(size=(5, 20))
        normal = rng.normal(size=(1500, 5)) @ mixing + 0.3 * rng.normal(size=(1500, 20))
        # Typical values of every feature, but not their correlations.
        anomalies = np.column_stack([rng.choice(normal[:, j], 60) for j in range(20)])
    elif name == "swiss3d":
        normal, _ = make_swiss_roll(1500, noise=0.3, random_state=seed)
        anomalies, _ = make_swiss_roll(60, noise=0.0, random_state=seed + 100)
        # Between the layers of the roll.
        radius = np.hypot(anomalies[:, 0], anomalies[:, 2])
        anomalies[:, [0, 2]] *= ((radius + np.pi) / radius)[:, None]
    elif name == "gauss1d":
        normal = rng.normal(size=(500, 1))
        anomalies = rng.choice([-1, 1], 25)[:, None] * rng.uniform(3, 6, (25, 1))
    elif name == "wide_smalln":
        mixing = rng.normal(size=(4, 300))
        normal = rng.normal(size=(80, 4)) @ mixing + 0.5 * rng.normal(size=(80, 300))
        anomalies = rng.normal(size=(8, 4)) @ mixing + 2.5 * rng.normal(size=(8, 300))
    elif name == "mixedscale8":
        normal = rng.normal(size=(1000, 3)) @ rng.normal(size=(3, 8))
        normal = normal * np.array([1e-3, 1, 1e3, 1, 10, 0.1, 1, 100])
        normal += np.array([0, 5, -1e4, 0, 0, 3, 0, 1])
        normal[:, 3] = rng.integers(0, 2, 1000)
        anomalies = normal[rng.choice(1000, 50)].copy()
        anomalies[:, [0, 4]] *= -1.0
        anomalies[:, [0, 4]] += rng.normal(0, [2e-3, 20], (50, 2))
    else:
        raise ValueError(name)
    return _labelled(normal, anomalies)


def contaminated(kind, seed):
    """500 correlated Gaussian inliers in 10-D plus 25 outliers, unscaled, in
    a random order: :func:`planted_outliers` drawn from ``seed``."""
    rng = np.random.default_rng(3000 + seed)
    X, y = planted_outliers(kind, rng)
    order = rng.permutation(len(X))
    return X[order], y[order]


def planted_outliers(kind, rng):
    """500 correlated Gaussian inliers in 10-D, then 25 outliers, unscaled.

    ``"scattered"``: uniform in [-20, 20]^10. The clusters hold 25 points of
    standard deviation 0.3: ``"cluster"``, around a point drawn uniformly in
    [-20, 20]^10; ``"cluster_on_main_axis"``, 4 inlier standard deviations
    along the main principal axis (inside the range of the inliers' main
    direction); ``"cluster_far_on_main_axis"``, 8 of them;
    ``"cluster_on_minor_axis"``, 4 along the least varying axis;
    ``"cluster_random_direction"``, at Mahalanobis distance 6 in a random
    direction.

    ``rng`` is a ``numpy.random.Generator`` or ``RandomState``, which draws
    the rows.
    """
    mixing = rng.normal(size=(10, 10))
    mixing[:, :3] *= 3.0
    inliers = rng.normal(size=(500, 10)) @ mixing
    if kind == "scattered":
        outliers = rng.uniform(-20, 20, size=(25, 10))
    else:
        variances, axes = np.linalg.eigh(np.cov(inliers.T))
        if kind == "cluster":
            centre = rng.uniform(-20, 20, size=10)
        elif kind == "cluster_on_main_axis":
            centre = 4 * np.sqrt(variances[-1]) * axes[:, -1]
        elif kind == "cluster_far_on_main_axis":
            centre = 8 * np.sqrt(variances[-1]) * axes[:, -1]
        elif kind == "cluster_on_minor_axis":
            centre = 4 * np.sqrt(variances[-1]) * axes[:, 0]
        elif kind == "cluster_random_direction":
            u = rng.normal(size=10)
            centre = 6 * (axes * np.sqrt(variances)) @ (u / np.linalg.norm(u))
        else:
            raise ValueError(kind)
        outliers = centre + 0.3 * rng.normal(size=(25, 10))
    return _labelled(inliers, outliers)


def breast_cancer_split(seed):
    """Benign tumours plus 30 malignant ones, split 60/40, unscaled.

    Returns ``X_train, X_test, y_train, y_test``, y = 1 for malignant.
    """
    rng = np.random.default_rng(4000 + seed)
    data = load_breast_cancer()
    benign = data.data[data.target == 1]
    malignant = data.data[data.target == 0]
    malignant = malignant[rng.choice(len(malignant), 30, replace=False)]
    X, y = _labelled(benign, malignant)
    return train_test_split(X, y, test_size=0.4, random_state=seed)


def _away_from(points, candidates, distance):
    nearest = NearestNeighbors(n_neighbors=1).fit(points).kneighbors(candidates)[0]
    return candidates[nearest.ravel() > distance]


def _labelled(normal, anomalies):
    X = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(len(normal), dtype=int), np.ones(len(anomalies), dtype=int)]
    return X, y
