"""Behaviour of AutoencoderOutlierDetector."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skae import AutoencoderOutlierDetector
from skae._outlier_score import NeighbourTerm


@pytest.fixture(scope="module")
def detector(curve_with_outliers):
    X_train, *_ = curve_with_outliers
    return AutoencoderOutlierDetector(
        n_components=1, contamination=0.05, random_state=0
    ).fit(X_train)


def test_autoencoder_outlier_detector_ranks_planted_outliers(
    detector, curve_with_outliers
):
    _, X_test, y_test = curve_with_outliers
    scores = detector.score_samples(X_test)
    # Lower score = more abnormal, so -score ranks outliers first. Some
    # uniform points fall near the curve, so no detector ranks all first; the
    # defaults chosen on the benchmark suites (code density, learning rate
    # 1e-3 in 50 epochs) fit this nonlinear curve less closely than a longer
    # or faster training would.
    assert roc_auc_score(y_test, -scores) > 0.93
    labels = detector.predict(X_test)
    assert set(np.unique(labels)) == {-1, 1}
    # Most planted outliers are flagged, few inliers are.
    assert np.mean(labels[y_test == 1] == -1) > 0.8
    assert np.mean(labels[y_test == 0] == -1) < 0.15


def test_autoencoder_outlier_detector_conventions(detector, curve_with_outliers):
    X_train, X_test, _ = curve_with_outliers
    scores = detector.score_samples(X_test)
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(
        detector.decision_function(X_test), scores - detector.offset_
    )
    np.testing.assert_array_equal(
        detector.predict(X_test),
        np.where(detector.decision_function(X_test) < 0, -1, 1),
    )
    # Scoring is deterministic.
    np.testing.assert_array_equal(scores, detector.score_samples(X_test))


@pytest.mark.parametrize("contamination", [0.01, 0.1, 0.25])
def test_autoencoder_outlier_detector_contamination_sets_training_fraction(
    curve_with_outliers, contamination
):
    X_train, *_ = curve_with_outliers
    det = AutoencoderOutlierDetector(
        n_components=1, contamination=contamination, max_iter=10, random_state=0
    ).fit(X_train)
    fraction = np.mean(det.predict(X_train) == -1)
    assert fraction == pytest.approx(contamination, abs=1 / len(X_train))
    scores = det.score_samples(X_train)
    assert det.offset_ == pytest.approx(np.percentile(scores, 100 * contamination))


def test_autoencoder_outlier_detector_auto_contamination_is_tukey_fence(
    curve_with_outliers,
):
    X_train, X_test, y_test = curve_with_outliers
    det = AutoencoderOutlierDetector(n_components=1, random_state=0).fit(X_train)
    scores = det.score_samples(X_train)
    q1, q3 = np.percentile(scores, [25, 75])
    assert det.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1))
    # Trained on clean data, the fence flags the far-away points.
    labels = det.predict(X_test)
    assert np.mean(labels[y_test == 1] == -1) > 0.8


def test_autoencoder_outlier_detector_fit_predict(curve_with_outliers):
    X_train, *_ = curve_with_outliers
    params = {"n_components": 1, "contamination": 0.1, "max_iter": 5}
    labels = AutoencoderOutlierDetector(**params, random_state=0).fit_predict(X_train)
    det = AutoencoderOutlierDetector(**params, random_state=0).fit(X_train)
    np.testing.assert_array_equal(labels, det.predict(X_train))


def test_autoencoder_outlier_detector_default_n_components(curve_with_outliers):
    rng = np.random.RandomState(0)
    det = AutoencoderOutlierDetector(max_iter=1, random_state=0)
    assert det.fit(rng.normal(size=(50, 3))).n_components_ == 1
    assert det.fit(rng.normal(size=(50, 20))).n_components_ == 10


def test_neighbour_term_scores_distance_to_the_fifth_nearest_code():
    rng = np.random.RandomState(0)
    # Two groups of codes, one dense and one sparse, and the same
    # reconstruction everywhere: the term is the neighbours' distance alone.
    codes = np.vstack([rng.normal(0, 0.1, (200, 2)), rng.normal(5, 1.0, (200, 2))])
    reconstruction = rng.normal(size=400)
    term = NeighbourTerm().fit(codes, reconstruction)
    assert term.n_neighbors_ == 5
    new = np.array([[0.0, 0.0], [5.0, 5.0], [2.5, 2.5], [20.0, 20.0]])
    scores = term.score(new)
    # The centre of the dense group is closest to its neighbours, then that
    # of the sparse one, then the gap between them (where a single Gaussian
    # would put its mode), then a far point.
    assert scores[0] < scores[1] < scores[2] < scores[3]
    # Centred on the reference rows, each without its own code.
    own = term.neighbors_.kneighbors(n_neighbors=5)[0][:, -1]
    assert term.center_ == pytest.approx(np.median(own))


def test_neighbour_term_bounds_its_reference_codes():
    rng = np.random.RandomState(0)
    term = NeighbourTerm().fit(rng.normal(size=(5000, 3)), rng.normal(size=5000))
    assert term.neighbors_.n_samples_fit_ == 2000
    few = NeighbourTerm().fit(rng.normal(size=(3, 3)), rng.normal(size=3))
    assert few.n_neighbors_ == 2
    assert np.isfinite(few.score(rng.normal(size=(4, 3)))).all()
    # Codes all alike: no spread to scale by, the term is zero.
    same = NeighbourTerm().fit(np.ones((50, 2)), rng.normal(size=50))
    assert same.factor_ == 0.0
    np.testing.assert_array_equal(same.score(rng.normal(size=(4, 2))), 0.0)
