"""Fixed models whose trained weights are stored in ``tests/data``.

``tests/test_reference_models.py`` trains each model below and compares it with
the weights, losses and scores stored in ``tests/data/reference_models.npz``,
which were written by this module (``python -m tests.reference_models``) on the
code before a change that must not alter any trained model. Every parameter
that affects training is given explicitly, so that a change of a default does
not change these models.

Regenerate the file only on purpose, when a change is meant to change trained
models, and say so in the commit message.
"""

import platform
import sys
from pathlib import Path

import numpy as np
import torch

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from tests._modules import TinyAutoencoder

PATH = Path(__file__).resolve().parent / "data" / "reference_models.npz"

PINNED = {
    "n_components": 3,
    "architecture": "mlp",
    "activation": "relu",
    "scaling": "standard",
    "max_iter": 4,
    "batch_size": 16,
    "learning_rate_init": 3e-3,
    "optimizer": "adam",
    "weight_decay": 0.0,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
    "tol": 1e-4,
    "device": "cpu",
    "random_state": 0,
}

# name -> (estimator class, parameters beyond PINNED, dtype of X)
MODELS = {
    "mlp": (AutoencoderTransformer, {"hidden_layer_sizes": (8,)}, np.float64),
    "mlp_float32": (AutoencoderTransformer, {"hidden_layer_sizes": (8,)}, np.float32),
    "linear": (AutoencoderTransformer, {"architecture": "linear"}, np.float64),
    "sparse": (
        AutoencoderTransformer,
        {"hidden_layer_sizes": (8,), "sparsity": 0.1},
        np.float64,
    ),
    "denoising": (
        AutoencoderTransformer,
        {"hidden_layer_sizes": (8,), "noise": 0.2},
        np.float64,
    ),
    "masking": (
        AutoencoderTransformer,
        {"hidden_layer_sizes": (8,), "noise": 0.2, "noise_type": "masking"},
        np.float64,
    ),
    "variational": (
        AutoencoderTransformer,
        {"hidden_layer_sizes": (8,), "variational": True},
        np.float64,
    ),
    "conv": (
        AutoencoderTransformer,
        {"architecture": "conv", "hidden_layer_sizes": (4, 4), "image_shape": (4, 4)},
        np.float64,
    ),
    "custom": (
        AutoencoderTransformer,
        {"architecture": TinyAutoencoder, "module_kwargs": {"width": 4}},
        np.float64,
    ),
    "bce": (
        AutoencoderTransformer,
        {"hidden_layer_sizes": (8,), "loss": "bce", "scaling": "minmax"},
        np.float64,
    ),
    "no_early_stopping": (
        AutoencoderTransformer,
        {"hidden_layer_sizes": (8,), "early_stopping": False},
        np.float64,
    ),
    "detector": (
        AutoencoderOutlierDetector,
        {"hidden_layer_sizes": (8,), "contamination": 0.1, "density_components": None},
        np.float64,
    ),
    "detector_sgd": (
        AutoencoderOutlierDetector,
        {
            "hidden_layer_sizes": (8, 4),
            "contamination": 0.1,
            "density_components": None,
            "optimizer": "sgd",
            "learning_rate_init": 1e-2,
            "weight_decay": 1e-3,
        },
        np.float32,
    ),
}


def data(dtype=np.float64):
    """120 rows of 16 correlated features, on different scales."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4)) @ rng.normal(size=(4, 16))
    X += 0.1 * rng.normal(size=X.shape)
    return (X * rng.uniform(0.5, 20, size=16) + rng.uniform(-5, 5, size=16)).astype(
        dtype
    )


def train(name):
    """Train the model ``name`` with one torch thread; return what is
    compared, as arrays."""
    Estimator, params, dtype = MODELS[name]
    X = data(dtype)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        estimator = Estimator(**{**PINNED, **params}).fit(X)
    finally:
        torch.set_num_threads(previous)
    record = {
        f"param.{key}": value.detach().cpu().numpy()
        for key, value in estimator.net_.module_.state_dict().items()
    }
    record["loss_curve"] = np.asarray(estimator.loss_curve_)
    record["center"] = estimator.center_
    record["scale"] = estimator.scale_
    record["score_samples"] = estimator.score_samples(X)
    if hasattr(estimator, "offset_"):
        record["offset"] = np.asarray(estimator.offset_)
    return record


def environment():
    """What bit-for-bit equality depends on, besides the thread count (one):
    the CPU model and the torch build."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} | torch {torch.__version__}"


def main():
    arrays = {"environment": np.asarray(environment())}
    for name in MODELS:
        for key, value in train(name).items():
            arrays[f"{name}/{key}"] = value
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {len(arrays)} arrays to {PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
