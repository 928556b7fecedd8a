"""Missing values (NaN): masked training, filled inference, scores of rows
with holes, and the errors for rows or features with nothing observed."""

import numpy as np
import pytest
import torch

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from skae._data import ScaledRows
from skae._missing import (
    DEFAULT_FILL_PASSES,
    MAX_FILL_PASSES,
    choose_fill_passes,
    refined_fills,
)

FAST = {"n_components": 2, "max_iter": 5, "batch_size": 16, "random_state": 0}


def _low_rank(n_samples, seed=0, noise=0.1):
    """Rows near a 3-dimensional subspace of 10 correlated features."""
    rng = np.random.RandomState(seed)
    W = np.random.RandomState(42).normal(size=(3, 10))
    return rng.normal(size=(n_samples, 3)) @ W + noise * rng.normal(
        size=(n_samples, 10)
    )


def _with_holes(X, fraction, seed=1):
    rng = np.random.RandomState(seed)
    holes = rng.uniform(size=X.shape) < fraction
    # Every row keeps an observed cell.
    holes[np.arange(len(X)), rng.randint(X.shape[1], size=len(X))] = False
    X = X.copy()
    X[holes] = np.nan
    return X, holes


def test_missing_cells_never_enter_training(Estimator):
    X, holes = _with_holes(_low_rank(120), 0.2)
    # Whatever lies under the mask, the model is the one trained on NaN:
    # the values hidden there are the data's, then garbage.
    reference = Estimator(**FAST).fit(X)
    for hidden in (_low_rank(120), np.full((120, 10), 1e3)):
        other = X.copy()
        other[holes] = hidden[holes]
        np.testing.assert_array_equal(np.isnan(X), holes)
        # The same NaN pattern reaches fit as X's.
        other[holes] = np.nan
        refit = Estimator(**FAST).fit(other)
        np.testing.assert_array_equal(
            refit.score_samples(X), reference.score_samples(X)
        )
    assert np.isfinite(reference.loss_curve_).all()


def test_masked_loss_ignores_values_under_the_mask():
    from skae._losses import AutoencoderLoss

    rng = np.random.RandomState(0)
    output = torch.as_tensor(rng.normal(size=(6, 4)), dtype=torch.float32)
    target = torch.as_tensor(rng.normal(size=(6, 4)), dtype=torch.float32)
    observed = torch.as_tensor(rng.uniform(size=(6, 4)) < 0.7)
    observed[:, 0] = True
    garbage = torch.where(observed, target, torch.full_like(target, 1e6))
    loss = AutoencoderLoss("mse")
    y_pred = (output, None, output[:, :2], None)
    assert loss(y_pred, target, observed) == loss(y_pred, garbage, observed)
    # Each row: the mean of its observed squared errors; rows weigh alike.
    squared = (output - target).square().numpy()
    mask = observed.numpy()
    expected = np.mean([squared[i][mask[i]].mean() for i in range(6)])
    assert float(loss(y_pred, target, observed)) == pytest.approx(expected, rel=1e-6)


def test_every_method_works_on_rows_with_holes(Estimator):
    X, holes = _with_holes(_low_rank(100), 0.2)
    estimator = Estimator(**FAST).fit(X)
    scores = estimator.score_samples(X)
    assert scores.shape == (100,) and np.isfinite(scores).all()
    errors = estimator.feature_errors(X)
    np.testing.assert_array_equal(np.isnan(errors), holes)
    assert (errors[~holes] >= 0).all()
    if isinstance(estimator, AutoencoderTransformer):
        Z = estimator.transform(X)
        assert np.isfinite(Z).all() and Z.shape == (100, 2)
        assert np.isfinite(estimator.inverse_transform(Z)).all()
        # The transformer's score: the mean over observed cells of minus
        # each row's error (the mean of its observed errors).
        np.testing.assert_allclose(scores, -np.nanmean(errors, axis=1), rtol=1e-6)
        assert np.isfinite(estimator.score(X))
    else:
        assert set(np.unique(estimator.predict(X))) <= {-1, 1}
        assert np.isfinite(estimator.offset_)


def test_partial_fit_trains_on_rows_with_holes(Estimator):
    X, _ = _with_holes(_low_rank(100), 0.2)
    estimator = Estimator(**{**FAST, "early_stopping": False})
    for chunk in np.array_split(X, 3):
        estimator.partial_fit(chunk)
    assert estimator.n_iter_ == 3
    assert np.isfinite(estimator.score_samples(X)).all()


def test_holes_are_filled_better_than_by_the_column_means():
    X = _low_rank(600)
    X_holes, holes = _with_holes(X, 0.3)
    ae = AutoencoderTransformer(n_components=3, random_state=0).fit(X_holes)
    rebuilt = ae.inverse_transform(ae.transform(X_holes))
    means = np.where(holes, np.nanmean(X_holes, axis=0), X)
    error = np.sqrt(np.mean((rebuilt[holes] - X[holes]) ** 2))
    error_means = np.sqrt(np.mean((means[holes] - X[holes]) ** 2))
    assert error < 0.3 * error_means


def test_rows_with_holes_are_scored_on_the_scale_of_complete_rows():
    X_train, X_new = _low_rank(2000, seed=0, noise=0.3), _low_rank(3000, seed=5)
    X_new += 0.2 * np.random.RandomState(6).normal(size=X_new.shape)
    detector = AutoencoderOutlierDetector(
        contamination=0.05, density_components=None, random_state=0
    ).fit(X_train)
    X_holes, _ = _with_holes(X_new, 0.1)
    complete = np.mean(detector.predict(X_new) == -1)
    with_holes = np.mean(detector.predict(X_holes) == -1)
    # A row is neither more normal nor more abnormal for missing cells.
    assert abs(with_holes - complete) < 0.02 + 0.3 * complete


def test_a_model_fitted_on_complete_rows_scores_rows_with_holes(Estimator):
    X = _low_rank(100)
    estimator = Estimator(**FAST).fit(X)
    X_holes, holes = _with_holes(X, 0.2)
    errors = estimator.feature_errors(X_holes)
    np.testing.assert_array_equal(np.isnan(errors), holes)
    assert np.isfinite(estimator.score_samples(X_holes)).all()


def test_rows_or_features_with_nothing_observed_are_errors(Estimator):
    X, _ = _with_holes(_low_rank(60), 0.1)
    empty_row, empty_column = X.copy(), X.copy()
    empty_row[7] = np.nan
    empty_column[:, 4] = np.nan
    estimator = Estimator(**FAST)
    with pytest.raises(ValueError, match=r"1 row\(s\) whose values are all missing"):
        estimator.fit(empty_row)
    with pytest.raises(ValueError, match=r"feature\(s\) \[4\]"):
        estimator.fit(empty_column)
    assert not hasattr(estimator, "net_")
    estimator.fit(X)
    before = estimator.score_samples(X)
    with pytest.raises(ValueError, match="all missing"):
        estimator.score_samples(empty_row)
    # A new row may miss a feature the others observe.
    assert np.isfinite(estimator.score_samples(empty_column)).all()
    np.testing.assert_array_equal(estimator.score_samples(X), before)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinity_is_still_rejected(Estimator, bad):
    X, _ = _with_holes(_low_rank(60), 0.1)
    X[3, 2] = bad
    with pytest.raises(ValueError, match="infinity"):
        Estimator(**FAST).fit(X)
    fitted = Estimator(**FAST).fit(_low_rank(60))
    with pytest.raises(ValueError, match="infinity"):
        fitted.score_samples(X)


def test_an_accelerator_trains_on_rows_with_holes_as_a_plain_fit_does(Estimator):
    # One process: the accelerated net reads the same batches, with their
    # masks, as the plain one, so both end at the same weights.
    accelerate = pytest.importorskip("accelerate")
    from accelerate.state import AcceleratorState

    X, _ = _with_holes(_low_rank(200), 0.2)
    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        accelerator = accelerate.Accelerator(cpu=True)
        accelerated = Estimator(**FAST, accelerator=accelerator).fit(X)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    plain = Estimator(**FAST).fit(X)
    for name, value in plain.net_.module_.state_dict().items():
        torch.testing.assert_close(
            accelerated.net_.module_.state_dict()[name], value, rtol=0, atol=1e-6
        )
    np.testing.assert_allclose(accelerated.loss_curve_, plain.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(
        accelerated.score_samples(X), plain.score_samples(X), rtol=1e-5
    )


def test_allow_nan_tag(Estimator):
    assert Estimator().__sklearn_tags__().input_tags.allow_nan


class _Mixing(torch.nn.Module):
    """A network whose reconstruction is ``x @ mixing``: a fixed linear map
    that the fill passes of :mod:`skae._missing` iterate."""

    def __init__(self, mixing):
        super().__init__()
        self.mixing = torch.nn.Parameter(
            torch.as_tensor(mixing, dtype=torch.float32), requires_grad=False
        )

    def encode(self, x):
        return x @ self.mixing

    def decode(self, z):
        return z


def _fills(mixing, row, n_passes):
    x = torch.as_tensor([row], dtype=torch.float32)
    fills = refined_fills(
        _Mixing(mixing), x, torch.zeros(2), "mse", ~torch.isnan(x), n_passes
    )
    return [float(filled[0, 1]) for filled in fills]


def test_fill_passes_go_on_while_they_converge():
    # The second cell is rebuilt as the mean of both cells: the fill halves
    # its distance to the observed 1.0 at each pass, as iterative PCA does
    # on two perfectly correlated features.
    fills = _fills([[1.0, 0.5], [0.0, 0.5]], [1.0, np.nan], 4)
    np.testing.assert_allclose(fills, [0.0, 0.5, 0.75, 0.875, 0.9375])


def test_a_row_whose_fill_diverges_keeps_its_last_fill():
    # Rebuilt as twice the sum of both cells, the fill moves by 2, then 4:
    # the second pass moves it more than the first, so the row keeps the
    # first pass's fill from then on.
    fills = _fills([[1.0, 2.0], [0.0, 2.0]], [1.0, np.nan], 4)
    np.testing.assert_allclose(fills, [0.0, 2.0, 2.0, 2.0, 2.0])


def _correlated_rows(n_samples=200, seed=0):
    """Two features equal to each other, a third of the second hidden."""
    rng = np.random.RandomState(seed)
    X = np.repeat(rng.normal(size=(n_samples, 1)), 2, axis=1)
    X[rng.uniform(size=n_samples) < 0.3, 1] = np.nan
    return X


@pytest.mark.parametrize(
    "mixing, expected",
    [
        # Each pass brings the fill closer: all of them are used.
        ([[1.0, 0.5], [0.0, 0.5]], MAX_FILL_PASSES),
        # Each pass overshoots: the features' means (zero) fill best.
        ([[1.0, 2.0], [0.0, 2.0]], 0),
    ],
)
def test_the_passes_chosen_restore_hidden_cells_best(mixing, expected):
    rows = ScaledRows(torch.as_tensor(_correlated_rows(), dtype=torch.float32))
    n_passes = choose_fill_passes(
        _Mixing(mixing), rows, np.zeros(2), "mse", np.random.RandomState(0)
    )
    assert n_passes == expected


def test_fit_counts_fill_passes_on_held_out_rows(Estimator):
    X, holes = _with_holes(_low_rank(300), 0.3)
    assert 0 <= Estimator(**FAST).fit(X).n_fill_passes_ <= MAX_FILL_PASSES
    # Complete rows near a subspace: cells hidden in the held-out rows are
    # restored better by nearly every further pass, as in iterative PCA.
    params = {**FAST, "n_components": 3, "max_iter": 20}
    assert Estimator(**params).fit(_low_rank(600)).n_fill_passes_ >= 8
    # Without held-out rows there is nothing to count them on.
    for fitted in (
        Estimator(**{**FAST, "early_stopping": False}).fit(X),
        Estimator(**{**FAST, "early_stopping": False}).partial_fit(X),
    ):
        assert fitted.n_fill_passes_ == DEFAULT_FILL_PASSES


def test_rows_with_holes_are_filled_in_n_fill_passes_(Estimator):
    X, holes = _with_holes(_low_rank(300), 0.3)
    estimator = Estimator(**FAST).fit(X)
    # No pass at all: a missing cell holds its feature's observed mean, so
    # the observed cells are rebuilt as in the row filled with the means by
    # hand.
    by_hand = np.where(holes, np.nanmean(X, axis=0), X)
    expected = estimator.feature_errors(by_hand)[~holes]
    estimator.n_fill_passes_ = 0
    np.testing.assert_allclose(estimator.feature_errors(X)[~holes], expected)
    estimator.n_fill_passes_ = MAX_FILL_PASSES
    assert not np.allclose(estimator.feature_errors(X)[~holes], expected)
