"""scikit-learn's estimator checks over both estimators and every variant."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from tests._modules import TinyAutoencoder

# Short training keeps the ~50 checks per estimator fast; the checks test the
# API, not the quality of the fit.
FAST = {"max_iter": 5, "batch_size": 16, "random_state": 0}

VARIANTS = {
    "mlp": {"hidden_layer_sizes": (8,)},
    "linear": {"architecture": "linear"},
    "sparse": {"hidden_layer_sizes": (8,), "sparsity": 0.1},
    "denoising": {"hidden_layer_sizes": (8,), "noise": 0.2},
    "masking": {"hidden_layer_sizes": (8,), "noise": 0.2, "noise_type": "masking"},
    "variational": {"hidden_layer_sizes": (8,), "variational": True},
    "conv": {"architecture": "conv", "hidden_layer_sizes": (4,)},
    "custom": {"architecture": TinyAutoencoder, "module_kwargs": {"width": 4}},
    "bce": {"hidden_layer_sizes": (8,), "loss": "bce"},
    "no_early_stopping": {"hidden_layer_sizes": (8,), "early_stopping": False},
}


def _estimators():
    for params in VARIANTS.values():
        yield AutoencoderTransformer(**FAST, **params)
        yield AutoencoderOutlierDetector(**FAST, **params)


@parametrize_with_checks(list(_estimators()))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", VARIANTS)
def test_variants_are_listed_once(name):
    # Guards the table above against a variant silently shadowing another.
    assert list(VARIANTS).count(name) == 1
