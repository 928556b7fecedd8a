"""Dimensionality reduction with an autoencoder."""

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from skae._base import _BaseAutoencoder
from skae._losses import output_to_data, row_means
from skae._missing import has_missing
from skae._scaling import FeatureScaling
from skae._utils import restore_on_failure


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
    n_components : int, default=2
        Size of the code, the number of output features of :meth:`transform`.

    architecture : {"residual", "mlp", "linear", "conv"} or nn.Module subclass, \
default="residual"
        The network between input and code:

        - ``"residual"``: a linear autoencoder plus dense branches with
          ``activation`` whose output starts at zero. With ``loss="mse"`` the
          linear part starts at PCA's solution (the principal axes of all rows
          given to ``fit``, as the network sees them). Training starts from
          PCA's reconstruction and learns what PCA misses; with early
          stopping, the start is kept if no epoch improves on it on the
          validation rows. The code keeps all ``n_components`` directions
          whatever the widths of the branches.
        - ``"mlp"``: dense layers with ``activation``, the decoder mirroring
          the encoder (an undercomplete autoencoder).
        - ``"linear"``: one linear map each way and no activation; its code
          spans the same subspace as PCA's components.
        - ``"conv"``: stride-2 convolutions down to the code and transposed
          convolutions back, for images given as flat rows (see
          ``image_shape``).
        - a subclass of ``torch.nn.Module``, built as
          ``architecture(n_features=..., n_components=..., **module_kwargs)``
          and providing ``encode(x)`` and ``decode(z)``; see the user guide.

    hidden_layer_sizes : array-like of int, default=None
        Widths of the encoder's hidden layers (``"residual"``, ``"mlp"``) or
        channels of its convolutions (``"conv"``); the decoder mirrors them.
        ``None`` means ``(128, 64)`` for ``"residual"`` and ``"mlp"``,
        ``(32, 64)`` for ``"conv"`` and no hidden layer for ``"linear"``,
        which accepts no other value.

    activation : {"relu", "leaky_relu", "elu", "gelu", "tanh", "logistic", \
"identity"}, default="relu"
        Activation after each hidden layer. The code and the output layer are
        never activated (the output goes through a sigmoid for
        ``loss="bce"``).

    image_shape : tuple of int, default=None
        ``(channels, height, width)`` or ``(height, width)`` of the images
        whose flattened pixels are the rows of ``X``; ``"conv"`` only.
        ``None`` means a single-channel square image when ``n_features`` is a
        perfect square, otherwise a one-row signal ``(1, 1, n_features)``.

    module_kwargs : dict, default=None
        Keyword arguments for a custom ``architecture`` module.

    variational : bool, default=False
        Train a variational autoencoder: the encoder gives a mean and a
        log-variance per component, codes are sampled while training and the
        objective adds ``beta`` times the KL divergence from a standard
        normal prior. Codes computed by the fitted model are the mean, so
        they are deterministic.

    beta : float, default=1.0
        Weight of the KL term of a variational autoencoder (a beta-VAE for
        values other than 1). Ignored unless ``variational=True``.

    sparsity : float, default=0.0
        Weight of an L1 penalty on the code, for a sparse autoencoder.

    noise : float, default=0.0
        Input corruption while training, for a denoising autoencoder: the
        standard deviation of Gaussian noise (in scaled units), or the
        probability of zeroing each input for ``noise_type="masking"``. Never
        applied by :meth:`transform` or scoring.

    noise_type : {"gaussian", "masking"}, default="gaussian"
        Kind of input corruption used when ``noise > 0``.

    loss : {"mse", "bce"}, default="mse"
        Reconstruction error: the squared error, or the binary cross-entropy
        of a sigmoid output, averaged over features. ``"bce"`` needs inputs
        in [0, 1] after scaling; with ``scaling="auto"`` they are min-max
        scaled. Training and scoring use the same definition.

    scaling : {"auto", "standard", "global", "minmax"} or None, default="auto"
        Scaling applied before the network (and undone on its output):
        ``"standard"`` removes each feature's mean and divides by its
        standard deviation; ``"global"`` removes each feature's mean and
        divides all features by one scale (the root of their mean variance),
        which keeps their relative sizes as PCA does; ``"minmax"`` maps each
        feature's training range to [0, 1]; ``None`` uses ``X`` as it is.
        ``"auto"`` is ``"minmax"`` for ``loss="bce"`` and ``"global"`` for
        ``loss="mse"``: the reconstruction error the network minimises is
        then the squared error in the units of ``X``, up to one factor, as
        for PCA, which it starts from (``architecture="residual"``). Put a
        :class:`~sklearn.preprocessing.StandardScaler` first, or pass
        ``scaling="standard"``, to weigh features of different units
        equally. Constant features are centred and left unscaled.

    max_iter : int, default=200
        Maximum number of epochs (passes over the training data).

    batch_size : int, default=128
        Number of samples per gradient step.

    learning_rate_init : float, default=3e-3
        Learning rate of the optimizer.

    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        The torch optimizer: ``"adam"`` and ``"adamw"`` use torch's fused
        implementation (one kernel per step), ``"sgd"`` a momentum of 0.9.

    weight_decay : float, default=0.0
        L2 penalty (``"adamw"``: decoupled weight decay).

    early_stopping : bool, default=True
        Whether to hold out ``validation_fraction`` of the training data and
        stop when the loss on it has not improved by at least ``tol`` for
        ``n_iter_no_change`` epochs; the weights of the best epoch are kept
        (for ``architecture="residual"``, its starting weights, PCA's, when
        no epoch improves on them). When ``False``, training stops by the
        same rule on the training loss.

    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.

    n_iter_no_change : int, default=10
        Number of epochs without improvement before training stops.

    tol : float, default=1e-4
        Smallest decrease of the monitored loss that counts as improvement.

    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where to train and run the network. ``"auto"`` uses a GPU if torch
        sees one. A fitted model can be pickled on a GPU machine and loaded
        on a CPU-only one.

    accelerator : accelerate.Accelerator, default=None
        Train with Hugging Face accelerate: several processes (one per GPU or
        machine, started by ``torchrun`` or ``accelerate launch``, each
        calling ``fit`` with the same data) or mixed precision. Each process
        trains on its share of every batch of ``batch_size`` rows per
        process; all end with the same model, which pickles and predicts
        without accelerate. ``device`` is then ignored: the accelerator
        places the network. The accelerator is not pickled. ``None`` trains
        in this process only.

    callbacks : list of skorch callbacks or None, default=None
        skorch callbacks (instances, or ``(name, callback)`` pairs) that the
        net runs during training, after skae's own: for example an
        :class:`~skorch.callbacks.LRScheduler`, a
        :class:`~skorch.callbacks.Checkpoint` or
        :class:`~skorch.callbacks.GradientNormClipping`. Each fit runs
        copies of them, so the estimator's parameters do not change.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split and the
        noise. An int makes ``fit`` reproducible bit for bit on CPU. ``None``
        draws a fresh seed from the operating system at each fit. Unlike
        most scikit-learn estimators, ``None`` does not draw from numpy's
        global random state: fitting leaves the global numpy and torch
        random states exactly as they were.

    verbose : int, default=0
        ``0`` prints nothing; ``1`` or more prints a line per epoch (loss,
        validation loss, duration) and early stopping's message.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net (of a subclass of :class:`skorch.NeuralNet`);
        ``net_.module_`` is the torch module.

    n_components_ : int
        Size of the code.

    center_ : ndarray of shape (`n_features_in_`,)
        Per-feature value subtracted before the network (the mean for
        standard and global scaling, the minimum for min-max scaling, zeros
        without).

    scale_ : ndarray of shape (`n_features_in_`,)
        Per-feature divisor applied after centring.

    n_iter_ : int
        Number of epochs run.

    loss_curve_ : list of float
        Training loss at each epoch.

    best_loss_ : float
        Lowest training loss reached.

    validation_scores_ : list of float or None
        Negative loss on the validation data at each epoch, when
        ``early_stopping=True``; otherwise ``None``.

    best_validation_score_ : float or None
        Validation score of the weights kept, when ``early_stopping=True``:
        the highest of ``validation_scores_``, or that of the starting
        weights when they were kept.

    n_fill_passes_ : int
        Passes of the network that fill the missing cells (NaN) of a row
        before it is encoded, each feeding the last fill back in, after a
        first fill with the features' means (0: the means alone). Counted
        at ``fit`` on the rows held out for early stopping, as the number
        from 0 to 10 that best restores observed cells hidden there,
        whether or not the training rows miss cells; 2 without early
        stopping.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`. Defined only when `X`
        has feature names that are all strings.

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
    ...                                 module_kwargs={"width": 16}, max_iter=5,
    ...                                 random_state=0).fit(X)
    >>> custom.transform(X[:2]).shape
    (2, 8)
    """

    _parameter_constraints: dict = {**_BaseAutoencoder._parameter_constraints}

    _auto_scaling = "global"

    def __init__(
        self,
        n_components=2,
        *,
        architecture="residual",
        hidden_layer_sizes=None,
        activation="relu",
        image_shape=None,
        module_kwargs=None,
        variational=False,
        beta=1.0,
        sparsity=0.0,
        noise=0.0,
        noise_type="gaussian",
        loss="mse",
        scaling="auto",
        max_iter=200,
        batch_size=128,
        learning_rate_init=3e-3,
        optimizer="adam",
        weight_decay=0.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="cpu",
        accelerator=None,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_components,
            architecture=architecture,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            image_shape=image_shape,
            module_kwargs=module_kwargs,
            variational=variational,
            beta=beta,
            sparsity=sparsity,
            noise=noise,
            noise_type=noise_type,
            loss=loss,
            scaling=scaling,
            max_iter=max_iter,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            optimizer=optimizer,
            weight_decay=weight_decay,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            device=device,
            accelerator=accelerator,
            callbacks=callbacks,
            random_state=random_state,
            verbose=verbose,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder to ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with restore_on_failure(self):
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
        """Minus the mean squared reconstruction error, in the units of ``X``.

        The squared difference between ``X`` and
        ``inverse_transform(transform(X))``, averaged over samples and
        features: the value of :func:`skae.metrics.reconstruction_scorer`,
        which measures any transformer with ``inverse_transform``, PCA
        included, the same way. Higher is better, so
        :class:`~sklearn.model_selection.GridSearchCV` can select parameters
        such as ``n_components`` without a scorer; to compare with other
        transformers, whose own ``score`` measures something else (PCA's is
        a log-likelihood), pass ``scoring=reconstruction_scorer``.

        Unlike :meth:`score_samples`, which is in the scaled units the
        network trains in (and for ``loss="bce"`` a cross-entropy), the score
        does not depend on ``scaling`` or ``loss``: models trained with
        different ones are compared on the same scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to reconstruct.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Minus the mean squared error (over the observed cells when
            ``X`` misses some), at most 0; ``-inf`` when the error
            exceeds the largest float64 number.
        """
        X = self._validate_X(X)
        if has_missing(X):
            # Over the observed cells only, against the rows' reconstruction
            # from their filled codes.
            rebuilt = self._decode(self._encode(X))
            with np.errstate(over="ignore"):
                return -float(np.nanmean((rebuilt - X).astype(np.float64) ** 2))
        # Errors are computed in scaled units, where they are of the order
        # of the data's spread and neither overflow nor underflow, then
        # weighted by each feature's squared scale relative to the largest;
        # the largest scale is applied once, to the mean.
        largest = self.scale_.max()
        weights = (self.scale_ / largest) ** 2
        unclipped = FeatureScaling(self.center_, self.scale_)
        clip = self.loss == "bce"
        loss = self.loss

        def squared_errors(module, x):
            target = unclipped.apply(x, unclipped.tensors(x.dtype, x.device))
            # The network sees what transform gives it (clipped to [0, 1]
            # for a cross-entropy); the error is against X as it is.
            inputs = target.clamp(0, 1) if clip else target
            output = output_to_data(module.decode(module.encode(inputs)), loss)
            error = (output - target).to(torch.float64).square_()
            return row_means(error.mul_(torch.from_numpy(weights).to(x.device)))

        mean = np.mean(self._predict(X, squared_errors, scale=False))
        with np.errstate(over="ignore"):
            return -float((np.sqrt(mean) * largest) ** 2)

    @property
    def _n_features_out(self):
        check_is_fitted(self)
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
