"""Reproducibility, cloning, pickling and parallel use."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from tests._helpers import assert_same_weights, weights
from tests.conftest import VARIANTS

PARAMS = {"n_components": 2, "max_iter": 5, "batch_size": 16}


def test_random_state_makes_fit_bit_for_bit_reproducible(Estimator, X):
    first = Estimator(**PARAMS, noise=0.1, random_state=0).fit(X)
    second = Estimator(**PARAMS, noise=0.1, random_state=0).fit(X)
    assert_same_weights(first, second)
    assert first.loss_curve_ == second.loss_curve_
    np.testing.assert_array_equal(first.score_samples(X), second.score_samples(X))
    other = Estimator(**PARAMS, noise=0.1, random_state=1).fit(X)
    assert first.loss_curve_ != other.loss_curve_


def test_refitting_the_same_object_gives_the_same_model(Estimator, X):
    estimator = Estimator(**PARAMS, random_state=0)
    first = weights(estimator.fit(X))
    estimator.fit(X)
    assert_same_weights(first, estimator)


def test_random_state_instance_is_consumed_like_sklearn(X):
    rng = np.random.RandomState(0)
    estimator = AutoencoderTransformer(**PARAMS, random_state=rng)
    first = estimator.fit(X).loss_curve_
    # A RandomState instance advances, as in scikit-learn: a new fit differs.
    assert estimator.fit(X).loss_curve_ != first


def test_fitting_leaves_global_random_states_alone(X):
    torch.manual_seed(123)
    np.random.seed(123)
    expected_torch = torch.rand(3)
    expected_numpy = np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    AutoencoderTransformer(**PARAMS, variational=True, random_state=0).fit(X)
    AutoencoderOutlierDetector(**PARAMS, random_state=None).fit(X)
    torch.testing.assert_close(torch.rand(3), expected_torch)
    np.testing.assert_array_equal(np.random.rand(3), expected_numpy)


def test_clone_and_params_round_trip(Estimator):
    estimator = Estimator(**PARAMS, hidden_layer_sizes=(7,), random_state=3)
    cloned = clone(estimator)
    assert cloned.get_params() == estimator.get_params()
    cloned.set_params(n_components=4, noise=0.1)
    assert cloned.n_components == 4 and estimator.n_components == 2


def test_pickle_round_trip_of_fitted_estimator(Estimator, X):
    estimator = Estimator(**PARAMS, random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.score_samples(X), estimator.score_samples(X))
    assert restored.loss_curve_ == estimator.loss_curve_
    # A loaded model can be trained further by refitting, like any estimator.
    restored.fit(X)


def test_model_saved_from_gpu_loads_on_cpu_only_machine(X):
    if torch.cuda.is_available():
        pytest.skip("simulates a CPU-only machine; this one has CUDA")
    ae = AutoencoderTransformer(**PARAMS, random_state=0).fit(X)
    expected = ae.transform(X)
    # A net trained with device="cuda" records that device; skorch maps its
    # tensors to the CPU on loading when CUDA is missing, with a warning.
    ae.net_.device = "cuda"
    ae.device = "cuda"
    data = pickle.dumps(ae)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = pickle.loads(data)
    assert any("CUDA" in str(w.message) for w in caught)
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.transform(X), expected)


def test_parallel_grid_search_matches_serial_for_every_variant():
    # joblib's workers run one torch thread each; the serial search runs two.
    # Convolutions would then round differently (oneDNN sums gradients in an
    # order that depends on the thread count): every variant must give the
    # same scores, exactly.
    X = np.random.RandomState(0).uniform(size=(60, 16))
    grid = [
        {key: [value] for key, value in params.items()} for params in VARIANTS.values()
    ]
    estimator = AutoencoderTransformer(n_components=2, max_iter=3, random_state=0)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        serial = GridSearchCV(estimator, grid, cv=2, n_jobs=1).fit(X)
    finally:
        torch.set_num_threads(previous)
    parallel = GridSearchCV(estimator, grid, cv=2, n_jobs=2).fit(X)
    for key in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(
            serial.cv_results_[key], parallel.cv_results_[key]
        )


def _fit_and_count_threads(X):
    AutoencoderTransformer(**PARAMS, random_state=0).fit(X)
    return torch.get_num_threads()


def test_joblib_workers_do_not_oversubscribe_torch_threads(X):
    # joblib limits each of n_jobs workers to n_cpus // n_jobs threads, and
    # torch, imported in the worker, follows that limit: 2 workers on a
    # 2-core machine train with 1 thread each.
    n_jobs = 2
    counts = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_count_threads)(X) for _ in range(n_jobs)
    )
    import os

    expected = max(1, (os.cpu_count() or 1) // n_jobs)
    assert counts == [expected] * n_jobs


def test_fitted_estimator_does_not_keep_the_training_data():
    X = np.random.RandomState(0).normal(size=(4000, 100)).astype(np.float32)
    ae = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(8,), max_iter=2, random_state=0
    ).fit(X)
    # The model, its optimizer state and best weights take a few kB; the
    # 10% validation split alone would be 160 kB.
    assert len(pickle.dumps(ae)) < 0.1 * X.nbytes
