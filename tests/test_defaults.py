"""What the defaults promise, on small cases that run in seconds.

- The detector ranks outliers planted in its own training data first,
  scattered or in a small cluster, also a cluster that the network rebuilds
  well (the code density finds it).
- Its threshold holds on new data: new inliers are flagged at about the
  rate ``contamination`` says, not at several times it.
- The transformer's held-out reconstruction error is never above PCA's at the
  same ``n_components``, also beyond the widths of its hidden layers, and
  lower where the data are curved.

``benchmarks/bench_defaults.py`` measures the same on the full suites.
"""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from tests._helpers import benchmark_module, reconstruction_error

planted_outliers = benchmark_module("_anomalies").planted_outliers


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", ["scattered", "cluster"])
def test_outliers_in_the_training_data_are_ranked_first(kind, seed):
    X, y = planted_outliers(kind, np.random.RandomState(seed))
    detector = AutoencoderOutlierDetector(contamination=25 / 525, random_state=seed)
    scores = detector.fit(X).score_samples(X)
    assert roc_auc_score(y, -scores) >= 0.99
    # The threshold falls between them: the planted outliers are predicted
    # as such.
    assert np.mean(detector.predict(X)[y == 1] == -1) >= 0.9


@pytest.mark.parametrize("seed", [0, 1])
def test_a_cluster_rebuilt_well_is_found_by_its_code(seed):
    # 25 outliers in a tight cluster 4 standard deviations out along the
    # inliers' main axis: on the plane the network rebuilds, so their
    # reconstruction error is small, but their codes lie where training
    # codes are rare.
    rng = np.random.RandomState(seed)
    mixing = rng.normal(size=(10, 10))
    mixing[:, :3] *= 3.0
    inliers = rng.normal(size=(500, 10)) @ mixing
    variances, axes = np.linalg.eigh(np.cov(inliers.T))
    centre = 4 * np.sqrt(variances[-1]) * axes[:, -1]
    X = np.vstack([inliers, centre + 0.3 * rng.normal(size=(25, 10))])
    y = np.r_[np.zeros(500), np.ones(25)]
    auc = {}
    for density_components in (8, None):
        detector = AutoencoderOutlierDetector(
            contamination=25 / 525,
            density_components=density_components,
            random_state=seed,
        )
        auc[density_components] = roc_auc_score(y, -detector.fit(X).score_samples(X))
    assert auc[8] >= 0.93
    # The code term finds what the reconstruction alone ranks worse.
    assert auc[8] >= auc[None] + 0.05


def _breast_cancer(seed):
    """Benign tumours plus 30 malignant ones."""
    X, target = load_breast_cancer(return_X_y=True)
    malignant = np.random.RandomState(seed).permutation(np.flatnonzero(target == 0))
    return np.vstack([X[target == 1], X[malignant[:30]]]), np.r_[
        np.zeros((target == 1).sum()), np.ones(30)
    ]


def _wine(seed):
    """Wines of the first two cultivars plus 8 of the third."""
    X, target = load_wine(return_X_y=True)
    third = np.random.RandomState(seed).permutation(np.flatnonzero(target == 2))
    return np.vstack([X[target != 2], X[third[:8]]]), np.r_[
        np.zeros((target != 2).sum()), np.ones(8)
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dataset", [_breast_cancer, _wine])
def test_threshold_holds_on_new_inliers(dataset, seed):
    X, y = dataset(seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, random_state=seed, stratify=y
    )
    contamination = y_train.mean()
    detector = AutoencoderOutlierDetector(
        contamination=contamination, random_state=seed
    ).fit(X_train)
    flagged = np.mean(detector.predict(X_test[y_test == 0]) == -1)
    assert flagged <= 1.5 * contamination + 0.02


def _pca_error(X_train, X_test, k):
    pca = PCA(n_components=k).fit(X_train)
    return reconstruction_error(pca, X_test).mean()


@pytest.mark.parametrize("k, at_most", [(8, 0.65), (32, 1.0)])
def test_transformer_is_never_behind_pca(unit_digits, k, at_most):
    X_train, X_test = unit_digits
    ae = AutoencoderTransformer(n_components=k, random_state=0).fit(X_train)
    ae_error = reconstruction_error(ae, X_test).mean()
    assert ae_error <= at_most * _pca_error(X_train, X_test, k)


def test_transformer_code_wider_than_its_hidden_layers():
    # A rank-160 signal in 200 features, 150 components: more than the
    # widest default hidden layer (128) can carry.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 160)) @ rng.normal(size=(160, 200))
    X += 0.1 * rng.normal(size=X.shape)
    X_train, X_test = X[:450], X[450:]
    ae = AutoencoderTransformer(n_components=150, random_state=0).fit(X_train)
    ae_error = reconstruction_error(ae, X_test).mean()
    assert ae_error <= 1.02 * _pca_error(X_train, X_test, 150)
