"""scikit-learn's estimator checks over both estimators and every variant."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from tests.conftest import ESTIMATORS, FAST, VARIANTS


def _estimators():
    for params in VARIANTS.values():
        for Estimator in ESTIMATORS:
            yield Estimator(**FAST, **params)


@parametrize_with_checks(list(_estimators()))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
