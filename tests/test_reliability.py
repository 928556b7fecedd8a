"""Regression tests for what adversarial use once broke: silent wrong results,
corrupted models, swallowed interrupts, and torch tracebacks in place of
scikit-learn errors."""

import pickle
import threading

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from tests._helpers import same_weights
from tests._modules import TinyAutoencoder
from tests.conftest import VARIANTS


@pytest.fixture(scope="module")
def gaussian():
    return np.random.RandomState(0).normal(size=(200, 6))


# ----------------------------------------------------------------------
# Silent wrong results and corruption
# ----------------------------------------------------------------------
def test_concurrent_float64_calls_leave_the_model_intact():
    X = np.random.RandomState(0).normal(size=(2000, 16))
    est = AutoencoderTransformer(max_iter=3, random_state=0).fit(X)
    expected = est.transform(X)
    results, errors = [], []

    def work():
        try:
            results.extend(est.transform(X) for _ in range(10))
        except Exception as exc:  # recorded, then asserted empty
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for result in results:
        np.testing.assert_array_equal(result, expected)
    # The fitted module itself stays float32, so float32 calls still work.
    assert {p.dtype for p in est.net_.module_.parameters()} == {torch.float32}
    assert est.transform(X.astype(np.float32)).dtype == np.float32


def test_concurrent_detector_scores_are_those_of_one_call():
    # The score's code term builds its tensors per call; calls in several
    # threads, in both precisions, must not see each other's.
    X = np.random.RandomState(0).normal(size=(2000, 16))
    det = AutoencoderOutlierDetector(max_iter=3, random_state=0).fit(X)
    inputs = [X, X.astype(np.float32)]
    expected = [det.score_samples(x) for x in inputs]
    results, errors = [], []

    def work(k):
        try:
            results.extend((k, det.score_samples(inputs[k])) for _ in range(5))
        except Exception as exc:  # recorded, then asserted empty
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k % 2,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 20
    for k, result in results:
        np.testing.assert_array_equal(result, expected[k])


def test_float64_results_follow_the_model_when_it_changes_in_place(gaussian):
    # float64 calls run a cached float64 copy of the network; it must never
    # lag behind the network, which optimizer steps change in place without
    # any record (fused Adam does not advance tensors' version counters).
    est = AutoencoderTransformer(n_components=2, early_stopping=False, random_state=0)
    est.partial_fit(gaussian)
    first = est.score_samples(gaussian)
    est.partial_fit(gaussian)
    fresh = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(
        est.score_samples(gaussian), fresh.score_samples(gaussian)
    )
    assert not np.array_equal(est.score_samples(gaussian), first)
    with torch.no_grad():
        for p in est.net_.module_.parameters():
            p.mul_(0.5)
    np.testing.assert_allclose(
        est.transform(gaussian),
        est.transform(gaussian.astype(np.float32)),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize("factor", [1e-20, 1e-200])
def test_tiny_valued_features_are_not_treated_as_constant(gaussian, factor):
    X = gaussian * factor
    ae = AutoencoderTransformer(max_iter=20, random_state=0, scaling="standard").fit(X)
    np.testing.assert_allclose(ae.scale_ / factor, gaussian.std(axis=0), rtol=1e-12)
    assert np.all(ae.transform(X).std(axis=0) > 0.1)
    det = AutoencoderOutlierDetector(contamination=0.1, max_iter=20, random_state=0)
    assert np.mean(det.fit(X).predict(X) == -1) == pytest.approx(0.1, abs=0.01)


def test_constant_features_reach_the_network_as_zeros(gaussian):
    X = gaussian.copy()
    X[:, 0] = 1e-20
    X[:, 1] = 3e200  # its mean is off by rounding errors of about 1e184
    X[:, 2] = 0.0
    ae = AutoencoderTransformer(max_iter=5, random_state=0, scaling="standard").fit(X)
    np.testing.assert_array_equal(ae.scale_[:3], 1.0)
    np.testing.assert_array_equal(X[:, :3] - ae.center_[:3], 0.0)
    assert np.isfinite(ae.loss_curve_).all()


@pytest.mark.parametrize("factor", [1e-20, 1.0, 1e200])
def test_global_scaling_is_one_scale_for_all_features(gaussian, factor):
    X = gaussian * np.arange(1.0, 7.0) * factor
    ae = AutoencoderTransformer(max_iter=2, random_state=0).fit(X)
    assert ae._scaling_method() == "global"
    np.testing.assert_allclose(ae.center_, X.mean(axis=0), rtol=1e-12)
    expected = np.sqrt(np.mean((X / factor).var(axis=0))) * factor
    np.testing.assert_allclose(ae.scale_, expected, rtol=1e-12)
    assert np.isfinite(ae.inverse_transform(ae.transform(X))).all()


def test_global_spread_beyond_float64_is_an_error(gaussian):
    X = gaussian.copy()
    X[:, 0] = np.where(X[:, 0] > 0, 1.7e308, -1.7e308)
    with pytest.raises(ValueError, match=r"exceeds the largest"):
        AutoencoderTransformer(max_iter=2, scaling="global").fit(X)


@pytest.mark.parametrize("sign", [1, -1])
def test_huge_feature_gets_a_finite_scale(sign):
    rng = np.random.RandomState(0)
    low_rank = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6))
    X = low_rank.copy()
    X[:, 0] *= sign * 1e200
    ae = AutoencoderTransformer(
        n_components=2, max_iter=50, random_state=0, scaling="standard"
    ).fit(X)
    assert np.isfinite(ae.scale_).all()
    np.testing.assert_allclose(ae.scale_[0], 1e200 * low_rank[:, 0].std(), rtol=1e-12)
    X_hat = ae.inverse_transform(ae.transform(X))
    assert np.isfinite(X_hat).all()
    # Reconstructed, in the units of the data.
    assert np.corrcoef(X_hat[:, 0] / 1e200, low_rank[:, 0])[0, 1] * sign > 0.9


def test_spread_beyond_float64_is_an_error(gaussian):
    X = gaussian.copy()
    X[:, 0] = np.where(X[:, 0] > 0, 1.7e308, -1.7e308)
    with pytest.raises(ValueError, match=r"feature\(s\) \[0\] exceeds the largest"):
        AutoencoderTransformer(max_iter=2, scaling="standard").fit(X)


@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, AutoencoderOutlierDetector]
)
def test_last_step_that_breaks_the_weights_is_a_training_error(Estimator, gaussian):
    # One batch, one epoch: the loss is computed before the only update,
    # which sends the weights of every layer to inf (the last layers of a
    # residual network start at zero, so its other layers get no gradient).
    estimator = Estimator(
        architecture="mlp",
        optimizer="sgd",
        learning_rate_init=1e38,
        max_iter=1,
        batch_size=1000,
        early_stopping=False,
    )
    with pytest.raises(ValueError, match="Training diverged"):
        estimator.fit(gaussian)
    assert not hasattr(estimator, "net_") and not hasattr(estimator, "offset_")


def test_inverse_transform_of_float64_codes_beyond_float32(gaussian):
    ae = AutoencoderTransformer(n_components=2, max_iter=3, random_state=0)
    ae.fit(gaussian)
    X_hat = ae.inverse_transform(np.array([[1e39, 0.0]]))
    assert np.isfinite(X_hat).all()
    # Linear in the code far from the data: doubling it doubles the output.
    X_hat2 = ae.inverse_transform(np.array([[2e39, 0.0]]))
    assert np.all(np.abs(X_hat2) > np.abs(X_hat))


def test_float64_inverse_transform_does_not_depend_on_batching(gaussian):
    ae = AutoencoderTransformer(n_components=2, max_iter=3, random_state=0)
    Z = ae.fit(gaussian).transform(gaussian)
    np.testing.assert_allclose(
        ae.inverse_transform(Z)[:1], ae.inverse_transform(Z[:1]), rtol=1e-12
    )


def test_non_finite_output_is_an_error_not_a_result(gaussian):
    ae = AutoencoderTransformer(n_components=2, max_iter=3, random_state=0)
    ae.fit(gaussian)
    with pytest.raises(ValueError, match="not finite for 200 of 200 rows"):
        ae.score_samples((gaussian * 1e37).astype(np.float32))
    # In float64 the same rows are fine.
    assert np.isfinite(ae.score_samples(gaussian * 1e37)).all()


class InterruptedAutoencoder(TinyAutoencoder):
    """Raises KeyboardInterrupt, as Ctrl-C would, at training batch ``at``."""

    def __init__(self, n_features, n_components, at=5):
        super().__init__(n_features, n_components)
        self.at = at
        self.batches = 0

    def encode(self, x):
        if self.training:
            self.batches += 1
            if self.batches == self.at:
                raise KeyboardInterrupt
        return super().encode(x)


@pytest.mark.parametrize("at", [1, 12])
@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, AutoencoderOutlierDetector]
)
def test_ctrl_c_stops_fit_and_leaves_no_half_fitted_state(Estimator, at, gaussian):
    params = {"architecture": InterruptedAutoencoder, "max_iter": 10, "batch_size": 50}
    estimator = Estimator(**params, module_kwargs={"at": at})
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(gaussian)
    assert not [key for key in vars(estimator) if key.endswith("_")]
    # A refit interrupted leaves the previous model as it was.
    estimator.set_params(module_kwargs={"at": 10**9}).fit(gaussian)
    before = dict(vars(estimator))
    scores = estimator.score_samples(gaussian)
    with pytest.raises(KeyboardInterrupt):
        estimator.set_params(module_kwargs={"at": at}).fit(gaussian[:, :5])
    fitted = [key for key in before if key.endswith("_")]
    assert [key for key in vars(estimator) if key.endswith("_")] == fitted
    assert all(vars(estimator)[key] is before[key] for key in fitted)
    np.testing.assert_array_equal(estimator.score_samples(gaussian), scores)


def test_ctrl_c_stops_a_grid_search(gaussian):
    search = GridSearchCV(
        AutoencoderTransformer(
            architecture=InterruptedAutoencoder, module_kwargs={"at": 3}, max_iter=5
        ),
        {"n_components": [1, 2]},
        cv=2,
    )
    with pytest.raises(KeyboardInterrupt):
        search.fit(gaussian)
    assert not hasattr(search, "cv_results_")


# ----------------------------------------------------------------------
# Clear errors in place of torch or skorch tracebacks
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"n_components": True},
        {"n_components": np.bool_(True)},
        {"max_iter": True},
        {"batch_size": False},
        {"n_iter_no_change": True},
    ],
)
def test_booleans_are_not_counts(params, Estimator, gaussian):
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        Estimator(**params).fit(gaussian)


@pytest.mark.parametrize(
    "hidden", [(True, 4), (4.0,), (4.7,), ("4",), (0,), (np.int64(4), -1)]
)
def test_hidden_layer_sizes_must_be_positive_integers(hidden, gaussian):
    with pytest.raises(ValueError, match="hidden_layer_sizes must hold positive"):
        AutoencoderTransformer(hidden_layer_sizes=hidden, max_iter=1).fit(gaussian)


@pytest.mark.parametrize(
    "image_shape", [(1, 4.7, 4.2), ("a", 4, 4), (1, True, 16), (2, 2, 2, 2), 16]
)
def test_image_shape_must_be_positive_integers(image_shape):
    X = np.random.RandomState(0).normal(size=(20, 16))
    ae = AutoencoderTransformer(architecture="conv", image_shape=image_shape)
    with pytest.raises(ValueError, match="image_shape"):
        ae.fit(X)


class NoDecode(torch.nn.Module):
    def __init__(self, n_features, n_components):
        super().__init__()
        self.encoder = torch.nn.Linear(n_features, n_components)

    def encode(self, x):
        return self.encoder(x)


class WrongCodeWidth(TinyAutoencoder):
    def encode(self, x):
        return super().encode(x)[:, :1]


@pytest.mark.parametrize(
    "architecture, message",
    [
        (torch.nn.Linear, r"could not be built as Linear\(n_features=6"),
        (NoDecode, "has no decode method"),
        (WrongCodeWidth, r"encode returned a tensor of shape \(2, 1\), expected"),
    ],
)
def test_custom_module_is_checked_before_training(architecture, message, gaussian):
    ae = AutoencoderTransformer(n_components=3, architecture=architecture)
    with pytest.raises(ValueError, match=message):
        ae.fit(gaussian)


def test_protocol_check_leaves_the_random_state_alone(gaussian):
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    with pytest.raises(ValueError):
        AutoencoderTransformer(architecture=NoDecode).fit(gaussian)
    torch.testing.assert_close(torch.rand(2), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_returns_the_training_dtype(dtype, gaussian):
    vae = AutoencoderTransformer(variational=True, max_iter=2, random_state=0)
    samples = vae.fit(gaussian.astype(dtype)).sample(4, random_state=0)
    assert samples.dtype == dtype and samples.shape == (4, 6)


# ----------------------------------------------------------------------
# Training does something, for every variant
# ----------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_training_changes_the_weights_and_lowers_the_loss(variant, Estimator):
    # Rows on a curve: no linear map of 2 components rebuilds them, so
    # also a network that starts at PCA's solution has something to learn.
    rng = np.random.RandomState(0)
    t = rng.uniform(-2, 2, size=(120, 1))
    X = np.hstack([t, t**2, np.sin(3 * t)]) @ rng.uniform(size=(3, 16))
    params = {
        "n_components": 2,
        "max_iter": 15,
        "batch_size": 16,
        "early_stopping": False,
        "random_state": 0,
        **VARIANTS[variant],
    }
    trained = Estimator(**params).fit(X)
    untrained = clone(trained).set_params(learning_rate_init=1e-12).fit(X)
    assert not any(same_weights(trained, untrained).values())
    # Lower than the loss of the starting weights, which the untrained
    # model keeps.
    assert trained.loss_curve_[-1] < 0.8 * untrained.loss_curve_[0]
    if trained.architecture != "residual":
        # A model that did not learn reconstructs worse (a residual network
        # that did not learn is PCA, which one trained on corrupted inputs
        # need not beat on clean ones).
        def error(estimator):
            return estimator._reconstruction_error(X).mean()

        assert error(trained) < error(untrained)
