"""Edge cases that used to fail silently or deep inside torch, each checked here."""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

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


@pytest.mark.parametrize("architecture", ["mlp", "residual"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_outlier_detector_constant_data_scores_do_not_depend_on_batch(
    architecture, dtype
):
    X = np.ones((100, 4), dtype=dtype)
    detector = AutoencoderOutlierDetector(architecture=architecture, **FAST).fit(X)
    row = np.ones((1, 4))
    batches = [row, np.vstack([row, np.zeros((1, 4))]), np.ones((50, 4))]
    batches += [batch.astype(np.float32) for batch in batches]
    scores = [detector.score_samples(batch)[0] for batch in batches]
    np.testing.assert_allclose(scores, scores[0], rtol=1e-5)
    # The training rows are inliers, whatever they are scored with.
    for batch in batches:
        assert detector.predict(batch)[0] == 1
    assert (detector.predict(X) == 1).all()
    # Rows off the constant are outliers.
    assert (detector.predict(np.array([[3.0, 1, 1, 1], [1.01, 1, 1, 1]])) == -1).all()


class _NoParameters(nn.Module):
    def __init__(self, n_features, n_components):
        super().__init__()
        self.weight = torch.randn(n_features, n_components)  # not registered

    def encode(self, x):
        return x @ self.weight

    def decode(self, z):
        return z @ self.weight.T


class _Frozen(nn.Module):
    def __init__(self, n_features, n_components):
        super().__init__()
        self.encoder = nn.Linear(n_features, n_components)
        self.decoder = nn.Linear(n_components, n_features)
        self.requires_grad_(False)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)


class _IntegerDecode(_Frozen):
    def __init__(self, n_features, n_components):
        super().__init__(n_features, n_components)
        self.requires_grad_(True)

    def decode(self, z):
        return self.decoder(z).round().long()


class _DetachedDecode(_IntegerDecode):
    def decode(self, z):
        return self.decoder(z).detach()


@pytest.mark.parametrize(
    "module, message",
    [
        (_NoParameters, "has no parameters"),
        (_Frozen, "all are frozen"),
        (_IntegerDecode, "decode returned a tensor of dtype torch.int64"),
        (_DetachedDecode, "depends on none of the module's trainable parameters"),
    ],
)
@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, AutoencoderOutlierDetector]
)
def test_estimator_rejects_custom_module_that_cannot_train(Estimator, module, message):
    X = np.random.RandomState(0).normal(size=(40, 4))
    with pytest.raises(ValueError, match=f"architecture=_.*{message}"):
        Estimator(architecture=module, **FAST).fit(X)


@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, AutoencoderOutlierDetector]
)
def test_estimator_rejects_sparsity_with_residual_architecture(Estimator):
    # The residual network meets the L1 penalty by shrinking its codes, which
    # stay as dense: asking for sparse codes from it is an error.
    X = np.random.RandomState(0).normal(size=(40, 4))
    estimator = Estimator(architecture="residual", sparsity=0.1, **FAST)
    with pytest.raises(ValueError, match="sparsity.*architecture='mlp'"):
        estimator.fit(X)
    assert not hasattr(estimator, "net_")
    Estimator(architecture="mlp", sparsity=0.1, **FAST).fit(X)


def _requirement_names(requirements):
    """Canonical distribution names of PEP 508 requirement strings."""
    names = set()
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group()
        names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def test_docs_extra_installs_every_gallery_import():
    # pip install ".[docs]" must be enough to run every gallery example.
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    installed = _requirement_names(project["dependencies"])
    installed |= _requirement_names(project["optional-dependencies"]["docs"])
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for example in sorted((root / "docs" / "examples").glob("*.py")):
        for node in ast.walk(ast.parse(example.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top == "skae" or top in sys.stdlib_module_names:
                    continue
                names = _requirement_names(distributions.get(top, [top]))
                if not names & installed:
                    missing.setdefault(example.name, set()).add(top)
    assert not missing, f"imports the docs extra does not install: {missing}"
