"""Thresholds set by a target false-positive rate, and conformal p-values."""

import numpy as np
import pytest
from scipy import stats
from sklearn.utils._param_validation import InvalidParameterError

from skae import AutoencoderOutlierDetector

FAST = {"max_iter": 5, "random_state": 0}


@pytest.fixture(scope="module")
def normal_rows():
    """Training rows and many new rows from the same 4-D subspace of 12-D."""
    rng = np.random.RandomState(0)
    mixing = rng.normal(size=(4, 12))

    def draw(n):
        return rng.normal(size=(n, 4)) @ mixing + 0.1 * rng.normal(size=(n, 12))

    return draw(8000), draw(20_000)


@pytest.fixture(scope="module")
def calibrated(normal_rows):
    X, _ = normal_rows
    return AutoencoderOutlierDetector(false_positive_rate=0.05, **FAST).fit(X)


def test_calibration_rows_are_half_the_held_out_rows(calibrated, normal_rows):
    # validation_fraction=0.1 of 8,000 rows are held out for early stopping;
    # half of them calibrate, the other half gives the scales of the score.
    assert len(calibrated.calibration_scores_) == 400
    assert np.all(np.diff(calibrated.calibration_scores_) >= 0)


@pytest.mark.parametrize("n_rows, n_calibration", [(300, 30), (150, 150)])
def test_too_few_held_out_rows_to_halve_all_calibrate(n_rows, n_calibration):
    # 30 rows held out of 300: too few to halve (40), all of them calibrate
    # and give the scales, rather than the training rows, which a network
    # with more features than rows can memorise (on ODDS arrhythmia, 271
    # rows of 274 features, scales learned on them flagged 55% of new
    # inliers at contamination=0.15). 15 of 150: fewer than 20, all rows.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_rows, 5))
    det = AutoencoderOutlierDetector(max_iter=2, random_state=0).fit(X)
    assert len(det.calibration_scores_) == n_calibration


def test_early_stopping_monitors_only_the_held_out_rows_that_do_not_calibrate(
    calibrated,
):
    # 800 rows held out: 400 calibrate, and each epoch's validation pass
    # reads the other 400 only, so the epoch kept is not chosen on them.
    history = calibrated.net_.history
    for epoch in history:
        n_read = sum(
            batch["valid_batch_size"]
            for batch in epoch["batches"]
            if "valid_batch_size" in batch
        )
        assert n_read == 800 - len(calibrated.calibration_scores_) == 400


def test_predict_flags_exactly_the_rows_with_small_pvalues(calibrated, normal_rows):
    _, new = normal_rows
    pvalues = calibrated.pvalues(new)
    flagged = calibrated.predict(new) == -1
    np.testing.assert_array_equal(flagged, pvalues <= 0.05)


@pytest.mark.parametrize("rate", [0.01, 0.05])
def test_share_of_new_normal_rows_flagged_is_near_the_target(normal_rows, rate):
    X, new = normal_rows
    det = AutoencoderOutlierDetector(false_positive_rate=rate, **FAST).fit(X)
    flagged = np.mean(det.predict(new) == -1)
    # 400 calibration rows: the realised rate has a standard deviation of
    # about sqrt(rate / 400), 0.005 to 0.011; the goal's band is wider.
    assert abs(flagged - rate) <= max(0.01, rate / 2)


def test_pvalues_of_new_normal_rows_are_close_to_uniform(calibrated, normal_rows):
    _, new = normal_rows
    pvalues = calibrated.pvalues(new)
    n = len(calibrated.calibration_scores_)
    assert pvalues.min() >= 1 / (n + 1) and pvalues.max() <= 1.0
    # Given the calibration rows, the p-values follow their empirical
    # distribution, which is off the true one by at most eps with
    # probability 1 - 2 exp(-2 n eps^2) (Dvoretzky-Kiefer-Wolfowitz): 0.08
    # for 99% with n = 400; the discreteness adds 1 / (n + 1).
    eps = np.sqrt(np.log(2 / 0.01) / (2 * n))
    assert stats.kstest(pvalues, "uniform").statistic < eps + 1 / (n + 1)


def test_pvalues_stay_calibrated_where_the_pca_start_would_fit_rows_closely():
    # 100 features of noise, 450 rows, a code of 50: PCA's axes fitted on a
    # set of rows rebuild those rows better than new ones. Barely trained
    # (one epoch at a tiny learning rate), the network stays at its start,
    # so calibration rows that the start saw would score lower than new
    # rows, and far more new rows than asked would be flagged (58% at
    # a = 0.2 when the start saw them); the start leaves them out.
    rates = []
    for seed in range(8):
        rng = np.random.RandomState(seed)
        X, new = rng.normal(size=(450, 100)), rng.normal(size=(2000, 100))
        detector = AutoencoderOutlierDetector(
            max_iter=1,
            learning_rate_init=1e-5,
            density_components=None,
            random_state=seed,
        ).fit(X)
        rates.append(np.mean(detector.pvalues(new) <= 0.2))
    # 22 calibration rows per fit: each rate spreads widely, their mean less.
    assert 0.12 <= np.mean(rates) <= 0.3


def test_pvalues_of_outliers_are_small(calibrated, normal_rows):
    _, new = normal_rows
    far = new[:50] + 20 * new.std(axis=0)
    n = len(calibrated.calibration_scores_)
    np.testing.assert_allclose(calibrated.pvalues(far), 1 / (n + 1))


def test_without_false_positive_rate_the_threshold_follows_contamination(
    normal_rows,
):
    X, _ = normal_rows
    det = AutoencoderOutlierDetector(contamination=0.2, **FAST).fit(X)
    scores = det.score_samples(X)
    assert det.offset_ == pytest.approx(np.percentile(scores, 20))
    assert len(det.calibration_scores_) == 400


def test_too_few_calibration_rows_flag_nothing_with_a_warning(normal_rows):
    X, new = normal_rows
    det = AutoencoderOutlierDetector(false_positive_rate=0.001, **FAST)
    # 1,000 rows: 100 held out, 50 of them calibrate; the smallest p-value
    # is 1/51, above 0.001.
    with pytest.warns(UserWarning, match="^50 calibration rows cannot certify"):
        det.fit(X[:1000])
    assert np.all(det.predict(new[:100]) == 1)


@pytest.mark.parametrize("rate", [0, 1, -0.1, 1.5, "0.05", True])
def test_false_positive_rate_is_validated(rate, normal_rows):
    X, _ = normal_rows
    det = AutoencoderOutlierDetector(false_positive_rate=rate, **FAST)
    with pytest.raises(InvalidParameterError, match="false_positive_rate"):
        det.fit(X[:100])


def test_pvalues_before_fit_raise_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoencoderOutlierDetector().pvalues(np.zeros((2, 3)))
