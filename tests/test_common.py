"""scikit-learn's estimator checks over both estimators and every variant."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderImputer, AutoencoderOutlierDetector
from tests.conftest import ESTIMATORS, FAST, VARIANTS


def _estimators():
    for params in VARIANTS.values():
        for Estimator in ESTIMATORS:
            yield Estimator(**FAST, **params)
    # The detector's score without its code term.
    yield AutoencoderOutlierDetector(
        **FAST, hidden_layer_sizes=(8,), density_components=None
    )
    for params in (VARIANTS["residual"], VARIANTS["mlp"]):
        yield AutoencoderImputer(**FAST, **params)
    yield AutoencoderImputer(**FAST, **VARIANTS["residual"], add_indicator=True)


@parametrize_with_checks(list(_estimators()))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
