"""The skorch net behind the estimators: its shortcuts change nothing.

``AutoencoderNet`` replaces skorch's default callbacks (one epoch loss in
place of skorch's scoring callbacks), through skorch's documented extension
points. These tests train the same estimator once as it is and once with
skorch's own callbacks, and check that the models and the histories agree;
and that callbacks are notified.
"""

import numpy as np
import pytest
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from skae._callbacks import EpochLoss
from skae._data import ScaledRows, TensorBatches
from skae._losses import AutoencoderLoss
from skae._modules import Autoencoder, MLPAutoencoder
from skae._net import AutoencoderNet
from skae._scaling import FeatureScaling
from tests._helpers import assert_same_weights


class SkorchNet(AutoencoderNet):
    """``AutoencoderNet`` with skorch's own default callbacks."""

    def get_default_callbacks(self):
        return NeuralNet.get_default_callbacks(self)


@pytest.fixture(scope="module")
def low_rank_X():
    rng = np.random.RandomState(0)
    return rng.normal(size=(150, 3)) @ rng.normal(size=(3, 8))


def _fit_both(Estimator, X, **params):
    """Fit ``Estimator`` as it is, and a subclass of it whose net is
    :class:`SkorchNet`, with the same parameters."""

    class TrainedBySkorchNet(Estimator):
        _net_class = SkorchNet

    params = {"n_components": 2, "max_iter": 6, "batch_size": 32, **params}
    ours = Estimator(**params, random_state=0).fit(X)
    theirs = TrainedBySkorchNet(**params, random_state=0).fit(X)
    assert type(ours.net_) is AutoencoderNet
    assert type(theirs.net_) is SkorchNet
    return ours, theirs


@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, AutoencoderOutlierDetector]
)
@pytest.mark.parametrize("early_stopping", [False, True])
def test_same_model_and_history_as_skorchs_own_loop(
    Estimator, early_stopping, low_rank_X
):
    ours, theirs = _fit_both(Estimator, low_rank_X, early_stopping=early_stopping)
    assert_same_weights(ours, theirs)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    if early_stopping:
        np.testing.assert_allclose(
            ours.validation_scores_, theirs.validation_scores_, rtol=1e-12
        )
    # Every key skorch records, per epoch and per batch, is recorded.
    for epoch_ours, epoch_theirs in zip(
        ours.net_.history, theirs.net_.history, strict=True
    ):
        assert set(epoch_ours) == set(epoch_theirs)
        for key in epoch_theirs:
            if key.endswith("_best") or key.endswith("_count"):
                assert epoch_ours[key] == epoch_theirs[key], key
        assert [set(b) for b in epoch_ours["batches"]] == [
            set(b) for b in epoch_theirs["batches"]
        ]
        assert [b for b in epoch_ours["batches"] if "train_batch_size" in b] == [
            b for b in epoch_theirs["batches"] if "train_batch_size" in b
        ]


def test_epoch_loss_is_the_size_weighted_mean_of_batch_losses(low_rank_X):
    ae = AutoencoderTransformer(
        n_components=2, max_iter=4, batch_size=64, early_stopping=True
    ).fit(low_rank_X)
    best = np.inf
    for epoch in ae.net_.history:
        # 150 rows: 15 for validation, 135 for training in batches of 64.
        for prefix, expected_sizes in (("train", [64, 64, 7]), ("valid", [15])):
            batches = [b for b in epoch["batches"] if f"{prefix}_loss" in b]
            sizes = [b[f"{prefix}_batch_size"] for b in batches]
            losses = [b[f"{prefix}_loss"] for b in batches]
            assert sizes == expected_sizes
            assert epoch[f"{prefix}_batch_count"] == len(expected_sizes)
            assert epoch[f"{prefix}_loss"] == pytest.approx(
                np.average(losses, weights=sizes), rel=1e-12
            )
        assert epoch["train_loss_best"] == (epoch["train_loss"] < best)
        best = min(best, epoch["train_loss"])


def test_epoch_loss_records_nothing_without_batches():
    class Net:
        history = [{"batches": [{"train_loss": 1.0, "train_batch_size": 3}]}]

    net = Net()
    EpochLoss("valid_loss").initialize().on_epoch_end(net)
    assert "valid_loss" not in net.history[0]


class CountBatches(Callback):
    def initialize(self):
        self.batches = 0
        self.epochs = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.batches += training

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_callbacks_are_notified_of_the_events_they_implement(low_rank_X):
    counter = CountBatches()
    net = AutoencoderNet(
        Autoencoder,
        module__network=MLPAutoencoder,
        module__network_kwargs={"n_features": 8, "n_components": 2},
        criterion=AutoencoderLoss,
        max_epochs=3,
        batch_size=50,
        iterator_train=TensorBatches,
        iterator_valid=TensorBatches,
        train_split=None,
        callbacks=[("count", counter)],
        verbose=0,
    )
    net.fit(torch.as_tensor(low_rank_X, dtype=torch.float32))
    assert (counter.batches, counter.epochs) == (9, 3)

    # A callback replaced between fits is notified instead.
    other = CountBatches().initialize()
    net.set_params(callbacks__count=other)
    net.partial_fit(torch.as_tensor(low_rank_X, dtype=torch.float32))
    assert (other.batches, other.epochs) == (9, 3)
    # The replaced one is not: skorch re-initialized it (count 0) on set_params.
    assert counter.batches == 0

    # Nor after a replacement when training goes on through fit_loop, which
    # sends no on_train_begin.
    third = CountBatches().initialize()
    net.set_params(callbacks__count=third)
    net.fit_loop(torch.as_tensor(low_rank_X, dtype=torch.float32), epochs=1)
    assert (third.batches, other.batches) == (3, 0)

    # A hook set on the instance is called too.
    calls = []
    third.on_epoch_begin = lambda net, **kwargs: calls.append(len(net.history))
    net.partial_fit(torch.as_tensor(low_rank_X, dtype=torch.float32))
    assert calls == [8, 9, 10]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("clip", [False, True])
def test_scaled_rows_scale_each_batch_as_the_whole_array(dtype, clip):
    rng = np.random.RandomState(0)
    X = torch.as_tensor(rng.normal(size=(30, 4)), dtype=dtype)
    scaling = FeatureScaling(rng.normal(size=4), rng.uniform(0.5, 2, size=4), clip)
    center, scale = (
        torch.as_tensor(v, dtype=dtype) for v in (scaling.center, scaling.scale)
    )
    expected = ((X - center) / scale).to(torch.float32)
    if clip:
        expected = expected.clamp(0, 1)
    rows = torch.as_tensor(rng.permutation(30))
    data = ScaledRows(X, rows, scaling)
    X_before = X.clone()
    taken = torch.cat([data.take(slice(0, 16)), data.take(torch.arange(16, 30))])
    torch.testing.assert_close(taken, expected[rows], rtol=0, atol=0)
    torch.testing.assert_close(X, X_before, rtol=0, atol=0)
    assert len(data) == 30
    torch.testing.assert_close(data[3], expected[rows[3]], rtol=0, atol=0)


@pytest.mark.parametrize("index", [slice(2, 5), torch.tensor([2, 3, 4])])
def test_scaled_rows_never_hand_out_the_data_itself(index):
    # Without scaling a slice of float32 data would be a view of X; a module
    # working in place on its input must not change the caller's data.
    X = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    batch = ScaledRows(X).take(index)
    batch.zero_()
    assert X.sum() == 66


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_fit_reads_the_data_without_copying_or_changing_it(
    low_rank_X, dtype, early_stopping
):
    # skae trains on rows read from X and scaled batch by batch: the rows are
    # read from the caller's array itself, which stays as it was, also with a
    # network that works in place on its input.
    class InPlace(MLPAutoencoder):
        def encode(self, x):
            return super().encode(x.mul_(2.0))

    read_from = []

    class Recording(Callback):
        """Records the data behind the training and validation rows."""

        def on_train_begin(self, net, X=None, **kwargs):
            train, valid = net.get_split_datasets(X)
            read_from.append(train.X)
            if valid is not None:
                read_from.append(valid.X)

    X_given = low_rank_X.astype(dtype)
    X_before = X_given.copy()
    AutoencoderTransformer(
        n_components=2,
        architecture=InPlace,
        max_iter=2,
        early_stopping=early_stopping,
        callbacks=[Recording()],
    ).fit(X_given)
    np.testing.assert_array_equal(X_given, X_before)
    assert len(read_from) == (2 if early_stopping else 1)
    assert all(np.shares_memory(data.numpy(), X_given) for data in read_from)
