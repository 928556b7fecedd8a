"""Imputation of missing values with an autoencoder."""

from numbers import Real

import numpy as np
from sklearn.base import TransformerMixin, _fit_context
from sklearn.impute import MissingIndicator
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from skae._base import _BaseAutoencoder
from skae._blocks import take_rows
from skae._missing import has_missing
from skae._utils import Count, check_random_state, restore_on_failure

#: Most rows (evenly spaced) that ``draw_noise_std_`` is measured on.
MAX_SPREAD_ROWS = 1_000
#: Draws per hidden cell that measure the spread the code draws give.
SPREAD_DRAWS = 5


class AutoencoderImputer(TransformerMixin, _BaseAutoencoder):
    """Imputation of missing values by an autoencoder's reconstruction.

    An autoencoder is trained on the observed cells of ``X`` (missing cells
    never enter its loss), a share ``noise`` of its inputs hidden at random
    so that it learns to restore cells from the others; :meth:`transform`
    fills each missing cell from the network's reconstruction of its row,
    refined over a few passes in which the cells filled by one pass are the
    input of the next, and leaves the observed cells as they are. Like
    :class:`~sklearn.impute.IterativeImputer` it models each feature from
    all the others, in one network for all features; it starts from
    iterative PCA imputation (``architecture="residual"``) and learns what
    PCA misses.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    n_components : int or None, default=None
        Size of the code. ``None`` uses ``2 * n_features`` for the default
        network (``architecture="residual"``, ``variational=False``): wider
        than the data, since a network that sees a share ``noise`` of each
        row's inputs hidden cannot copy its input through the code, and a
        wide code rebuilt the hidden cells best on the imputation
        benchmark. Otherwise ``None`` uses ``max(1, n_features // 2)``: with
        ``variational=True`` the KL term penalises every value of the code,
        and a code of ``2 * n_features`` filled worse than the mean on the
        benchmark; the other architectures were not compared.

    missing_values : int, float or np.nan, default=np.nan
        The placeholder for the missing values. All occurrences of
        ``missing_values`` are imputed. NaN is always a missing value too.

    add_indicator : bool, default=False
        If True, a :class:`~sklearn.impute.MissingIndicator` transform is
        stacked onto the output of the imputer's transform, as for
        scikit-learn's imputers: one binary column for each feature that
        had missing values at fit time.

    sample_posterior : bool, default=False
        Whether each imputation is a draw rather than the network's best
        guess, for multiple imputation, as with scikit-learn's
        ``IterativeImputer``: each fill pass encodes the row to a code
        drawn from the variational posterior, ``mean + exp(log_var / 2) *
        eps``, instead of its mean (at least one pass runs), and (with
        ``loss="mse"``) each filled cell then gets Gaussian noise of spread
        ``draw_noise_std_``. Each call of :meth:`transform` gives other
        plausible values for the missing cells. The draws come from
        ``random_state_``; they depend on the rows given and on how
        inference splits them into batches (``working_memory``), as well.
        Needs ``variational=True``.

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
        ``(32, 64)`` for ``"conv"``, and for ``"linear"``, which accepts no
        other value, no hidden layer.

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

    noise : float, default=0.2
        Input corruption while training: the probability of hiding each
        input for ``noise_type="masking"``, or the standard deviation of
        Gaussian noise (in scaled units). A hidden input holds the value a
        missing cell starts from, the feature's mean, whatever the
        ``scaling``: masking hides observed cells as if they were missing,
        and the loss asks the network to restore them from the others,
        which is the imputation it does. Never applied by :meth:`transform`.
        ``0.0`` trains to rebuild the observed cells only, as
        :class:`AutoencoderTransformer` does. 0.2 was chosen, from
        0.1 to 0.3, on the imputation benchmark's data sets and patterns (12
        sets, missing completely at random at 10%, 30% and 50% and at random
        at 30%, 3 seeds), where it lowered the normalised RMSE of 119 of the
        144 fills and of every pattern on average, see
        ``benchmarks/README.md``.

    noise_type : {"gaussian", "masking"}, default="masking"
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
        ``"auto"`` is ``"minmax"`` for ``loss="bce"`` and ``"standard"`` for
        ``loss="mse"``: every feature counts the same in the loss, whatever
        its units. Constant features are centred and left unscaled.

    max_iter : int, default=50
        Maximum number of epochs (passes over the training data).

    batch_size : int, default=64
        Number of samples per gradient step.

    learning_rate_init : float, default=1e-3
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
        no epoch improves on them). With masking noise the loss is the
        training objective's: the held-out rows have the same share
        ``noise`` of their inputs hidden at every epoch, and the loss
        compares the output with the rows as observed, so that epochs are
        judged on restoring hidden cells, the task of imputation. When
        ``False``, training stops by the same rule on the training loss.

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
        noise, and (as ``random_state_``) the draws of
        ``sample_posterior=True``. An int makes ``fit`` reproducible bit for
        bit on CPU. ``None``
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
        Negative loss on the validation data at each epoch (with inputs
        hidden, see ``early_stopping``), when ``early_stopping=True``;
        otherwise ``None``.

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

    indicator_ : :class:`~sklearn.impute.MissingIndicator`
        Indicator used to add binary indicators for missing values.
        ``None`` if ``add_indicator=False``.

    draw_noise_std_ : ndarray of shape (`n_features_in_`,) or None
        Spread of the Gaussian noise each draw adds to a filled cell with
        ``sample_posterior=True``, per feature, in the data's units; ``None``
        unless ``variational=True``. Measured at ``fit`` on cells hidden in
        the rows held out for early stopping (the training rows without
        early stopping, the last call's rows with :meth:`partial_fit`; at
        most 1,000 rows): its square is the mean squared error of the best
        fill there minus the variance that draws of the code alone give,
        so that the draws spread as far as the fill errs.

    random_state_ : RandomState instance
        Draws the codes of :meth:`transform` with ``sample_posterior=True``,
        one seed per call: ``random_state`` itself when it is a
        ``RandomState``, otherwise a new one seeded with it at ``fit`` (the
        first call of :meth:`partial_fit`), from the operating system when
        it is ``None``.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.impute.SimpleImputer : Imputation by a statistic of each feature.
    sklearn.impute.KNNImputer : Imputation from the nearest neighbours.
    sklearn.impute.IterativeImputer : Imputation by chained regressions.
    AutoencoderTransformer : Dimensionality reduction with an autoencoder.

    Notes
    -----
    A row whose values are all missing, or a feature with no observed value
    at fit time, is an error: scikit-learn's imputers fill such a row with
    the features' statistics, but it carries nothing for the network to
    rebuild from.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import AutoencoderImputer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6))
    >>> X_missing = X.copy()
    >>> X_missing[rng.uniform(size=X.shape) < 0.2] = np.nan
    >>> imputer = AutoencoderImputer(random_state=0).fit(X_missing)
    >>> X_filled = imputer.transform(X_missing)
    >>> bool(np.isnan(X_filled).any())
    False
    >>> observed = ~np.isnan(X_missing)
    >>> bool((X_filled[observed] == X_missing[observed]).all())
    True
    """

    _parameter_constraints: dict = {
        **_BaseAutoencoder._parameter_constraints,
        "n_components": [Count(1), None],
        "missing_values": [Real, None],
        "add_indicator": ["boolean"],
        "sample_posterior": ["boolean"],
    }

    _auto_scaling = "standard"

    # Trained to restore hidden cells from their starting fill, it is judged
    # on doing so.
    _trains_to_impute = True

    def __init__(
        self,
        n_components=None,
        *,
        missing_values=np.nan,
        add_indicator=False,
        sample_posterior=False,
        architecture="residual",
        hidden_layer_sizes=None,
        activation="relu",
        image_shape=None,
        module_kwargs=None,
        variational=False,
        beta=1.0,
        sparsity=0.0,
        noise=0.2,
        noise_type="masking",
        loss="mse",
        scaling="auto",
        max_iter=50,
        batch_size=64,
        learning_rate_init=1e-3,
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
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.sample_posterior = sample_posterior

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder on the observed cells of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, with missing values where ``X`` equals
            ``missing_values`` (or is NaN).

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
        """Impute all missing values in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data to complete; new rows as well as the training rows.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            ``X`` with each missing cell replaced by the network's
            reconstruction (a draw with ``sample_posterior=True``) and every
            observed cell unchanged, of the dtype
            of ``X`` (float64 unless ``X`` is float32); followed by the
            missing indicator's columns when ``add_indicator=True``.
        """
        X = self._validate_X(X)
        X_imputed = X.copy()
        if has_missing(X):
            missing = np.isnan(X)
            X_imputed[missing] = self._impute(X)[missing]
        if self.indicator_ is None:
            return X_imputed
        indicator = self.indicator_.transform(X).astype(X.dtype)
        return np.hstack([X_imputed, indicator])

    def get_feature_names_out(self, input_features=None):
        """Get output feature names for transformation.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input features: ``feature_names_in_`` if defined, otherwise
            ``["x0", "x1", ..., "x(n_features_in_ - 1)"]``; if an array, it
            must match ``feature_names_in_`` when that is defined.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The input features, followed by the indicator's when
            ``add_indicator=True``.
        """
        check_is_fitted(self, "n_features_in_")
        input_features = _check_feature_names_in(self, input_features)
        if self.indicator_ is None:
            return input_features
        names = self.indicator_.get_feature_names_out(input_features)
        return np.concatenate([input_features, names])

    def _fit(self, X, incremental=False):
        first_pass = not (incremental and hasattr(self, "net_"))
        if self.sample_posterior and not self.variational:
            raise ValueError(
                "sample_posterior=True draws codes from the posterior of a "
                "variational autoencoder; set variational=True, or "
                "sample_posterior=False."
            )
        held_out = super()._fit(X, incremental=incremental)
        self.draw_noise_std_ = None
        if self.net_.module_.variational:
            # Measured on rows the network did not train on, when there are
            # any: on the training rows the errors would be too small.
            rows = np.arange(len(X)) if held_out is None else held_out
            if len(rows) > MAX_SPREAD_ROWS:
                rows = rows[np.linspace(0, len(rows) - 1, MAX_SPREAD_ROWS).astype(int)]
            self.draw_noise_std_ = self._draw_noise_std(take_rows(X, rows))
        if first_pass:
            self.random_state_ = check_random_state(self.random_state)
            # As scikit-learn's imputers: one column per feature with
            # missing values at fit time (the first call of partial_fit).
            self.indicator_ = (
                MissingIndicator(error_on_new=False).fit(X)
                if self.add_indicator
                else None
            )
        return held_out

    def _check_data(self, X, *, reset):
        X = super()._check_data(X, reset=reset)
        if is_scalar_nan(self.missing_values) or self.missing_values is None:
            return X
        # A placeholder other than NaN: its cells become NaN, which mark
        # missing cells everywhere else in skae.
        return np.where(X == self.missing_values, np.nan, X).astype(X.dtype)

    def _draw_noise_std(self, X):
        """The spread of the noise of a draw, per feature, in the data's
        units, from cells hidden in the rows ``X``.

        Observed cells of ``X`` are hidden as often as cells are missing in
        it (10% to 50%; each row keeps one, a fixed seed draws them). Where
        the network's best fill misses them by a mean squared error ``v``
        and ``SPREAD_DRAWS`` draws of the code alone vary by a variance
        ``c``, noise of variance ``v - c`` (none below zero) makes the draws
        as spread as the best fill's error. A feature without hidden cells
        gets the median over the others.
        """
        rng = np.random.RandomState(0)
        observed = ~np.isnan(X)
        rate = np.clip(1 - observed.mean(), 0.1, 0.5)
        hidden = observed & (rng.uniform(size=X.shape) < rate)
        keep = rng.uniform(size=X.shape) * observed
        hidden[np.arange(len(X)), np.argmax(keep, axis=1)] = False
        if not hidden.any():
            return np.zeros(self.n_features_in_)
        X_hidden = np.where(hidden, np.nan, X)
        truth = (X - self.center_) / self.scale_

        def filled(module, x, observed=None):
            return x

        best = self._predict(X_hidden, filled).astype(np.float64)
        draws = np.array(
            [self._predict(X_hidden, filled, draw_seed=k) for k in range(SPREAD_DRAWS)],
            dtype=np.float64,
        )
        count = hidden.sum(axis=0)
        error = np.where(hidden, (best - truth) ** 2, 0).sum(axis=0)
        spread = np.where(hidden, draws.var(axis=0, ddof=1), 0).sum(axis=0)
        variance = np.maximum(error - spread, 0) / np.maximum(count, 1)
        variance[count == 0] = np.median(variance[count > 0])
        return np.sqrt(variance) * self.scale_

    def _impute(self, X):
        """Rows of ``X`` (with NaN) filled by the network, in the data's
        units; observed cells hold their reconstruction there."""
        if not self.sample_posterior:
            filled = self._predict(X, lambda module, x, observed=None: x)
            return self._feature_scaling().inverse(filled, X.dtype)
        if not self.net_.module_.variational:
            # sample_posterior set after a fit without variational=True.
            raise ValueError(
                "sample_posterior=True draws codes from the posterior of a "
                "variational autoencoder, and this one was fitted with "
                "variational=False; refit with variational=True."
            )
        # Gaussian noise around the output suits the squared error only.
        noise_std = None
        if self.loss == "mse":
            noise_std = self.draw_noise_std_ / self.scale_
        # A call that fails leaves the draws of the next one as they were.
        state = self.random_state_.get_state()
        try:
            seed = int(self.random_state_.randint(np.iinfo(np.int32).max))
            filled = self._predict(
                X,
                lambda module, x, observed=None: x,
                draw_seed=seed,
                noise_std=noise_std,
            )
        except BaseException:
            self.random_state_.set_state(state)
            raise
        return self._feature_scaling().inverse(filled, X.dtype)

    def _resolve_n_components(self, n_features, decomposition):
        if self.n_components is not None:
            return self.n_components
        if self.architecture == "residual" and not self.variational:
            return 2 * n_features
        return max(1, n_features // 2)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
