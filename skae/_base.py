"""Parameters, fitting and inference shared by skae's estimators."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import check_is_fitted

from skae._building import (
    OPTIMIZERS,
    device_name,
    first_pass_plan,
    next_pass_plan,
)
from skae._callbacks import NonFiniteLossError, diverged, validation_scores
from skae._inference import (
    NonFiniteOutputError,
    activation_values_per_row,
    predict,
)
from skae._losses import feature_errors, output_to_data, row_means
from skae._missing import (
    DEFAULT_FILL_PASSES,
    check_missing,
    check_observed,
    choose_fill_passes,
    filling,
    has_missing,
    mask_missing,
    observed_row_means,
)
from skae._modules import ACTIVATIONS
from skae._net import AutoencoderNet, run_training
from skae._network import ARCHITECTURES
from skae._scaling import FeatureScaling, feature_range
from skae._utils import (
    Count,
    check_partial_fit,
    check_random_state,
    check_variational,
    explained_available_if,
    fit_random_state,
    per_feature_output,
    restore_on_failure,
)
from skae._validation import check_codes, check_data


class _BaseAutoencoder(BaseEstimator):
    """Parameters, training and inference shared by skae's estimators.

    ``__init__`` stores every shared parameter; each subclass writes out its
    own ``__init__``, with its defaults and its own parameters, and passes
    the shared ones on. ``_fit`` learns the scaling and trains the network;
    ``score_samples`` and ``sample`` are the public methods both estimators
    have. The subclasses add ``fit`` and their own public methods.
    """

    _parameter_constraints: dict = {
        "n_components": [Count(1)],
        "architecture": [StrOptions(set(ARCHITECTURES)), type],
        "hidden_layer_sizes": ["array-like", None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "image_shape": ["array-like", None],
        "module_kwargs": [dict, None],
        "variational": ["boolean"],
        "beta": [Interval(Real, 0, None, closed="left")],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "noise_type": [StrOptions({"gaussian", "masking"})],
        "loss": [StrOptions({"mse", "bce"})],
        "scaling": [StrOptions({"auto", "standard", "global", "minmax"}), None],
        "max_iter": [Count(1)],
        "batch_size": [Count(1)],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Count(1)],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "accelerator": [None, HasMethods(["prepare", "backward", "unwrap_model"])],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

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
        self.n_components = n_components
        self.architecture = architecture
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.image_shape = image_shape
        self.module_kwargs = module_kwargs
        self.variational = variational
        self.beta = beta
        self.sparsity = sparsity
        self.noise = noise
        self.noise_type = noise_type
        self.loss = loss
        self.scaling = scaling
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.accelerator = accelerator
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _fit(self, X, incremental=False):
        """Fit scaling and network on validated ``X``; set fitted attributes.

        ``fit`` builds a new net and trains it for up to ``max_iter`` epochs;
        ``partial_fit`` (``incremental=True``) builds one on its first call
        and trains it for one pass on each call. The seeds of ``partial_fit``
        passes come from a stream that starts at ``random_state`` with the
        first pass after a ``fit`` (or none): a pass that fails draws nothing
        from it.

        Returns
        -------
        held_out : ndarray of int or None
            The sorted indices of the rows held out from training: those
            early stopping monitors, and those :meth:`_rows_left_out` keeps
            from it; ``None`` without early stopping.
        """
        first_pass = not (incremental and hasattr(self, "net_"))
        random_state = fit_random_state(self, X, incremental)
        missing = check_missing(X, first_pass=first_pass)
        if first_pass:
            plan = first_pass_plan(self, X, random_state, incremental, missing)
        else:
            plan = next_pass_plan(self, X, random_state, missing)
        net, scaling, fill, seed = plan.net, plan.scaling, plan.fill, plan.seed
        index_valid, valid_rows = plan.index_valid, plan.valid_rows
        try:
            run_training(
                net, plan.train_rows, seed=seed, initialize=first_pass, start=plan.start
            )
        except NonFiniteLossError as exc:
            raise diverged(self, f"the {self.loss} loss became {exc.loss}") from None
        # The validation split holds the training data: drop it so that the
        # fitted estimator, and its pickle, keep the model only.
        net.set_params(train_split=None)
        if self.accelerator is not None:
            # A plain AutoencoderNet, on the device it was trained on: it
            # pickles and predicts without accelerate.
            net = net.detach(device_name(self.accelerator.device))
        self._missing_fill = fill
        # How many passes of the network fill missing cells best, for rows
        # with holes now or later: counted on the held-out rows as training
        # read them (not read again from X, which may be a memory map),
        # since the training rows would flatter the passes. The cells to
        # hide are drawn from the training seed, leaving the stream of
        # random_state as it was.
        if index_valid is not None:
            self.n_fill_passes_ = choose_fill_passes(
                net.module_, valid_rows, fill, self.loss, np.random.RandomState(seed)
            )
        elif first_pass:
            self.n_fill_passes_ = DEFAULT_FILL_PASSES
        self._set_fitted_attributes(net, scaling, X)
        # The range sample clips to: that of all rows trained on.
        self._feature_range = feature_range(
            X, None if first_pass else self._feature_range
        )
        if incremental:
            self._partial_fit_rng = random_state
        else:
            # The next partial_fit starts a new stream, as after no fit.
            vars(self).pop("_partial_fit_rng", None)
        return None if index_valid is None else np.sort(index_valid)

    @explained_available_if(check_partial_fit)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train on ``X`` for one pass, going on from the current model.

        As for scikit-learn's ``MLPRegressor.partial_fit``: each call runs one
        epoch over the rows given, in shuffled mini-batches, and keeps the
        network, the optimizer's state and the history between calls; the
        first call builds them. Use it for data that arrive in chunks or do
        not fit in memory (also through ``dask_ml.wrappers.Incremental``).
        Available with ``early_stopping=False`` only: early stopping needs a
        fixed validation set and a number of epochs.

        The feature scaling is learned from the first call's rows and kept
        fixed afterwards, so that the network always sees the same units:
        make the first chunk representative, or scale the data yourself and
        pass ``scaling=None``. ``n_iter_`` and ``loss_curve_`` count passes.
        If a call fails or is interrupted, the model is left as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows. The first call fixes ``n_features_in_``.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The estimator, trained one pass further.
        """
        with restore_on_failure(self, incremental=True):
            X = self._check_data(X, reset=not hasattr(self, "net_"))
            self._fit(X, incremental=True)
        return self

    def _set_fitted_attributes(self, net, scaling, X):
        """Set the fitted attributes from a trained net; check its outputs."""
        history = net.history
        self.net_ = net
        self.n_components_ = net.module__network_kwargs["n_components"]
        self.center_ = scaling.center
        self.scale_ = scaling.scale
        self._values_per_row = activation_values_per_row(net.module_, X.shape[1])
        self._training_dtype = X.dtype
        self.n_iter_ = len(history)
        self.loss_curve_ = list(history[:, "train_loss"])
        self.best_loss_ = float(np.min(self.loss_curve_))
        self.validation_scores_, self.best_validation_score_ = validation_scores(net)
        # The loss was finite at each step, but the last update may still
        # have broken the model: check the weights and what they give.
        if not all(torch.isfinite(p).all() for p in net.module_.parameters()):
            raise diverged(self, "the last updates made weights infinite or NaN")
        try:
            self._reconstruction_error(X[: self.batch_size])
        except NonFiniteOutputError:
            raise diverged(self, "the trained network outputs inf or NaN") from None

    def _resolve_n_components(self, n_features, decomposition):
        """The code size. ``decomposition()`` gives the principal axes and
        variances of the rows PCA's start is computed on
        (:func:`skae._start.principal_decomposition`); ``decomposition`` is
        ``None`` for networks without that start."""
        return self.n_components

    def _rows_left_out(self, n_samples, index_valid):
        """Sorted indices of held-out rows that neither the PCA start nor
        early stopping sees; ``None`` for none."""
        return None

    def _default_hidden_layer_sizes(self, n_features, n_components):
        """Widths for ``hidden_layer_sizes=None``; ``None`` for those of
        :data:`skae._network.DEFAULT_HIDDEN_LAYER_SIZES`."""
        return None

    #: The skorch net that trains without an accelerator. A subclass of the
    #: estimator may name a subclass of it, to change how the net trains
    #: without copying ``_fit``; ``tests/test_training.py`` trains through
    #: skorch's own ``infer`` and callbacks this way.
    _net_class = AutoencoderNet

    #: What ``scaling="auto"`` means with ``loss="mse"``.
    _auto_scaling = "standard"

    #: Whether the network trains to impute: masking noise writes each
    #: feature's starting fill, and early stopping judges the masked task
    #: (see :class:`skae._net.AutoencoderNet`).
    _trains_to_impute = False

    def _scaling_method(self):
        if self.scaling == "auto":
            return "minmax" if self.loss == "bce" else self._auto_scaling
        return self.scaling

    # ------------------------------------------------------------------
    # Inference, on validated data
    # ------------------------------------------------------------------
    def _predict(self, X, method, scale=True, draw_seed=None, noise_std=None):
        """``method(module, batch)`` over the rows of ``X``; see
        :func:`skae._inference.predict`.

        When rows of ``X`` miss cells (NaN), each scaled batch has its
        missing cells filled from the network first, in ``n_fill_passes_``
        passes (see :func:`skae._missing.refined_fills`), and ``method`` is
        called as
        ``method(module, filled, observed)`` with the mask of the observed
        cells, which it restricts errors and scores to. With a
        ``draw_seed`` (an int; variational networks only) the fill is a
        draw: see :func:`skae._missing.filling`.
        """
        scaling = self._feature_scaling() if scale else None
        if scale and has_missing(X):
            check_observed(X, columns=False)
            method = filling(
                method,
                self._missing_fill,
                self.loss,
                self.n_fill_passes_,
                draw_seed,
                noise_std,
            )
        return predict(
            self.net_.module_,
            X,
            method,
            device=self.net_.device,
            values_per_row=self._values_per_row,
            scaling=None if scaling is None or scaling.is_identity else scaling,
        )

    def _feature_scaling(self):
        return FeatureScaling(self.center_, self.scale_, clip=self.loss == "bce")

    def _encode(self, X):
        """Codes of unscaled, validated rows ``X``."""
        return self._predict(X, lambda module, x, observed=None: module.encode(x))

    def _decode(self, Z):
        """Rows, in the units of the data, decoded from codes ``Z``."""
        loss = self.loss
        X_scaled = self._predict(
            Z, lambda module, z: output_to_data(module.decode(z), loss), scale=False
        )
        return self._feature_scaling().inverse(X_scaled, Z.dtype)

    def _reconstruction_error(self, X):
        """Per-sample reconstruction error of unscaled, validated rows: the
        mean of :meth:`_feature_errors`, accumulated in float64."""
        loss = self.loss

        def error(module, x, observed=None):
            output = module.decode(module.encode(x))
            if observed is not None:
                return observed_row_means(feature_errors(output, x, loss), observed)
            return row_means(feature_errors(output, x, loss))

        return self._predict(X, error)

    def _feature_errors(self, X):
        """Reconstruction error of each feature (float64) of validated rows."""
        loss = self.loss

        def errors(module, x, observed=None):
            output = module.decode(module.encode(x))
            return feature_errors(output, x, loss).to(torch.float64)

        return mask_missing(self._predict(X, errors), X)

    def score_samples(self, X):
        """Compute the negative reconstruction error of each sample.

        The error is the loss (squared error or binary cross-entropy) averaged
        over features, measured after the internal scaling, exactly as in
        training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to reconstruct.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher is better: the lower, the more abnormal the sample.
        """
        return self._score_samples(self._validate_X(X))

    def _score_samples(self, X):
        return -self._reconstruction_error(X)

    def feature_errors(self, X):
        """Reconstruction error of each feature: why a sample scores as it does.

        The error :meth:`score_samples` averages over features, feature by
        feature, with the same loss and the same internal scaling: the mean of
        a row equals minus the sample's score (to float64 rounding). Large
        values point at the features the model could not rebuild, which for
        an outlier are the features that make it one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to explain.

        Returns
        -------
        errors : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            Non-negative float64 values, one per feature. A pandas DataFrame,
            with the feature names as columns, when ``X`` is one, or when
            pandas output is configured (``set_output(transform="pandas")`` or
            scikit-learn's ``transform_output``); otherwise an ndarray.
        """
        return per_feature_output(self, self._feature_errors(self._validate_X(X)), X)

    def _validate_X(self, X):
        check_is_fitted(self)
        return self._check_data(X, reset=False)

    def _check_data(self, X, *, reset):
        """Validate ``X``; see :func:`skae._validation.check_data`."""
        return check_data(self, X, reset=reset)

    def _validate_Z(self, Z):
        check_is_fitted(self)
        return check_codes(self, Z)

    @explained_available_if(check_variational)
    @validate_params(
        {
            "n_samples": [Count(1)],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None):
        """Generate new data from a variational autoencoder.

        Codes are drawn from the standard normal prior and decoded, and each
        feature is clipped to the range it spans in the training data (all
        the rows trained on: those of the last ``fit`` and of every
        ``partial_fit`` call since). As
        scikit-learn's ``IterativeImputer`` clips what it imputes to
        ``[min_value, max_value]``, generated values stay values the data
        take: a decoder trained with the squared error is unbounded, and
        its output may leave the range (pixel intensities below 0 or above
        their maximum), while clipping changes no value inside it. With
        ``loss="bce"`` and min-max scaling the sigmoid output already lies
        in the range, so clipping only sets constant features to their
        value. The decoder's own output, unclipped, is
        what :meth:`~skae.AutoencoderTransformer.inverse_transform` gives for
        codes drawn from the prior.

        Available only when ``variational=True``: otherwise ``hasattr`` is
        False and calling it raises an ``AttributeError`` that says so.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        random_state : int, RandomState instance or None, default=None
            Seeds the draw of the codes; ``None`` uses fresh OS entropy and
            leaves the global random states alone.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Generated samples in the units of the training data, of the
            dtype of the training data; each feature between its smallest
            and its largest training value, both included.

        Raises
        ------
        ValueError
            If undoing the feature scaling overflows the training dtype,
            which only data whose scale nears its largest number risk.
        """
        check_is_fitted(self)
        generator = torch.Generator().manual_seed(
            int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        )
        Z = torch.randn(n_samples, self.n_components_, generator=generator).numpy()
        X = self._decode(Z.astype(self._training_dtype))
        # Training values of the training dtype: casting them back is exact.
        low, high = self._feature_range.astype(X.dtype)
        return np.clip(X, low, high, out=X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("accelerator") is not None:
            # The accelerator belongs to the processes that fit, not to the
            # model: it is not pickled (the fitted net does not use it).
            state = {**state, "accelerator": None}
        return state
