"""reconstruction_scorer: the reconstruction error of any transformer with
inverse_transform, in the data's units, and model selection with it."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.decomposition import PCA, KernelPCA, TruncatedSVD
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import Isomap
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.metrics import reconstruction_scorer
from tests._helpers import reconstruction_error

# Few epochs: these tests are about scoring, not about the quality of a fit.
FAST_AE = {"max_iter": 10, "random_state": 0}


def _transformers():
    return {
        "pca": PCA(n_components=5),
        "truncated_svd": TruncatedSVD(n_components=5, random_state=0),
        "kernel_pca": KernelPCA(
            n_components=5, kernel="rbf", fit_inverse_transform=True
        ),
        "pipeline": make_pipeline(StandardScaler(), PCA(n_components=5)),
        "autoencoder": AutoencoderTransformer(
            n_components=5, max_iter=3, random_state=0
        ),
    }


@pytest.mark.parametrize("name", list(_transformers()))
def test_reconstruction_scorer_is_minus_the_mean_squared_error(digits, name):
    X_train, X_test, *_ = digits
    transformer = _transformers()[name].fit(X_train)
    # Computed by hand with numpy, in pixel units (the pipeline's standard
    # scaling is undone by its inverse_transform too).
    expected = -reconstruction_error(transformer, X_test).mean()
    assert reconstruction_scorer(transformer, X_test) == pytest.approx(
        expected, rel=1e-12
    )
    assert reconstruction_scorer(transformer, X_test, np.zeros(len(X_test))) == (
        reconstruction_scorer(transformer, X_test)
    )


def test_reconstruction_scorer_on_a_perfect_reconstruction_is_zero(digits):
    X_train, X_test, *_ = digits
    # 64 components of 64 pixels lose nothing, to rounding.
    pca = PCA(n_components=64).fit(X_train)
    assert -1e-20 < reconstruction_scorer(pca, X_test) <= 0


def test_reconstruction_scorer_accepts_sparse_input(digits):
    X_train, X_test, *_ = digits
    svd = TruncatedSVD(n_components=8, random_state=0).fit(sp.csr_matrix(X_train))
    dense = reconstruction_scorer(svd, X_test)
    assert reconstruction_scorer(svd, sp.csr_matrix(X_test)) == pytest.approx(
        dense, rel=1e-12
    )


def test_reconstruction_scorer_accepts_dataframes_and_lists(digits):
    X_train, X_test, *_ = digits
    columns = [f"pixel{i}" for i in range(X_train.shape[1])]
    pca = PCA(n_components=5).fit(pd.DataFrame(X_train, columns=columns))
    expected = -reconstruction_error(PCA(n_components=5).fit(X_train), X_test).mean()
    with warnings.catch_warnings():
        # Feature names reach the estimator: no "X does not have valid
        # feature names" warning.
        warnings.simplefilter("error")
        score = reconstruction_scorer(pca, pd.DataFrame(X_test, columns=columns))
    assert score == pytest.approx(expected, rel=1e-12)
    plain = PCA(n_components=5).fit(X_train)
    assert reconstruction_scorer(plain, X_test.tolist()) == pytest.approx(expected)


@pytest.mark.parametrize("Input", [np.asarray, sp.csr_matrix])
def test_reconstruction_scorer_in_chunks_gives_the_same_error(digits, Input):
    X_train, X_test, *_ = digits
    pca = PCA(n_components=5).fit(X_train)
    whole = reconstruction_scorer(pca, Input(X_test))
    # working_memory is in MiB: a few rows per chunk.
    with sklearn.config_context(working_memory=0.01):
        chunked = reconstruction_scorer(pca, Input(X_test))
    assert chunked == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize(
    "estimator, missing",
    [
        (Isomap(n_components=2), "inverse_transform"),
        (make_pipeline(PCA(2), Isomap(n_components=2)), "inverse_transform"),
        (LogisticRegression(), "transform or inverse_transform"),
    ],
    ids=["isomap", "pipeline", "classifier"],
)
def test_reconstruction_scorer_needs_inverse_transform(X, estimator, missing):
    with pytest.raises(ValueError, match=f"has no {missing}"):
        reconstruction_scorer(estimator, X)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((3, 5), np.inf), "Input contains infinity"),
        # NaN is a missing value, which PCA refuses in its own words.
        (np.full((3, 5), np.nan), "Input X contains NaN"),
        (np.zeros((0, 5)), "0 sample"),
        (np.zeros(5), "Expected 2D array"),
    ],
    ids=["inf", "nan", "empty", "1d"],
)
def test_reconstruction_scorer_rejects_bad_input_in_sklearns_words(X, bad, message):
    pca = PCA(n_components=2).fit(X)
    with pytest.raises(ValueError, match=message):
        reconstruction_scorer(pca, bad)


def test_reconstruction_scorer_measures_the_observed_cells_of_rows_with_holes(digits):
    X_train, X_test, *_ = digits
    holes = np.random.RandomState(0).rand(*X_test.shape) < 0.2
    X_holes = np.where(holes, np.nan, X_test)
    ae = AutoencoderTransformer(n_components=8, **FAST_AE).fit(X_train)
    rebuilt = ae.inverse_transform(ae.transform(X_holes))
    expected = np.mean((rebuilt - X_test)[~holes] ** 2)
    assert reconstruction_scorer(ae, X_holes) == pytest.approx(-expected, rel=1e-9)
    # The estimator's own score measures the same cells.
    assert ae.score(X_holes) == pytest.approx(-expected, rel=1e-5)
    # In chunks, the cells counted add up the same way.
    with sklearn.config_context(working_memory=0.05):
        in_chunks = reconstruction_scorer(ae, X_holes)
    assert in_chunks == pytest.approx(-expected, rel=1e-9)
    # A list of rows is converted with its NaN kept.
    as_list = reconstruction_scorer(ae, X_holes.tolist())
    assert as_list == pytest.approx(-expected, rel=1e-9)


def test_reconstruction_scorer_needs_an_observed_cell():
    from sklearn.preprocessing import FunctionTransformer

    # The identity accepts NaN and gives it back: nothing to compare.
    identity = FunctionTransformer().fit(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="every cell of X is missing"):
        reconstruction_scorer(identity, np.full((2, 3), np.nan))


def test_reconstruction_scorer_rejects_a_reconstruction_of_other_features(digits):
    X_train, X_test, *_ = digits

    class Truncating(PCA):
        def inverse_transform(self, X):
            return super().inverse_transform(X)[:, :-1]

    truncating = Truncating(n_components=3).fit(X_train)
    with pytest.raises(ValueError, match=r"shape \(450, 63\) for X of shape"):
        reconstruction_scorer(truncating, X_test)


def _search_and_held_out_errors(candidates, X_train, X_test, cv):
    """The search over ``candidates`` with the scorer, fitted on ``X_train``,
    and each candidate's held-out error: the mean squared error on
    ``X_test`` of a copy fitted on ``X_train``, computed with numpy, in the
    data's units, apart from the scorer."""
    search = GridSearchCV(
        Pipeline([("reduce", PCA())]),
        {"reduce": candidates},
        scoring=reconstruction_scorer,
        cv=cv,
    ).fit(X_train)
    errors = [
        reconstruction_error(sklearn.clone(c).fit(X_train), X_test).mean()
        for c in candidates
    ]
    return search, errors


@pytest.mark.parametrize(
    "candidates",
    [
        # A wide PCA against a narrow autoencoder (what the default score
        # gets wrong: it compares PCA's log-likelihood with a scaled error).
        [PCA(32), AutoencoderTransformer(n_components=2, **FAST_AE)],
        # At the same width the autoencoder rebuilds the digits better.
        [PCA(8), AutoencoderTransformer(n_components=8, **FAST_AE)],
    ],
    ids=["pca32-vs-ae2", "pca8-vs-ae8"],
)
def test_grid_search_with_scorer_picks_the_lower_held_out_error(digits, candidates):
    X_train, X_test, *_ = digits
    search, errors = _search_and_held_out_errors(candidates, X_train, X_test, cv=3)
    # The two errors differ by far more than the spread between folds.
    assert max(errors) > 1.5 * min(errors)
    assert search.best_params_["reduce"] is candidates[int(np.argmin(errors))]
    # The refitted best model is scored on new data as the search scored it.
    assert search.score(X_test) == pytest.approx(-min(errors), rel=1e-6)


def test_grid_search_with_scorer_picks_the_lower_error_on_mnist(mnist):
    candidates = [PCA(8), AutoencoderTransformer(n_components=8, **FAST_AE)]
    search, errors = _search_and_held_out_errors(
        candidates, mnist[:1500], mnist[1500:], cv=2
    )
    # Measured: 0.036 for PCA, 0.028 for the autoencoder (pixels in [0, 1]).
    assert max(errors) > 1.2 * min(errors)
    assert search.best_params_["reduce"] is candidates[int(np.argmin(errors))]


@pytest.mark.parametrize("n_components", [2, 4])
def test_grid_search_with_scorer_picks_the_lower_error_on_breast_cancer(n_components):
    # Features from about 0.001 to 1,000 in their own units: each candidate
    # standardises them, and the scorer measures both in the data's units,
    # through the pipelines' inverse_transform. Measured: PCA 683, the
    # autoencoder 1445 at 2 components; 617 and 529 at 4.
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X_train, X_test = train_test_split(load_breast_cancer().data, random_state=0)
    candidates = [
        make_pipeline(StandardScaler(), PCA(n_components)),
        make_pipeline(
            StandardScaler(),
            AutoencoderTransformer(
                n_components=n_components, max_iter=30, random_state=0
            ),
        ),
    ]
    search, errors = _search_and_held_out_errors(candidates, X_train, X_test, cv=3)
    assert max(errors) > 1.1 * min(errors)
    assert search.best_params_["reduce"] is candidates[int(np.argmin(errors))]


def test_cross_val_score_accepts_the_scorer(digits):
    X_train, *_ = digits
    scores = cross_val_score(PCA(4), X_train, scoring=reconstruction_scorer, cv=3)
    assert scores.shape == (3,) and np.all(scores < 0)
