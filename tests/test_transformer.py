"""Behaviour of AutoencoderTransformer: quality, pipelines, outputs, training."""

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from tests._helpers import reconstruction_error


@pytest.fixture(scope="module")
def digits_ae(digits):
    """The default transformer at n_components=8, fitted on digits."""
    X_train, *_ = digits
    return AutoencoderTransformer(n_components=8, random_state=0).fit(X_train)


def test_autoencoder_transformer_beats_pca_on_digits(digits, digits_ae):
    X_train, X_test, *_ = digits
    pca = PCA(n_components=8).fit(X_train)
    ae_error = reconstruction_error(digits_ae, X_test).mean()
    pca_error = reconstruction_error(pca, X_test).mean()
    # Measured: about 4.5 for the autoencoder, 6.4 for PCA (pixel units).
    assert ae_error < 0.9 * pca_error


def test_autoencoder_transformer_shapes_and_feature_names(digits, digits_ae):
    X_train, X_test, *_ = digits
    Z = digits_ae.transform(X_test)
    assert Z.shape == (X_test.shape[0], 8)
    assert digits_ae.inverse_transform(Z).shape == X_test.shape
    names = digits_ae.get_feature_names_out()
    assert list(names) == [f"autoencodertransformer{i}" for i in range(8)]


def test_autoencoder_transformer_fit_transform_matches_fit_then_transform(digits):
    X_train, *_ = digits
    params = {"n_components": 3, "max_iter": 3, "random_state": 0}
    Z1 = AutoencoderTransformer(**params).fit_transform(X_train)
    Z2 = AutoencoderTransformer(**params).fit(X_train).transform(X_train)
    np.testing.assert_array_equal(Z1, Z2)


def test_autoencoder_transformer_score_is_minus_the_error_in_data_units(
    digits, digits_ae
):
    _, X_test, *_ = digits
    # Minus the mean squared error of the reconstruction in pixel units,
    # computed with numpy from inverse_transform(transform(X)).
    pixel_error = reconstruction_error(digits_ae, X_test).mean()
    assert digits_ae.score(X_test) == pytest.approx(-pixel_error, rel=1e-9)
    # score_samples stays in the scaled units the network trains in.
    scores = digits_ae.score_samples(X_test)
    assert scores.shape == (X_test.shape[0],)
    assert scores.dtype == np.float64
    assert np.all(scores <= 0)
    np.testing.assert_allclose(
        -scores, reconstruction_error(digits_ae, X_test, scaled=True), rtol=1e-5
    )


@pytest.mark.parametrize(
    "params",
    [
        {"scaling": "standard"},
        {"scaling": None},
        {"scaling": "minmax"},
        {"loss": "bce"},
    ],
    ids=lambda params: "-".join(f"{k}={v}" for k, v in params.items()),
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_autoencoder_transformer_score_does_not_depend_on_scaling_or_loss(
    digits, params, dtype
):
    X_train, X_test, *_ = digits
    ae = AutoencoderTransformer(n_components=4, max_iter=3, random_state=0, **params)
    ae.fit(X_train)
    X = X_test.astype(dtype)
    # For every scaling and loss, the error is in pixel units (for
    # loss="bce", against pixels outside the training range too).
    X[0, 0] = 40
    pixel_error = reconstruction_error(ae, X).mean()
    rtol = 1e-5 if dtype == np.float32 else 1e-9
    assert ae.score(X) == pytest.approx(-pixel_error, rel=rtol)


def test_autoencoder_transformer_in_pipeline_grid_search_next_to_pca(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("reduce", PCA()),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    ae = AutoencoderTransformer(n_components=8, max_iter=30, random_state=0)
    search = GridSearchCV(pipe, {"reduce": [PCA(8), ae]}, cv=2).fit(X_train, y_train)
    assert len(search.cv_results_["mean_test_score"]) == 2
    # Both reducers keep digits separable at 8 components.
    assert np.all(search.cv_results_["mean_test_score"] > 0.8)
    assert search.score(X_test, y_test) > 0.8


def test_autoencoder_transformer_grid_search_uses_score(digits):
    X_train, *_ = digits
    search = GridSearchCV(
        AutoencoderTransformer(max_iter=20, random_state=0),
        {"n_components": [1, 8]},
        cv=2,
    ).fit(X_train)
    # A wider code reconstructs better, and score() is higher-is-better.
    assert search.best_params_ == {"n_components": 8}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_autoencoder_transformer_output_dtype_follows_input(digits_ae, digits, dtype):
    _, X_test, *_ = digits
    X = X_test[:10].astype(dtype)
    Z = digits_ae.transform(X)
    assert Z.dtype == dtype
    assert digits_ae.inverse_transform(Z).dtype == dtype
    # float32 and float64 inputs agree to float32 precision.
    np.testing.assert_allclose(
        Z, digits_ae.transform(X_test[:10]), rtol=1e-4, atol=1e-4
    )


def test_autoencoder_transformer_integer_input_gives_float64(digits_ae, digits):
    _, X_test, *_ = digits
    assert digits_ae.transform(X_test[:5].astype(np.int64)).dtype == np.float64


def test_autoencoder_transformer_pandas_in_and_out(digits):
    X_train, *_ = digits
    columns = [f"pixel_{i}" for i in range(X_train.shape[1])]
    df = pd.DataFrame(X_train, columns=columns)
    ae = AutoencoderTransformer(n_components=2, max_iter=2, random_state=0)
    ae.set_output(transform="pandas")
    Z = ae.fit_transform(df)
    assert isinstance(Z, pd.DataFrame)
    assert list(Z.columns) == ["autoencodertransformer0", "autoencodertransformer1"]
    assert list(ae.feature_names_in_) == columns
    with pytest.warns(UserWarning, match="feature names"):
        ae.transform(X_train[:3])


def test_autoencoder_transformer_scaling_is_undone(digits):
    X_train, *_ = digits
    X = X_train * 1000.0 + 5.0
    ae = AutoencoderTransformer(
        n_components=8, max_iter=30, scaling="standard", random_state=0
    ).fit(X)
    np.testing.assert_allclose(ae.center_, X.mean(axis=0))
    X_hat = ae.inverse_transform(ae.transform(X))
    # Reconstructions come back in the units of the data, not standardised.
    assert abs(X_hat.mean() - X.mean()) < 0.05 * X.std()
    # Pixels that never vary are kept as they are.
    constant = X.std(axis=0) == 0
    assert constant.any()
    np.testing.assert_array_equal(ae.scale_[constant], 1.0)
    np.testing.assert_allclose(X_hat[:, constant], X[:, constant], atol=1.0)


def test_autoencoder_transformer_scaling_none_uses_raw_data(digits):
    X_train, *_ = digits
    ae = AutoencoderTransformer(
        n_components=8, scaling=None, max_iter=2, random_state=0
    ).fit(X_train)
    np.testing.assert_array_equal(ae.center_, 0.0)
    np.testing.assert_array_equal(ae.scale_, 1.0)


def test_autoencoder_transformer_training_attributes(digits, digits_ae):
    ae = digits_ae
    assert 1 <= ae.n_iter_ <= ae.max_iter
    assert len(ae.loss_curve_) == ae.n_iter_
    assert len(ae.validation_scores_) == ae.n_iter_
    assert ae.best_loss_ == min(ae.loss_curve_)
    # The score of the epoch whose weights were kept: the last that early
    # stopping counted as an improvement.
    improved = ae.net_.history[:, "valid_loss_improved"]
    best_epoch = max(i + 1 for i, flag in enumerate(improved) if flag)
    assert ae.best_validation_score_ == ae.validation_scores_[best_epoch - 1]
    # Training makes progress.
    assert ae.loss_curve_[-1] < 0.5 * ae.loss_curve_[0]
    # Early stopping kept the best epoch: the score on the held-out part of
    # the training data is the best validation score.
    assert ae.n_iter_ < ae.max_iter


def test_autoencoder_transformer_without_early_stopping(digits):
    X_train, *_ = digits
    ae = AutoencoderTransformer(
        n_components=4, early_stopping=False, max_iter=4, random_state=0
    ).fit(X_train)
    assert ae.n_iter_ == 4
    assert ae.validation_scores_ is None
    assert ae.best_validation_score_ is None


def test_autoencoder_transformer_stops_when_training_loss_stalls(digits):
    X_train, *_ = digits
    ae = AutoencoderTransformer(
        n_components=4, early_stopping=False, tol=10.0, n_iter_no_change=2
    ).fit(X_train)
    # No epoch can improve the loss by 10 standardised units: stop after the
    # first epoch plus n_iter_no_change.
    assert ae.n_iter_ == 3


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_autoencoder_transformer_optimizers_train(digits, optimizer):
    X_train, *_ = digits
    ae = AutoencoderTransformer(
        n_components=4,
        optimizer=optimizer,
        learning_rate_init=1e-2 if optimizer == "sgd" else 3e-3,
        weight_decay=1e-4,
        early_stopping=False,
        max_iter=5,
        random_state=0,
    ).fit(X_train)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]


@pytest.mark.parametrize("activation", ["tanh", "logistic", "elu", "gelu"])
def test_autoencoder_transformer_activations(digits, activation):
    X_train, *_ = digits
    ae = AutoencoderTransformer(
        n_components=4, activation=activation, max_iter=2, random_state=0
    ).fit(X_train)
    activations = [type(m).__name__ for m in ae.net_.module_.modules()]
    expected = {"tanh": "Tanh", "logistic": "Sigmoid", "elu": "ELU", "gelu": "GELU"}
    assert expected[activation] in activations
    assert "ReLU" not in activations


def test_autoencoder_transformer_verbose(digits, capsys):
    X_train, *_ = digits
    AutoencoderTransformer(n_components=2, max_iter=2, random_state=0).fit(X_train)
    assert capsys.readouterr() == ("", "")
    AutoencoderTransformer(
        n_components=2, architecture="mlp", max_iter=2, verbose=1, random_state=0
    ).fit(X_train)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines[:2]] == ["epoch 1/2", "epoch 2/2"]
    assert all("train_loss" in line and "valid_loss" in line for line in lines[:2])
    # The first epoch improves on nothing before it (the mlp network has no
    # PCA start to compete with), marked; the elapsed time ends it.
    assert lines[0].split("  ")[2].endswith(" *") and lines[0].endswith("s")
    assert lines[2].startswith("Stopped after max_iter=2 epochs")
    # Written to a file or pipe (not a terminal): no colour codes.
    assert "\x1b[" not in "".join(lines)


def test_autoencoder_transformer_verbose_says_why_it_stopped(digits, capsys):
    X_train, *_ = digits
    ae = AutoencoderTransformer(
        n_components=2,
        architecture="mlp",
        tol=10.0,
        n_iter_no_change=2,
        verbose=1,
        random_state=0,
    ).fit(X_train)
    out = capsys.readouterr().out
    assert ae.n_iter_ == 3
    assert (
        "Stopping early: valid_loss has not improved by more than tol=10 for 2 "
        "epochs (n_iter_no_change); its best"
    ) in out
    assert "at epoch 1." in out


def test_residual_network_keeps_its_start_when_no_epoch_improves(digits, capsys):
    X_train, X_test, *_ = digits
    params = {"n_components": 4, "n_iter_no_change": 2, "random_state": 0}
    ae = AutoencoderTransformer(**params, tol=10.0, verbose=1).fit(X_train)
    out = capsys.readouterr().out
    assert ae.n_iter_ == 2
    assert "Restored the weights of the start (epoch 0)" in out
    # The start is PCA's solution: the reconstruction of the PCA of all
    # training rows, scaled as the network sees them (global scaling does
    # not change PCA's subspace).
    pca = PCA(n_components=4).fit(X_train)
    np.testing.assert_allclose(
        ae.inverse_transform(ae.transform(X_test)),
        pca.inverse_transform(pca.transform(X_test)),
        atol=1e-4 * X_train.std(),
    )
    # The score of the weights kept, not of an epoch's.
    assert ae.best_validation_score_ not in ae.validation_scores_


@pytest.mark.parametrize(
    "shape, offset, working_memory",
    [
        ((400, 12), 0.0, None),  # tall: covariance matrix
        ((30, 12), 0.0, None),  # short: singular value decomposition
        ((400, 12), 1e6, None),  # far from zero: centred before the products
        ((400, 12), 0.0, 0.01),  # one block of rows at a time
    ],
)
@pytest.mark.parametrize("leave_out", [None, "every third row"])
def test_start_is_pcas_principal_axes(shape, offset, working_memory, leave_out):
    from sklearn import config_context

    from skae._scaling import FeatureScaling
    from skae._start import principal_axes

    rng = np.random.RandomState(0)
    X = rng.normal(size=shape) @ np.diag(np.linspace(3, 0.5, shape[1])) + offset
    scaling = FeatureScaling.fit(X, None)
    rows = np.arange(len(X))
    if leave_out is not None:
        leave_out, rows = rows[::3], np.setdiff1d(rows, rows[::3])
    with config_context(working_memory=working_memory or 1024):
        mean, components = principal_axes(X, scaling, 5, leave_out)
    # The exact solver: scikit-learn's default for tall data forms X.T @ X
    # uncentred, which loses the variance of data far from zero.
    pca = PCA(n_components=5, svd_solver="full").fit(X[rows])
    np.testing.assert_allclose(mean, pca.mean_, rtol=1e-12)
    # Same axes, same signs (scikit-learn's convention).
    np.testing.assert_allclose(components, pca.components_, atol=1e-8)


def test_autoencoder_transformer_verbose_2_shows_batches(digits, capsys):
    X_train, *_ = digits
    AutoencoderTransformer(n_components=2, max_iter=1, verbose=2).fit(X_train)
    captured = capsys.readouterr()
    assert "epoch 1/1" in captured.out
    # tqdm's bar over the 10 training and 2 validation batches.
    assert "/12 [" in captured.err


def test_epoch_log_colours_only_a_terminal():
    from skorch.history import History

    from skae._callbacks import EpochLog

    class Net:
        history = History()
        callbacks_ = []

    class Terminal:
        def isatty(self):
            return True

    Net.history.new_epoch()
    Net.history.record("epoch", 1)
    Net.history.record("train_loss", 0.5)
    Net.history.record("train_loss_best", True)
    for stream, coloured in [(Terminal(), True), (None, False)]:
        lines = []
        log = EpochLog("train_loss", 10, sink=lines.append, stream=stream)
        log.on_train_begin(Net)
        log.on_epoch_end(Net)
        assert lines[0].startswith("epoch  1/10  ")
        assert ("\x1b[32m" in lines[0]) == coloured


def _working_memory_for(estimator, n_rows, itemsize):
    """A ``working_memory`` (MiB) in which inference batches hold ``n_rows``."""
    return n_rows * itemsize * estimator._values_per_row / 2**20


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_autoencoder_transformer_results_do_not_depend_on_inference_batches(
    digits_ae, digits, dtype
):
    X_test = digits[1].astype(dtype)
    Z = digits_ae.transform(X_test)
    scores = digits_ae.score_samples(X_test)
    X_hat = digits_ae.inverse_transform(Z)
    # 450 rows in batches of 7: the last batch is shorter than the buffer.
    working_memory = _working_memory_for(digits_ae, 7, X_test.itemsize)
    with sklearn.config_context(working_memory=working_memory):
        Z_batched = digits_ae.transform(X_test)
        scores_batched = digits_ae.score_samples(X_test)
        X_hat_batched = digits_ae.inverse_transform(Z)
    # float32 products round differently with the number of rows; float64
    # ones agree to float64 rounding errors (relative to the data's scale).
    relative = 1e-5 if dtype == np.float32 else 1e-12
    for batched, whole in [
        (Z_batched, Z),
        (scores_batched, scores),
        (X_hat_batched, X_hat),
    ]:
        np.testing.assert_allclose(
            batched, whole, rtol=relative, atol=relative * np.abs(whole).max()
        )


class IdentityEncoder(torch.nn.Module):
    """A network whose ``encode`` hands back its input tensor itself."""

    def __init__(self, n_features, n_components):
        super().__init__()
        self.decoder = torch.nn.Linear(n_components, n_features)

    def encode(self, x):
        return x

    def decode(self, z):
        return self.decoder(z)


def test_autoencoder_transformer_module_returning_its_input(digits):
    # Inference scales each batch into one reused buffer; a module that
    # returns that buffer must not see it overwritten by the next batch.
    X_train = digits[0][:100]
    ae = AutoencoderTransformer(
        n_components=64, architecture=IdentityEncoder, max_iter=2, random_state=0
    ).fit(X_train)
    expected = (X_train - ae.center_) / ae.scale_
    working_memory = _working_memory_for(ae, 16, X_train.itemsize)
    with sklearn.config_context(working_memory=working_memory):
        np.testing.assert_allclose(ae.transform(X_train), expected, rtol=1e-12)


def test_autoencoder_transformer_trains_on_float32_input_without_copy(digits):
    # With scaling=None, float32 data train as they are (no copy is made);
    # the same values given as float64 are copied to float32 first. Both
    # must train the same model, and the caller's array must not change.
    X32 = digits[0][:200].astype(np.float32) / 16
    X_before = X32.copy()
    params = {
        "n_components": 3,
        "scaling": None,
        "max_iter": 5,
        "early_stopping": False,
    }
    from_32 = AutoencoderTransformer(**params, random_state=0).fit(X32)
    from_64 = AutoencoderTransformer(**params, random_state=0).fit(
        X32.astype(np.float64)
    )
    for p, q in zip(
        from_32.net_.module_.parameters(),
        from_64.net_.module_.parameters(),
        strict=True,
    ):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    np.testing.assert_array_equal(X32, X_before)
