"""What proves each autoencoder variant works: linear, sparse, denoising,
variational, convolutional, custom module, binary cross-entropy."""

import ast
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from tests._helpers import reconstruction_error
from tests._modules import TinyAutoencoder


def _n_parameters(estimator):
    return sum(p.numel() for p in estimator.net_.module_.parameters())


def _hoyer_sparsity(Z):
    """Mean Hoyer sparsity of rows: 0 for equal magnitudes, 1 for one-hot."""
    n = Z.shape[1]
    ratio = np.abs(Z).sum(axis=1) / np.sqrt((Z**2).sum(axis=1))
    return np.mean((np.sqrt(n) - ratio) / (np.sqrt(n) - 1))


@pytest.fixture(scope="module")
def low_rank():
    """Rank-3 data in 10-D plus isotropic noise, split 900/300."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1200, 3)) @ rng.normal(size=(3, 10))
    X += 0.5 * rng.normal(size=X.shape)
    return X[:900], X[900:]


def test_linear_autoencoder_matches_pca(low_rank):
    X_train, X_test = low_rank
    ae = AutoencoderTransformer(
        n_components=3, architecture="linear", scaling="standard", random_state=0
    ).fit(X_train)
    scaler = StandardScaler().fit(X_train)
    pca = PCA(n_components=3).fit(scaler.transform(X_train))
    Xs_test = scaler.transform(X_test)
    pca_error = reconstruction_error(pca, Xs_test).mean()
    assert reconstruction_error(ae, X_test, scaled=True).mean() < 1.02 * pca_error
    # The decoder's columns span PCA's principal subspace.
    decoder = ae.net_.module_.network.decoder[0].weight.detach().numpy()
    angles = np.degrees(scipy.linalg.subspace_angles(decoder, pca.components_.T))
    assert angles.max() < 5
    assert not any(isinstance(m, torch.nn.ReLU) for m in ae.net_.module_.modules()), (
        "a linear autoencoder has no activation"
    )


def test_sparse_codes_get_sparser_as_the_weight_grows(digits):
    X_train, X_test, *_ = digits
    sparsity, errors = [], []
    for weight in [0.0, 0.1, 1.0]:
        ae = AutoencoderTransformer(
            n_components=32, architecture="mlp", sparsity=weight, random_state=0
        ).fit(X_train)
        sparsity.append(_hoyer_sparsity(ae.transform(X_test)))
        errors.append(reconstruction_error(ae, X_test, scaled=True).mean())
    # Measured: Hoyer sparsity 0.24, 0.28, 0.50; errors 0.17, 0.12, 0.25.
    assert sparsity[0] < sparsity[1] < sparsity[2]
    assert sparsity[2] > sparsity[0] + 0.1
    # Reconstruction stays reasonable: well under the variance of the data.
    assert max(errors) < 0.5


def test_denoising_autoencoder_cleans_noisy_digits(unit_digits, noisy_unit_digits):
    X_train, X_test = unit_digits
    params = {
        "n_components": 16,
        "architecture": "mlp",
        "scaling": None,
        "random_state": 0,
    }
    plain = AutoencoderTransformer(**params).fit(X_train)
    denoising = AutoencoderTransformer(**params, noise=0.3).fit(X_train)

    def error(ae):
        return reconstruction_error(ae, noisy_unit_digits, target=X_test).mean()

    # Measured: 0.043 for the plain autoencoder, 0.020 for the denoising one.
    assert error(denoising) < 0.75 * error(plain)


def test_noise_is_applied_in_training_only(unit_digits):
    X_train, X_test = unit_digits
    ae = AutoencoderTransformer(
        n_components=4, noise=0.5, noise_type="masking", max_iter=3, random_state=0
    ).fit(X_train)
    np.testing.assert_array_equal(ae.transform(X_test), ae.transform(X_test))
    np.testing.assert_array_equal(ae.score_samples(X_test), ae.score_samples(X_test))


@pytest.fixture(scope="module")
def vae(digits):
    X_train, *_ = digits
    return AutoencoderTransformer(
        n_components=4, variational=True, beta=0.5, random_state=0
    ).fit(X_train)


def test_variational_transform_is_the_deterministic_mean(vae, digits):
    _, X_test, *_ = digits
    Z = vae.transform(X_test)
    np.testing.assert_array_equal(Z, vae.transform(X_test))
    module = vae.net_.module_
    with torch.no_grad():
        Xs = torch.as_tensor((X_test - vae.center_) / vae.scale_, dtype=torch.float32)
        mean, log_var = module.encode_distribution(Xs)
    np.testing.assert_allclose(Z, mean.numpy(), rtol=1e-4, atol=1e-5)
    assert log_var is not None


def test_variational_sample_generates_data_in_input_units(vae, digits):
    X_train, *_ = digits
    samples = vae.sample(500, random_state=0)
    assert samples.shape == (500, 64)
    np.testing.assert_array_equal(samples, vae.sample(500, random_state=0))
    assert not np.array_equal(samples, vae.sample(500, random_state=1))
    # Generated digits look like the data: pixel means and spreads in pixel
    # units (0-16), not standardised ones.
    assert np.abs(samples.mean(axis=0) - X_train.mean(axis=0)).mean() < 1.5
    assert 0.5 * X_train.std() < samples.std() < 1.5 * X_train.std()


def test_variational_samples_stay_in_the_training_range(vae, digits):
    X_train, *_ = digits
    low, high = X_train.min(axis=0), X_train.max(axis=0)
    samples = vae.sample(500, random_state=0)
    assert np.all((low <= samples) & (samples <= high))
    # The decoder itself, trained with the squared error, leaves the range
    # (negative intensities, above 16): the bound comes from sample.
    codes = np.random.RandomState(0).standard_normal((500, vae.n_components_))
    decoded = vae.inverse_transform(codes)
    assert decoded.min() < -1 and decoded.max() > 17
    # Pixels that are 0 in every training image are 0 in every sample.
    assert np.all(samples[:, high == 0] == 0)


def test_variational_samples_are_clipped_to_every_partial_fit_chunk():
    rng = np.random.RandomState(0)
    first, second = rng.uniform(0, 1, (100, 3)), rng.uniform(-2, 3, (100, 3))
    vae = AutoencoderTransformer(
        n_components=2, variational=True, early_stopping=False, random_state=0
    )
    vae.partial_fit(first).partial_fit(second)
    seen = np.vstack([first, second])
    # A decoder shifted far up, then far down, reaches the bounds: the
    # largest and the smallest values of both chunks.
    bias = vae.net_.module_.network.decode_linear.bias
    with torch.no_grad():
        bias.add_(1e3)
    np.testing.assert_array_equal(
        vae.sample(20, random_state=0), np.tile(seen.max(axis=0), (20, 1))
    )
    with torch.no_grad():
        bias.sub_(2e3)
    np.testing.assert_array_equal(
        vae.sample(20, random_state=0), np.tile(seen.min(axis=0), (20, 1))
    )


def _vae_recipe():
    """The parameters of the VAE of docs/examples/plot_vae.py, read from it,
    so that the test checks the recipe the documentation gives."""
    path = Path(__file__).parents[1] / "docs" / "examples" / "plot_vae.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == (
            "AutoencoderTransformer"
        ):
            return {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    raise AssertionError(f"no AutoencoderTransformer call in {path}")


def test_vae_recipe_samples_recognisable_digits(digits):
    # A classifier of real digits is the judge: it is at least 80 % sure of
    # 84 % of the test digits, and of 74 % and 73 % of the samples of the
    # recipe trained on this split with seeds 0 and 1 (of 65 % and 47 %
    # with beta=1 and a patience of 20).
    X_train, _, y_train, _ = digits
    classifier = LogisticRegression(max_iter=5000).fit(X_train / 16, y_train)
    vae = AutoencoderTransformer(**_vae_recipe()).fit(X_train)
    samples = vae.sample(500, random_state=0)
    assert samples.min() >= 0 and samples.max() <= 16
    confidence = classifier.predict_proba(samples / 16).max(axis=1)
    assert np.mean(confidence > 0.8) > 0.6
    assert np.mean(confidence > 0.5) > 0.85


def test_variational_fits_are_numerically_safe(digits):
    X_train, *_ = digits
    for seed in range(3):
        ae = AutoencoderTransformer(
            n_components=2,
            variational=True,
            beta=4.0,
            learning_rate_init=1e-2,
            max_iter=10,
            random_state=seed,
        ).fit(X_train)
        assert np.all(np.isfinite(ae.loss_curve_))
        assert np.all(np.isfinite(ae.transform(X_train)))


def test_variational_outlier_detector_scores_by_reconstruction(curve_with_outliers):
    from sklearn.metrics import roc_auc_score

    X_train, X_test, y_test = curve_with_outliers
    det = AutoencoderOutlierDetector(
        n_components=1, variational=True, beta=0.1, random_state=0
    ).fit(X_train)
    scores = det.score_samples(X_test)
    np.testing.assert_array_equal(scores, det.score_samples(X_test))
    assert roc_auc_score(y_test, -scores) > 0.9
    assert hasattr(det, "sample")


@pytest.mark.parametrize("image_shape", [(1, 8, 8), (8, 8), None])
def test_conv_autoencoder_on_8x8_digits(digits, image_shape):
    X_train, X_test, *_ = digits
    ae = AutoencoderTransformer(
        n_components=8,
        architecture="conv",
        image_shape=image_shape,
        max_iter=3,
        random_state=0,
    ).fit(X_train)
    assert ae.transform(X_test).shape == (len(X_test), 8)
    assert ae.inverse_transform(ae.transform(X_test)).shape == X_test.shape
    assert any(isinstance(m, torch.nn.Conv2d) for m in ae.net_.module_.modules())


@pytest.mark.parametrize("size", [5, 7, 28])
def test_conv_decoder_restores_odd_and_even_sizes(size):
    X = np.random.RandomState(0).uniform(size=(20, 2 * size * size))
    ae = AutoencoderTransformer(
        n_components=3,
        architecture="conv",
        image_shape=(2, size, size),
        hidden_layer_sizes=(4, 4, 4),
        max_iter=1,
        random_state=0,
    ).fit(X)
    assert ae.inverse_transform(ae.transform(X)).shape == X.shape


def test_conv_autoencoder_matches_mlp_with_far_fewer_parameters(mnist):
    X_train, X_test = mnist[:1500], mnist[1500:]
    params = {"n_components": 16, "loss": "bce", "max_iter": 15, "random_state": 0}
    conv = AutoencoderTransformer(
        architecture="conv",
        image_shape=(1, 28, 28),
        hidden_layer_sizes=(8, 16),
        **params,
    ).fit(X_train)
    mlp = AutoencoderTransformer(
        architecture="mlp", hidden_layer_sizes=(128, 64), **params
    ).fit(X_train)

    def error(ae):
        return reconstruction_error(ae, X_test).mean()

    assert _n_parameters(conv) < 0.5 * _n_parameters(mlp)
    assert error(conv) < 1.1 * error(mlp)


def test_custom_module_is_trained_and_served(digits):
    X_train, X_test, *_ = digits
    ae = AutoencoderTransformer(
        n_components=5,
        architecture=TinyAutoencoder,
        module_kwargs={"width": 16},
        max_iter=20,
        random_state=0,
    ).fit(X_train)
    network = ae.net_.module_.network
    assert isinstance(network, TinyAutoencoder)
    assert network.encoder[0].out_features == 16
    assert ae.transform(X_test).shape == (len(X_test), 5)
    assert ae.loss_curve_[-1] < 0.8 * ae.loss_curve_[0]
    # Everything else is unchanged: scoring, pickling, the outlier detector.
    assert ae.score(X_test) < 0
    det = AutoencoderOutlierDetector(
        n_components=5, architecture=TinyAutoencoder, max_iter=2, random_state=0
    ).fit(X_train)
    assert set(np.unique(det.predict(X_test))) <= {-1, 1}


class _TinyVariational(TinyAutoencoder):
    """TinyAutoencoder whose encoder also gives a log-variance."""

    def encode(self, x):
        mean = self.encoder(x)
        return mean, torch.zeros_like(mean) - 2.0


def test_custom_variational_module(digits):
    X_train, *_ = digits
    vae = AutoencoderTransformer(
        n_components=3,
        architecture=_TinyVariational,
        variational=True,
        max_iter=2,
        random_state=0,
    ).fit(X_train)
    assert vae.sample(4, random_state=0).shape == (4, 64)


def test_custom_module_without_variational_output_gets_a_clear_error(digits):
    X_train, *_ = digits
    ae = AutoencoderTransformer(
        n_components=3, architecture=TinyAutoencoder, variational=True, max_iter=1
    )
    with pytest.raises(ValueError, match=r"must return a pair \(mean, log_var\)"):
        ae.fit(X_train)


def test_bce_reconstructs_in_unit_interval_and_scores_like_training(unit_digits):
    X_train, X_test = unit_digits
    ae = AutoencoderTransformer(
        n_components=8, loss="bce", scaling=None, max_iter=30, random_state=0
    ).fit(X_train)
    X_hat = ae.inverse_transform(ae.transform(X_test))
    assert X_hat.min() >= 0 and X_hat.max() <= 1
    # Scoring uses the training objective's definition: with no penalty, the
    # criterion on a batch is minus the mean score.
    net = ae.net_
    Xt = torch.as_tensor(X_test, dtype=torch.float32)
    with torch.no_grad():
        objective = net.get_loss(net.module_(Xt), None, X=Xt).item()
    scores = ae.score_samples(X_test.astype(np.float32))
    assert scores.mean() == pytest.approx(-objective, rel=1e-5)
    # A perfect reconstruction would score 0; these are close but not perfect.
    assert -0.1 < scores.mean() < 0


@pytest.mark.parametrize(
    "params",
    [
        {"architecture": "conv", "noise": 0.2, "noise_type": "masking"},
        {"architecture": "conv", "variational": True},
        {"architecture": "mlp", "sparsity": 0.1, "noise": 0.1},
        {"variational": True, "noise": 0.1, "loss": "bce"},
        {"architecture": "linear", "sparsity": 0.1},
    ],
)
def test_variants_compose(digits, params):
    X_train, X_test, *_ = digits
    ae = AutoencoderTransformer(n_components=4, max_iter=2, random_state=0, **params)
    assert np.all(np.isfinite(ae.fit(X_train).transform(X_test)))
