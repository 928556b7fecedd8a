"""What the tests share: the estimators and their variants, and small data
sets (session-scoped)."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from tests._modules import TinyAutoencoder

# pytest-xdist runs one worker per core: a second torch thread per worker
# would oversubscribe the cores, and OpenMP's spin-waiting makes that many
# times slower, not just twice.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

ESTIMATORS = (AutoencoderTransformer, AutoencoderOutlierDetector)

# Short training for tests of the API rather than of the quality of the fit.
FAST = {"max_iter": 5, "batch_size": 16, "random_state": 0}

# Every variant skae supports, as parameters of either estimator.
VARIANTS = {
    "residual": {"hidden_layer_sizes": (8,)},
    "mlp": {"architecture": "mlp", "hidden_layer_sizes": (8,)},
    "linear": {"architecture": "linear"},
    "sparse": {"architecture": "mlp", "hidden_layer_sizes": (8,), "sparsity": 0.1},
    "denoising": {"hidden_layer_sizes": (8,), "noise": 0.2},
    "masking": {"hidden_layer_sizes": (8,), "noise": 0.2, "noise_type": "masking"},
    "variational": {"hidden_layer_sizes": (8,), "variational": True},
    "conv": {"architecture": "conv", "hidden_layer_sizes": (4,)},
    "custom": {"architecture": TinyAutoencoder, "module_kwargs": {"width": 4}},
    "bce": {"hidden_layer_sizes": (8,), "loss": "bce"},
    "no_early_stopping": {"hidden_layer_sizes": (8,), "early_stopping": False},
}


@pytest.fixture(scope="session", params=ESTIMATORS, ids=lambda e: e.__name__)
def Estimator(request):
    """Each of skae's estimator classes in turn."""
    return request.param


@pytest.fixture(scope="session")
def X():
    """80 rows of 5 standard normal features."""
    return np.random.RandomState(0).normal(size=(80, 5))


@pytest.fixture(scope="session")
def digits():
    """``load_digits`` split 75/25, stratified, as float64."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


@pytest.fixture(scope="session")
def unit_digits(digits):
    """The pixels of ``digits``' training and test splits, scaled to [0, 1]."""
    X_train, X_test, *_ = digits
    return X_train / 16, X_test / 16


@pytest.fixture(scope="session")
def noisy_unit_digits(unit_digits):
    """The test split of ``unit_digits`` with Gaussian noise (standard
    deviation 0.3), clipped to [0, 1]."""
    _, X_test = unit_digits
    noise = np.random.RandomState(0).normal(scale=0.3, size=X_test.shape)
    return np.clip(X_test + noise, 0, 1)


@pytest.fixture(scope="session")
def curve_with_outliers():
    """Points near a 1-D curve in 3-D, and uniform points far from it.

    Returns ``X_train`` (inliers only), ``X_test`` and ``y_test`` with 1 for
    the planted outliers.
    """
    rng = np.random.RandomState(0)

    def curve(n):
        t = rng.uniform(-3, 3, size=(n, 1))
        return np.hstack([t, np.sin(t), np.cos(t)]) + 0.05 * rng.normal(size=(n, 3))

    X_outliers = rng.uniform(-3, 3, size=(20, 3))
    X_test = np.vstack([curve(200), X_outliers])
    y_test = np.r_[np.zeros(200), np.ones(20)]
    return curve(400), X_test, y_test


@pytest.fixture(scope="session")
def mnist():
    """2,000 MNIST images as float64 pixels in [0, 1], or skip."""
    import gzip

    path = SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.skip(f"MNIST is not available at {path}")
    with gzip.open(path) as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return pixels.reshape(-1, 784)[:2000].astype(np.float64) / 255.0
