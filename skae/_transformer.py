"""Dimensionality reduction with an autoencoder."""

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from skae import _docs
from skae._base import _BaseAutoencoder, _restore_on_failure

_OWN_PARAMETERS = {
    "scaling": _docs.scaling_parameter(
        """\
``"global"``: the reconstruction error the network minimises is then
the squared error in the units of ``X``, up to one factor, as for PCA,
which it starts from (``architecture="residual"``). Put a
:class:`~sklearn.preprocessing.StandardScaler` first, or pass
``scaling="standard"``, to weigh features of different units equally."""
    ),
}


@_docs.document(own=_OWN_PARAMETERS)
class AutoencoderTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, _BaseAutoencoder
):
    """Dimensionality reduction with a PyTorch autoencoder.

    Like :class:`~sklearn.decomposition.PCA`, it maps ``X`` to
    ``n_components`` features (:meth:`transform`) and back
    (:meth:`inverse_transform`), but through a neural network trained with
    skorch to reconstruct its input, so the map can be nonlinear. The default
    network starts at PCA's solution and trains a nonlinear correction on
    top of it, keeping PCA's when the correction does not help on held-out
    rows: its reconstruction error is at most PCA's, and lower where the data
    are curved.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    {fitted_attributes}

    See Also
    --------
    AutoencoderOutlierDetector : Outlier detection by reconstruction error.
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.decomposition.KernelPCA : Nonlinear reduction with kernels.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=8, max_iter=20, random_state=0)
    >>> Z = ae.fit_transform(X)
    >>> Z.shape
    (1797, 8)
    >>> ae.inverse_transform(Z).shape
    (1797, 64)

    A linear autoencoder recovers PCA's subspace; a denoising, sparse or
    variational one is a parameter away:

    >>> linear = AutoencoderTransformer(n_components=8, architecture="linear")
    >>> denoising = AutoencoderTransformer(n_components=8, noise=0.5)
    >>> sparse = AutoencoderTransformer(n_components=32, architecture="mlp",
    ...                                 sparsity=0.1)
    >>> vae = AutoencoderTransformer(n_components=2, variational=True, max_iter=5,
    ...                              random_state=0).fit(X)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)

    Images are reconstructed with convolutions and a binary cross-entropy:

    >>> conv = AutoencoderTransformer(n_components=8, architecture="conv",
    ...                               image_shape=(1, 8, 8), loss="bce",
    ...                               max_iter=5, random_state=0).fit(X)
    >>> conv.transform(X[:2]).shape
    (2, 8)

    Any torch module with ``encode`` and ``decode`` can be the network; it is
    built with the number of features and components, plus ``module_kwargs``:

    >>> from torch import nn
    >>> class Shallow(nn.Module):
    ...     def __init__(self, n_features, n_components, width=32):
    ...         super().__init__()
    ...         self.encoder = nn.Sequential(
    ...             nn.Linear(n_features, width), nn.Tanh(),
    ...             nn.Linear(width, n_components))
    ...         self.decoder = nn.Linear(n_components, n_features)
    ...     def encode(self, x):
    ...         return self.encoder(x)
    ...     def decode(self, z):
    ...         return self.decoder(z)
    >>> custom = AutoencoderTransformer(n_components=8, architecture=Shallow,
    ...                                 module_kwargs={{"width": 16}}, max_iter=5,
    ...                                 random_state=0).fit(X)
    >>> custom.transform(X[:2]).shape
    (2, 8)
    """

    _parameter_constraints: dict = {**_BaseAutoencoder._parameter_constraints}

    _auto_scaling = "global"

    @_fit_context(prefer_skip_nested_validation=True)
    @_docs.sections
    def fit(self, X, y=None):
        """Fit the autoencoder to ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        {y_ignored}

        {returns_self}
        """
        with _restore_on_failure(self):
            X = self._check_data(X, reset=True)
            self._fit(X)
        return self

    def transform(self, X):
        """Encode ``X`` into its ``n_components`` code.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The code (the mean of the code for a variational autoencoder), of
            the dtype of ``X`` (float64 unless ``X`` is float32).
        """
        X = self._validate_X(X)
        return self._encode(X).astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            Reconstructions in the units of the training data.
        """
        return self._decode(self._validate_Z(X))

    def score(self, X, y=None):
        """Negative mean reconstruction error, higher is better.

        This lets :class:`~sklearn.model_selection.GridSearchCV` select
        parameters such as ``n_components`` without a scorer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to reconstruct.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        check_is_fitted(self)
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
