"""Per-feature explanations: feature_errors decomposes score_samples."""

import numpy as np
import pytest

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def correlated():
    """Rows on a 2-D plane in 6-D, and one row off it in feature 4 only."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 6))
    X += 0.05 * rng.normal(size=X.shape)
    outlier = X[:1].copy()
    outlier[0, 4] += 6 * X[:, 4].std()
    return X, outlier


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_feature_errors_average_to_minus_the_score(Estimator, correlated, loss, dtype):
    X, _ = correlated
    X = X.astype(dtype)
    est = Estimator(n_components=2, loss=loss, max_iter=5, random_state=0).fit(X)
    errors = est.feature_errors(X)
    assert errors.shape == X.shape and errors.dtype == np.float64
    assert (errors >= 0).all()
    expected = -est.score_samples(X)
    if Estimator is AutoencoderOutlierDetector:
        expected -= _code_term(est, X)
    np.testing.assert_allclose(errors.mean(axis=1), expected, rtol=1e-10, atol=1e-10)


def _code_term(det, X):
    """The detector's code term, from its codes and the fitted mixture's own
    ``score_samples`` and ``predict_proba``: the log-density of the kept
    components is the mixture's plus the log of their share."""
    term = det.code_term_
    codes = det._encode(X).astype(np.float64).reshape(len(X), -1)
    z = (codes - term.center_) / term.scale_
    share = term.density_.predict_proba(z)[:, term.kept_].sum(axis=1)
    nll = -(term.density_.score_samples(z) + np.log(share))
    return term.factor_ * (nll - term.nll_center_)


def test_without_code_density_feature_errors_average_to_minus_the_score(correlated):
    X, _ = correlated
    det = AutoencoderOutlierDetector(
        n_components=2, density_components=None, max_iter=5, random_state=0
    ).fit(X)
    assert det.code_term_ is None
    np.testing.assert_allclose(
        det.feature_errors(X).mean(axis=1), -det.score_samples(X), rtol=1e-12
    )


def test_feature_errors_point_at_the_corrupted_feature(correlated):
    X, outlier = correlated
    det = AutoencoderOutlierDetector(n_components=2, random_state=0).fit(X)
    # The reconstruction projects the row back near the plane, which spreads
    # the residual over the features; the corrupted one has the largest.
    errors = det.feature_errors(outlier)[0]
    assert np.argmax(errors) == 4


def test_feature_errors_keep_feature_names(correlated):
    X, _ = correlated
    columns = [f"sensor {i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns, index=np.arange(100, 400))
    det = AutoencoderOutlierDetector(n_components=2, max_iter=3, random_state=0)
    errors = det.fit(frame).feature_errors(frame.iloc[:5])
    assert isinstance(errors, pd.DataFrame)
    assert list(errors.columns) == columns
    assert list(errors.index) == list(range(100, 105))
    # An ndarray gives an ndarray.
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        assert isinstance(det.feature_errors(X[:5]), np.ndarray)


def test_feature_errors_follow_set_output(correlated):
    X, _ = correlated
    ae = AutoencoderTransformer(n_components=2, max_iter=3, random_state=0)
    ae.set_output(transform="pandas").fit(X)
    errors = ae.feature_errors(X[:4])
    assert isinstance(errors, pd.DataFrame)
    assert list(errors.columns) == [f"x{i}" for i in range(6)]
