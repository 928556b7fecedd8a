"""Property-based tests: whatever the data and the parameters, every call
either returns finite outputs of the right shape and dtype, or raises a
scikit-learn error that says what is wrong, from skae or scikit-learn code,
never from inside torch or skorch.

Data vary in shape, dtype, scale (1e-30 to 1e30), constant columns and
NaN/inf cells; parameters in architecture, variant, loss, scaling, code size
and training length. ``make test`` runs the "ci" profile (derandomized, a
few dozen examples); run a longer search by hand with::

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_properties.py
"""

import os
import traceback
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from skae import AutoencoderOutlierDetector, AutoencoderTransformer  # noqa: E402

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", 2000)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SKAE = Path(__file__).resolve().parents[1] / "skae"


@st.composite
def datasets(draw):
    """A data matrix of any dtype, scale and shape, with odd columns."""
    n_samples = draw(st.integers(1, 30))
    n_features = draw(st.sampled_from([1, 2, 3, 4, 9]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    scale = 10.0 ** draw(st.integers(-30, 30))
    offset = draw(st.sampled_from([0.0, 1.0, -1e3])) * scale
    X = rng.normal(size=(n_samples, n_features)) * scale + offset
    for column in draw(st.sets(st.integers(0, n_features - 1), max_size=2)):
        X[:, column] = draw(st.sampled_from([0.0, offset, scale]))
    bad = draw(st.sampled_from([None, None, None, np.nan, np.inf, -np.inf]))
    if bad is not None:
        X[rng.randint(n_samples), rng.randint(n_features)] = bad
    return X.astype(dtype)


@st.composite
def estimators(draw, n_features):
    Estimator = draw(
        st.sampled_from([AutoencoderTransformer, AutoencoderOutlierDetector])
    )
    architecture = draw(st.sampled_from(["residual", "mlp", "linear", "conv"]))
    params = {
        "n_components": draw(st.integers(1, 3)),
        "architecture": architecture,
        "max_iter": draw(st.integers(1, 3)),
        "batch_size": draw(st.sampled_from([1, 4, 64])),
        "early_stopping": draw(st.booleans()),
        "loss": draw(st.sampled_from(["mse", "bce"])),
        "scaling": draw(
            st.sampled_from(["auto", "standard", "global", "minmax", None])
        ),
        "variational": draw(st.booleans()),
        "noise": draw(st.sampled_from([0.0, 0.2])),
        "noise_type": draw(st.sampled_from(["gaussian", "masking"])),
        "sparsity": draw(st.sampled_from([0.0, 0.1])),
        "random_state": 0,
    }
    if architecture != "linear":
        params["hidden_layer_sizes"] = (draw(st.sampled_from([2, 5])),)
    if architecture == "conv" and n_features == 9:
        params["image_shape"] = draw(st.sampled_from([None, (3, 3), (1, 1, 9)]))
    if Estimator is AutoencoderOutlierDetector:
        params["contamination"] = draw(st.sampled_from(["auto", 0.1, 0.5]))
    return Estimator(**params)


def _assert_clear_error(exc):
    """``exc`` is a scikit-learn error raised by skae or scikit-learn code."""
    assert isinstance(exc, ValueError | NotFittedError), repr(exc)
    assert str(exc), "an error without a message"
    origin = traceback.extract_tb(exc.__traceback__)[-1].filename
    assert "/torch/" not in origin and "/skorch/" not in origin, (origin, exc)


def _check_call(method, X, shape, dtype):
    """Call ``method(X)``: finite output of ``shape`` and ``dtype``, or an
    error that says what is wrong. Returns whether it succeeded."""
    try:
        out = method(X)
    except (ValueError, NotFittedError) as exc:
        _assert_clear_error(exc)
        return False
    assert out.shape == shape
    assert out.dtype == dtype, (out.dtype, dtype)
    assert np.isfinite(out).all()
    return True


@given(data=st.data())
def test_every_call_returns_finite_output_or_a_clear_error(data):
    X = data.draw(datasets())
    estimator = data.draw(estimators(X.shape[1]))
    try:
        estimator.fit(X)
    except ValueError as exc:
        _assert_clear_error(exc)
        assert not hasattr(estimator, "net_")
        return
    assert not np.isinf(X).any(), "fit accepted inf"
    n, k = len(X), estimator.n_components_
    out_dtype = X.dtype
    _check_call(estimator.score_samples, X, (n,), np.float64)
    if isinstance(estimator, AutoencoderTransformer):
        if _check_call(estimator.transform, X, (n, k), out_dtype):
            Z = estimator.transform(X)
            _check_call(estimator.inverse_transform, Z, X.shape, out_dtype)
    else:
        _check_call(estimator.decision_function, X, (n,), np.float64)
        if _check_call(estimator.predict, X, (n,), np.int64):
            assert set(np.unique(estimator.predict(X))) <= {-1, 1}
        assert np.isfinite(estimator.offset_)


@given(data=st.data())
def test_new_data_of_any_scale_gets_finite_output_or_a_clear_error(data):
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16)))
    X_train = rng.normal(size=(40, 4))
    estimator = data.draw(estimators(4)).set_params(max_iter=2)
    try:
        estimator.fit(X_train)
    except ValueError as exc:  # e.g. bce with standard scaling
        _assert_clear_error(exc)
        return
    X_new = data.draw(datasets())
    if not _check_call(estimator.score_samples, X_new, (len(X_new),), np.float64):
        # Only bad input may fail: another width, NaN or inf, or values
        # that overflow float32 arithmetic.
        assert (
            X_new.shape[1] != 4
            or not np.isfinite(X_new).all()
            or X_new.dtype == np.float32
        )
