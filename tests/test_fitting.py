"""How fit and partial_fit train: one path through skorch, failures that
leave no trace, random streams, early stopping and the user's callbacks."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback, GradientNormClipping, LRScheduler

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

ESTIMATORS = [AutoencoderTransformer, AutoencoderOutlierDetector]


def _gaussian(n_rows=300, n_features=6, seed=0):
    return np.random.RandomState(seed).normal(size=(n_rows, n_features))


def _state(est):
    """Everything a later call depends on: weights, optimizer, history."""
    net = est.net_
    return (
        {k: v.clone() for k, v in net.module_.state_dict().items()},
        {
            index: {k: v.clone() for k, v in values.items()}
            for index, values in net.optimizer_.state_dict()["state"].items()
        },
        len(net.history),
        est.n_iter_,
    )


def _assert_same_state(a, b):
    weights_a, optimizer_a, n_epochs_a, n_iter_a = a
    weights_b, optimizer_b, n_epochs_b, n_iter_b = b
    assert weights_a.keys() == weights_b.keys()
    for key in weights_a:
        torch.testing.assert_close(weights_a[key], weights_b[key], rtol=0, atol=0)
    assert optimizer_a.keys() == optimizer_b.keys()
    for index in optimizer_a:
        torch.testing.assert_close(
            optimizer_a[index], optimizer_b[index], rtol=0, atol=0
        )
    assert (n_epochs_a, n_iter_a) == (n_epochs_b, n_iter_b)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_failed_partial_fit_leaves_the_network_as_it_was(Estimator):
    X = _gaussian().astype(np.float32)
    est = Estimator(early_stopping=False, optimizer="sgd", random_state=0)
    est.partial_fit(X)
    before = _state(est)
    Z_before = est.score_samples(X[:3])
    with pytest.raises(ValueError, match="Training diverged"):
        est.partial_fit(X[:100] * 1e12)
    _assert_same_state(_state(est), before)
    np.testing.assert_array_equal(est.score_samples(X[:3]), Z_before)


class _Interrupt(Callback):
    """Raises ``KeyboardInterrupt``, as Ctrl-C does, at the end of the
    ``at``-th epoch of the net's history."""

    def __init__(self, at):
        self.at = at

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_ctrl_c_stops_partial_fit_and_leaves_no_trace(Estimator):
    X = _gaussian()
    est = Estimator(
        n_components=2, early_stopping=False, callbacks=[_Interrupt(2)], random_state=0
    )
    est.partial_fit(X)
    before = _state(est)
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(X)
    _assert_same_state(_state(est), before)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_ctrl_c_stops_fit_instead_of_ending_training_early(Estimator):
    X = _gaussian()
    est = Estimator(n_components=2, max_iter=3, random_state=0).fit(X)
    before = _state(est)
    with pytest.raises(KeyboardInterrupt):
        est.set_params(callbacks=[_Interrupt(2)]).fit(X)
    _assert_same_state(_state(est), before)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_failed_partial_fit_draws_nothing_from_the_random_stream(Estimator):
    X = _gaussian()
    params = {
        "n_components": 2,
        "early_stopping": False,
        "optimizer": "sgd",
        "random_state": 0,
    }
    clean = Estimator(**params).partial_fit(X).partial_fit(X)
    failed = Estimator(**params).partial_fit(X)
    with pytest.raises(ValueError, match="Training diverged"):
        failed.partial_fit(X * 1e12)
    failed.partial_fit(X)
    _assert_same_state(_state(failed), _state(clean))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fit_restarts_the_random_stream_of_partial_fit(Estimator):
    A, B, C = (_gaussian(seed=seed) for seed in range(3))
    params = {"n_components": 2, "early_stopping": False, "max_iter": 3}
    after_fit = Estimator(**params, random_state=0).fit(B).partial_fit(C)
    est = Estimator(**params, random_state=0).partial_fit(A).partial_fit(A)
    est.fit(B).partial_fit(C)
    _assert_same_state(_state(est), _state(after_fit))
    np.testing.assert_array_equal(est.score_samples(A), after_fit.score_samples(A))


@pytest.mark.parametrize("value", [True, np.True_])
def test_sample_rejects_booleans_as_counts(value):
    vae = AutoencoderTransformer(n_components=2, variational=True, max_iter=2)
    vae.fit(_gaussian())
    with pytest.raises(InvalidParameterError, match="n_samples"):
        vae.sample(n_samples=value)


def test_early_stopping_reports_and_keeps_the_same_epoch(capsys):
    # On breast cancer, an epoch that improves by less than tol once was
    # starred best and reported, while the weights of an earlier epoch were
    # kept: the log, best_validation_score_ and the weights must agree.
    X, _ = load_breast_cancer(return_X_y=True)
    ae = AutoencoderTransformer(n_components=2, random_state=0, verbose=1).fit(X)
    lines = capsys.readouterr().out.splitlines()
    starred = [
        int(line.split()[1].split("/")[0])
        for line in lines
        if line.startswith("epoch") and " *" in line
    ]
    restored = [line for line in lines if line.startswith("Restored the weights")]
    kept = starred[-1] if starred else 0
    if kept != ae.n_iter_:
        assert restored == [
            f"Restored the weights of epoch {kept}."
            if kept
            else "Restored the weights of the start (epoch 0), which no epoch "
            "improved on."
        ]
    if kept:
        assert ae.best_validation_score_ == ae.validation_scores_[kept - 1]
    # Each starred epoch improved on the previous starred one by more than tol.
    losses = [-ae.validation_scores_[epoch - 1] for epoch in starred]
    assert all(b < a - ae.tol for a, b in zip(losses, losses[1:], strict=False))


def test_working_memory_does_not_change_the_model():
    # Rows sorted along a direction, as data sorted by time often are: with
    # shuffling local to blocks of working_memory, one slice trained at a time.
    rng = np.random.RandomState(0)
    X = np.sort(rng.normal(size=(20_000, 20)), axis=0)
    params = {"n_components": 3, "max_iter": 2, "early_stopping": False}
    reference = AutoencoderTransformer(**params, random_state=0).fit(X)
    with sklearn.config_context(working_memory=1):
        small = AutoencoderTransformer(**params, random_state=0).fit(X)
    _assert_same_state(_state(small), _state(reference))


def test_working_memory_does_not_change_the_model_of_a_memory_map(tmp_path):
    rng = np.random.RandomState(0)
    X = np.sort(rng.normal(size=(8_000, 16)), axis=0).astype(np.float32)
    path = tmp_path / "X.f32"
    X.tofile(path)
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    params = {"n_components": 3, "max_iter": 2, "random_state": 0}
    reference = AutoencoderOutlierDetector(**params).fit(X)
    with sklearn.config_context(working_memory=0.1):
        small = AutoencoderOutlierDetector(**params).fit(mapped)
    # The batches are the same; PCA's start sums the blocks of the memory map
    # in another order than the array's, which moves weights by rounding.
    for key, weights in reference.net_.module_.state_dict().items():
        torch.testing.assert_close(
            small.net_.module_.state_dict()[key], weights, rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(
        small.score_samples(X), reference.score_samples(X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_user_lr_scheduler_changes_the_learning_rate(Estimator):
    X = _gaussian()
    scheduler = LRScheduler(
        policy=torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5
    )
    est = Estimator(
        n_components=2,
        learning_rate_init=0.01,
        early_stopping=False,
        max_iter=3,
        tol=0.0,
        n_iter_no_change=10,
        callbacks=[scheduler],
        random_state=0,
    ).fit(X)
    assert est.n_iter_ == 3
    lrs = [group["lr"] for group in est.net_.optimizer_.param_groups]
    np.testing.assert_allclose(lrs, 0.01 * 0.5**3)
    # The estimator's parameter is untouched: fit ran a copy.
    assert not hasattr(est.callbacks[0], "lr_scheduler_")
    plain = Estimator(
        n_components=2,
        learning_rate_init=0.01,
        early_stopping=False,
        max_iter=3,
        tol=0.0,
        random_state=0,
    ).fit(X)
    assert not np.array_equal(est.score_samples(X), plain.score_samples(X))


def test_callbacks_are_validated():
    with pytest.raises(InvalidParameterError, match="callbacks"):
        AutoencoderTransformer(callbacks="lr").fit(_gaussian())


def test_user_gradient_clipping_acts_on_the_gradients():
    X = _gaussian()
    params = {
        "n_components": 2,
        "architecture": "mlp",
        "optimizer": "sgd",
        "early_stopping": False,
        "max_iter": 1,
        "random_state": 0,
    }
    start = AutoencoderTransformer(**params, learning_rate_init=1e-12)
    start.fit(X)
    free = AutoencoderTransformer(**params).fit(X)
    clipped = AutoencoderTransformer(
        **params, callbacks=[GradientNormClipping(gradient_clip_value=1e-6)]
    ).fit(X)

    def moved(est):
        return sum(
            (p - q).abs().sum().item()
            for p, q in zip(
                est.net_.module_.parameters(),
                start.net_.module_.parameters(),
                strict=True,
            )
        )

    # Steps of norm at most 1e-6 times the learning rate barely move.
    assert moved(clipped) < 1e-3 * moved(free)
