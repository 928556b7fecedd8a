"""Mixed precision (bf16) through accelerate, in one process.

The training forward passes run in bfloat16 under accelerate's autocast;
the fitted weights and every prediction stay in the input's dtype. Runs on
the CPU always and on a GPU when there is one.
"""

import numpy as np
import pytest

pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")

from accelerate import Accelerator  # noqa: E402
from accelerate.state import AcceleratorState  # noqa: E402

from skae import AutoencoderOutlierDetector, AutoencoderTransformer  # noqa: E402

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(
            not torch.cuda.is_available(), reason="needs a CUDA GPU"
        ),
    ),
]


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 12)).astype(np.float32)
    X[:, 6:] = X[:, :6] @ rng.normal(size=(6, 6)).astype(np.float32)
    return X


@pytest.fixture(params=DEVICES)
def device(request):
    # accelerate keeps one state per process, which refuses another
    # mixed-precision setting once made: each test starts from a clean one
    # and leaves one.
    AcceleratorState._reset_state(reset_partial_state=True)
    yield request.param
    AcceleratorState._reset_state(reset_partial_state=True)


def _bf16_accelerator(device):
    return Accelerator(mixed_precision="bf16", cpu=device == "cpu")


def _fit_recording_dtypes(estimator, X):
    """Fit ``estimator`` and return the dtypes of every Linear layer's
    output during the fit."""
    seen = set()

    def hook(module, args, output):
        if isinstance(module, torch.nn.Linear):
            seen.add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        estimator.fit(X)
    finally:
        handle.remove()
    return seen


def test_bf16_training_keeps_float32_weights_and_predictions(X, device):
    params = {
        "n_components": 6,
        "architecture": "mlp",
        "max_iter": 15,
        "random_state": 0,
    }
    mixed = AutoencoderTransformer(accelerator=_bf16_accelerator(device), **params)
    dtypes = _fit_recording_dtypes(mixed, X)
    # The training forward passes ran in bfloat16.
    assert torch.bfloat16 in dtypes
    # The weights the estimator keeps, and what it predicts, are float32.
    assert {p.dtype for p in mixed.net_.module_.parameters()} == {torch.float32}
    Z = mixed.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    assert mixed.inverse_transform(Z).dtype == np.float32
    # bfloat16 has 8 bits of mantissa: the model learns, about as well as
    # in float32.
    assert mixed.loss_curve_[-1] < 0.5 * mixed.loss_curve_[0]
    plain = AutoencoderTransformer(device=device, **params).fit(X)
    assert mixed.score(X) == pytest.approx(plain.score(X), rel=0.1)


def test_bf16_detector_ranks_planted_outliers(X, device):
    rng = np.random.RandomState(1)
    outliers = rng.uniform(-8, 8, size=(10, X.shape[1])).astype(np.float32)
    det = AutoencoderOutlierDetector(
        contamination=0.05,
        max_iter=10,
        random_state=0,
        accelerator=_bf16_accelerator(device),
    ).fit(X)
    scores = det.score_samples(np.vstack([X, outliers]))
    assert scores.dtype == np.float64 and np.isfinite(scores).all()
    # Every planted outlier scores below every inlier.
    assert scores[len(X) :].max() < scores[: len(X)].min()
