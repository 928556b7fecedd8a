"""Bad input and bad parameters get scikit-learn's errors, for both estimators."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

FAST = {"n_components": 2, "max_iter": 2, "random_state": 0}


@pytest.fixture(scope="module")
def fitted(Estimator, X):
    return Estimator(**FAST).fit(X)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_fit_rejects_infinite_input(Estimator, X, bad):
    # NaN is a missing cell (tests/test_missing.py); infinity is an error.
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="infinity"):
        Estimator(**FAST).fit(X_bad)


def test_fit_rejects_badly_shaped_input(Estimator, X):
    with pytest.raises(ValueError, match="0 sample"):
        Estimator(**FAST).fit(np.empty((0, 5)))
    with pytest.raises(ValueError, match="Expected 2D array"):
        Estimator(**FAST).fit(X[:, 0])
    with pytest.raises(ValueError, match="could not convert string"):
        Estimator(**FAST).fit(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(TypeError, match="Sparse data was passed"):
        Estimator(**FAST).fit(sp.csr_matrix(X))


def test_text_columns_get_a_hint_to_encode_them(Estimator, X):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=list("abcde"))
    frame["colour"] = np.where(X[:, 0] > 0, "red", "blue")
    frame["grade"] = pd.Categorical(np.where(X[:, 1] > 0, "high", "low"))
    # Integer categories convert to numbers: no hint about them.
    frame["level"] = pd.Categorical(np.where(X[:, 2] > 0, 1, 2))
    with pytest.raises(ValueError) as error:
        Estimator(**FAST).fit(frame)
    message = str(error.value)
    assert message.startswith("could not convert string to float")
    assert "columns 'colour', 'grade' hold text" in message
    assert "ColumnTransformer" in message and "OneHotEncoder" in message
    with pytest.raises(ValueError, match="but column 'colour' holds text: encode it"):
        Estimator(**FAST).fit(frame.drop(columns="grade"))
    # Other errors of a DataFrame with no text are left as they are.
    frame = frame.drop(columns=["colour", "grade"])
    frame.iloc[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity") as error:
        Estimator(**FAST).fit(frame)
    assert "OneHotEncoder" not in str(error.value)


def test_early_stopping_needs_enough_samples(Estimator, X):
    with pytest.raises(ValueError, match="leaves no training sample"):
        Estimator(**FAST, early_stopping=True, validation_fraction=0.5).fit(X[:1])


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 0},
        {"architecture": "transformer"},
        {"activation": "swish"},
        {"loss": "l1"},
        {"max_iter": 0},
        {"learning_rate_init": 0.0},
        {"optimizer": "lbfgs"},
        {"validation_fraction": 1.0},
        {"device": "tpu"},
        {"noise_type": "salt"},
        {"sparsity": -1.0},
        {"scaling": "robust"},
    ],
)
def test_invalid_parameters(Estimator, X, params):
    with pytest.raises(InvalidParameterError):
        Estimator(**{**FAST, **params}).fit(X)


@pytest.mark.parametrize("contamination", [0.0, 0.6, "high"])
def test_invalid_contamination(X, contamination):
    with pytest.raises(InvalidParameterError, match="contamination"):
        AutoencoderOutlierDetector(**FAST, contamination=contamination).fit(X)


# A boolean is not a count: True must not pass as 1 Gaussian.
@pytest.mark.parametrize("density_components", [0, -1, 2.5, "auto", True, np.True_])
def test_invalid_density_components(X, density_components):
    with pytest.raises(InvalidParameterError, match="density_components"):
        AutoencoderOutlierDetector(**FAST, density_components=density_components).fit(X)


def test_density_components_is_the_detectors_only(X):
    with pytest.raises(TypeError, match="density_components"):
        AutoencoderTransformer(density_components=8)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"architecture": "linear", "hidden_layer_sizes": (8,)}, "no hidden layers"),
        ({"image_shape": (1, 1, 5)}, "image_shape is used by"),
        ({"architecture": "conv", "image_shape": (2, 2)}, "has 4 values"),
        ({"architecture": "conv", "hidden_layer_sizes": ()}, "at least one conv"),
        ({"module_kwargs": {"width": 3}}, "module_kwargs is only used"),
        ({"hidden_layer_sizes": (8, 0)}, "positive integers"),
        ({"hidden_layer_sizes": (8.5,)}, "positive integers"),
        ({"noise": 1.0, "noise_type": "masking"}, "must be below 1"),
        ({"architecture": dict}, "subclass of torch.nn.Module"),
    ],
)
def test_unsupported_combinations_raise_at_fit(Estimator, X, params, message):
    estimator = Estimator(**{**FAST, **params})  # constructing never raises
    with pytest.raises(ValueError, match=message):
        estimator.fit(X)


def test_bce_needs_unit_interval(Estimator, X):
    with pytest.raises(ValueError, match=r"loss='bce' needs inputs in \[0, 1\]"):
        Estimator(**FAST, loss="bce", scaling="standard").fit(X)
    # "auto" scaling min-max scales for bce, so raw data works.
    Estimator(**FAST, loss="bce").fit(X)


def test_diverging_training_raises_clear_error(Estimator, X):
    estimator = Estimator(
        **{**FAST, "max_iter": 20},
        optimizer="sgd",
        learning_rate_init=1e6,
        early_stopping=False,
    )
    with pytest.raises(ValueError, match="Training diverged.*learning_rate_init"):
        estimator.fit(X * 1e3)
    assert not hasattr(estimator, "net_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_gpu_raises_clear_error(Estimator, X):
    with pytest.raises(ValueError, match="CUDA is not available"):
        Estimator(**FAST, device="cuda").fit(X)
    # "auto" falls back to the CPU.
    assert Estimator(**FAST, device="auto").fit(X).net_.device == "cpu"


def test_methods_before_fit_raise_not_fitted(Estimator, X):
    estimator = Estimator(**FAST)
    methods = ["score_samples"]
    if Estimator is AutoencoderTransformer:
        methods += ["transform", "inverse_transform", "score"]
    else:
        methods += ["decision_function", "predict"]
    for method in methods:
        with pytest.raises(NotFittedError):
            getattr(estimator, method)(X)


def test_wrong_number_of_features_after_fit(fitted, X):
    with pytest.raises(ValueError, match="X has 4 features, but .* is expecting 5"):
        fitted.score_samples(X[:, :4])


def test_inverse_transform_checks_code_width(X):
    ae = AutoencoderTransformer(**FAST).fit(X)
    with pytest.raises(ValueError, match="Z has 3 features, but .* has 2 components"):
        ae.inverse_transform(np.zeros((4, 3)))


def test_sample_is_only_available_for_variational_models(X):
    ae = AutoencoderTransformer(**FAST).fit(X)
    assert not hasattr(ae, "sample")
    with pytest.raises(AttributeError, match="variational=True"):
        ae.sample(5)
    vae = AutoencoderTransformer(**FAST, variational=True).fit(X)
    with pytest.raises(InvalidParameterError, match="n_samples"):
        vae.sample(0)
