"""partial_fit: one pass per call, the model kept between calls."""

import pickle

import numpy as np
import pytest
import torch

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from tests._helpers import assert_same_weights, same_weights, weights

PARAMS = {"n_components": 2, "early_stopping": False, "batch_size": 32}


@pytest.fixture(scope="module")
def chunks():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 6)) + rng.uniform(5, 9, 6)
    return np.array_split(X, 4)


def test_each_call_is_one_pass_over_its_rows(Estimator, chunks):
    est = Estimator(**PARAMS, random_state=0)
    for i, chunk in enumerate(chunks, start=1):
        est.partial_fit(chunk)
        assert est.n_iter_ == len(est.loss_curve_) == i
        batches = est.net_.history[-1, "batches"]
        assert sum(b["train_batch_size"] for b in batches) == len(chunk)
    assert est.validation_scores_ is None
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_partial_fit_goes_on_from_the_current_model(Estimator, chunks):
    est = Estimator(**PARAMS, random_state=0).partial_fit(chunks[0])
    before = weights(est)
    net = est.net_
    est.partial_fit(chunks[1])
    assert est.net_ is net
    assert not all(same_weights(before, est).values())


def test_scaling_is_fixed_by_the_first_call(chunks):
    est = AutoencoderTransformer(**PARAMS).partial_fit(chunks[0])
    center = est.center_.copy()
    np.testing.assert_allclose(center, chunks[0].mean(axis=0))
    est.partial_fit(chunks[1] + 100.0)
    np.testing.assert_array_equal(est.center_, center)


def test_first_call_fixes_the_number_of_features(Estimator, chunks):
    est = Estimator(**PARAMS).partial_fit(chunks[0])
    with pytest.raises(ValueError, match="X has 5 features, but .* expecting 6"):
        est.partial_fit(chunks[1][:, :5])


def test_partial_fit_needs_early_stopping_off(Estimator, chunks):
    est = Estimator()
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError) as info:
        est.partial_fit(chunks[0])
    # The message a user reads last names the parameter to change.
    assert "has no attribute 'partial_fit'" in str(info.value)
    assert "early_stopping=False" in str(info.value)
    assert hasattr(est.set_params(early_stopping=False), "partial_fit")


def test_partial_fit_is_reproducible_and_survives_pickling(Estimator, chunks):
    # As when dask-ml's Incremental ships the estimator to a worker per block.
    plain = Estimator(**PARAMS, random_state=0)
    shipped = Estimator(**PARAMS, random_state=0)
    for chunk in chunks:
        plain.partial_fit(chunk)
        shipped = pickle.loads(pickle.dumps(shipped.partial_fit(chunk)))
    assert_same_weights(plain, shipped)
    assert plain.loss_curve_ == shipped.loss_curve_


def test_partial_fit_after_fit_trains_the_fitted_model(chunks):
    X = np.vstack(chunks)
    est = AutoencoderTransformer(n_components=2, max_iter=5, random_state=0).fit(X)
    n_iter = est.n_iter_
    est.set_params(early_stopping=False).partial_fit(chunks[0])
    assert est.n_iter_ == n_iter + 1
    assert est.validation_scores_ is None


def test_detector_offset_follows_each_call(chunks):
    det = AutoencoderOutlierDetector(**PARAMS, contamination=0.1, random_state=0)
    for chunk in chunks:
        det.partial_fit(chunk)
        scores = det.score_samples(chunk)
        assert det.offset_ == pytest.approx(np.percentile(scores, 10))
        assert np.mean(det.predict(chunk) == -1) == pytest.approx(0.1, abs=0.01)


def test_detector_code_density_follows_each_call(chunks):
    det = AutoencoderOutlierDetector(**PARAMS, random_state=0)
    det.partial_fit(chunks[0])
    first_center = det.code_term_.center_.copy()
    # Rows far from the first chunk: their codes have another mean.
    det.partial_fit(chunks[1] + 10.0)
    second = det._encode(chunks[1] + 10.0)
    np.testing.assert_allclose(det.code_term_.center_, second.mean(axis=0), rtol=1e-6)
    assert not np.allclose(det.code_term_.center_, first_center)


class Interrupting(torch.nn.Module):
    """Linear maps each way; raises KeyboardInterrupt at the training batch
    ``Interrupting.at`` (counted over all instances), once it is set."""

    at = None
    batches = 0

    def __init__(self, n_features, n_components):
        super().__init__()
        self.encoder = torch.nn.Linear(n_features, n_components)
        self.decoder = torch.nn.Linear(n_components, n_features)

    def encode(self, x):
        if self.training and Interrupting.at is not None:
            Interrupting.batches += 1
            if Interrupting.batches == Interrupting.at:
                raise KeyboardInterrupt
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)


def test_interrupted_call_leaves_the_model_as_it_was(chunks):
    est = AutoencoderTransformer(**PARAMS, architecture=Interrupting).partial_fit(
        chunks[0]
    )
    before, n_iter = weights(est), est.n_iter_
    optimizer = _moments(est)
    # The third of the call's four batches: two updates were made.
    Interrupting.at, Interrupting.batches = 3, 0
    try:
        with pytest.raises(KeyboardInterrupt):
            est.partial_fit(chunks[1])
    finally:
        Interrupting.at = None
    assert_same_weights(before, est)
    assert est.n_iter_ == len(est.net_.history) == n_iter
    assert all(torch.equal(a, b) for a, b in zip(optimizer, _moments(est), strict=True))


def _moments(estimator):
    """Adam's step counts and moment estimates, as a flat list of tensors."""
    state = estimator.net_.optimizer_.state_dict()["state"]
    return [
        state[key][name].clone()
        for key in sorted(state)
        for name in ("step", "exp_avg", "exp_avg_sq")
    ]
