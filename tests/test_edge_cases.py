"""Edge cases that used to fail silently or deep inside torch (issue 23)."""

import numpy as np
import pytest
import torch

from skae import AutoencoderTransformer

FAST = {"n_components": 2, "max_iter": 3, "batch_size": 16, "random_state": 0}


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e306), (np.float32, 1e36)])
def test_transformer_inverse_transform_overflow_raises(dtype, scale):
    X = (np.random.RandomState(0).normal(size=(60, 4)) * scale).astype(dtype)
    ae = AutoencoderTransformer(**FAST).fit(X)
    # Fitting, encoding and decoding codes in the training range still work.
    Z = ae.transform(X)
    assert np.isfinite(ae.inverse_transform(Z)).all()
    # Codes far out decode to rows beyond the largest number of the dtype.
    with pytest.raises(ValueError, match=f"overflows {np.dtype(dtype).name}.*scale"):
        ae.inverse_transform(Z * 1e3)


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e306), (np.float32, 1e36)])
def test_transformer_sample_overflow_raises(dtype, scale):
    X = (np.random.RandomState(0).normal(size=(60, 4)) * scale).astype(dtype)
    vae = AutoencoderTransformer(architecture="mlp", variational=True, **FAST).fit(X)
    assert np.isfinite(vae.sample(20, random_state=0)).all()
    # A decoder whose outputs lie far outside the training range, as an
    # extrapolating one's may.
    with torch.no_grad():
        vae.net_.module_.network.decoder[-1].bias.add_(1e3)
    with pytest.raises(ValueError, match=f"overflows {np.dtype(dtype).name}.*scale"):
        vae.sample(20, random_state=0)
