"""Parameters, validation and fitting shared by skae's estimators."""

import functools
import inspect
import math
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch.callbacks import ProgressBar
from skorch.helper import predefined_split

from skae import _docs
from skae._blocks import block_rows, check_finite, is_mapped, take_rows
from skae._inference import (
    NonFiniteOutputError,
    activation_values_per_row,
    as_tensor,
    predict,
)
from skae._losses import AutoencoderLoss, feature_errors, output_to_data, row_means
from skae._modules import ACTIVATIONS, Autoencoder, ResidualAutoencoder
from skae._network import (
    ARCHITECTURES,
    check_protocol,
    network_spec,
    principal_axes,
)
from skae._scaling import FeatureScaling
from skae._training import (
    AutoencoderNet,
    EarlyStopping,
    EpochLog,
    NonFiniteLossError,
    ScaledRows,
    StopOnNonFiniteLoss,
    TensorBatches,
    restore_on_failure,
    train,
)


class _Count(Interval):
    """An interval of integers that, unlike ``Interval(Integral, ...)``,
    rejects booleans: ``True`` is not a number of epochs or of components."""

    def __init__(self, left):
        super().__init__(Integral, left, None, closed="left")

    def is_satisfied_by(self, val):
        return not isinstance(val, bool | np.bool_) and super().is_satisfied_by(val)


_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


class _BaseAutoencoder(BaseEstimator):
    """Parameters, training and inference shared by skae's estimators.

    ``__init__`` declares every shared parameter; a subclass declares only
    its own parameters and the defaults it changes, with
    :func:`_init_with`. ``_fit`` learns the scaling and trains the network;
    ``score_samples`` and ``sample`` are the public methods both estimators
    have. The subclasses add ``fit`` and their own public methods.
    """

    _parameter_constraints: dict = {
        "n_components": [_Count(1)],
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
        "max_iter": [_Count(1)],
        "batch_size": [_Count(1)],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [_Count(1)],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "accelerator": [None, HasMethods(["prepare", "backward", "unwrap_model"])],
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
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _fit(self, X):
        """Fit scaling and network on validated ``X``; set fitted attributes.

        Returns
        -------
        held_out : ndarray of int or None
            The sorted indices of the rows held out for early stopping,
            which the network did not train on; ``None`` without.
        """
        random_state = _check_random_state(self.random_state)
        accelerator = self.accelerator
        if accelerator is not None and accelerator.num_processes > 1:
            from skae._distributed import shared_fit_setup

            random_state = shared_fit_setup(
                accelerator, X, random_state, self.random_state is not None
            )
        net, scaling, train_rows, seed, start = self._start(
            X, random_state, validation=self.early_stopping
        )
        net = self._run(net, train_rows, seed=seed, start=start)
        self._finish(net, scaling, X)
        if train_rows.rows is None:
            return None
        trained = np.zeros(len(X), dtype=bool)
        trained[train_rows.rows.cpu().numpy()] = True
        return np.flatnonzero(~trained)

    @available_if(lambda estimator: _check_partial_fit(estimator))
    @_fit_context(prefer_skip_nested_validation=True)
    @_docs.sections
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

        {y_ignored}

        {returns_partial}
        """
        with _restore_on_failure(self):
            self._partial_fit(self._validate_partial(X))
        return self

    def _validate_partial(self, X):
        first_call = not hasattr(self, "net_")
        return self._check_data(X, reset=first_call)

    def _partial_fit(self, X):
        """One pass over the rows of validated ``X``, continuing training."""
        if not hasattr(self, "net_"):
            self._partial_fit_rng = _check_random_state(self.random_state)
            net, scaling, rows, seed, start = self._start(
                X, self._partial_fit_rng, validation=False
            )
            net = self._run(net, rows, seed=seed, epochs=1, start=start)
            self._finish(net, scaling, X)
            return
        net, scaling = self.net_, self._feature_scaling()
        if not hasattr(self, "_partial_fit_rng"):
            self._partial_fit_rng = _check_random_state(self.random_state)
        seed = self._partial_fit_rng.randint(np.iinfo(np.int32).max)
        rows = ScaledRows(
            as_tensor(np.ascontiguousarray(X)).to(net.device),
            None,
            None if scaling.is_identity else scaling,
        )
        with restore_on_failure(net):
            self._run(net, rows, seed=seed, epochs=1, initialize=False)
        self._finish(net, scaling, X)

    def _start(self, X, random_state, *, validation):
        """Check parameters, fit the scaling, split the rows, build the net.

        Returns
        -------
        net : AutoencoderNet
            Not initialized; its ``train_split`` holds the validation rows.
        scaling : FeatureScaling
        train_rows : ScaledRows
        seed : int
            The seed of training, drawn from ``random_state`` before the
            validation split.
        start : callable or None
            Sets the starting weights of the initialized module: PCA's
            projection of all rows of ``X`` for ``architecture="residual"``
            with ``loss="mse"`` (with ``"bce"`` the output is a logit, which
            PCA's reconstruction is not).
        """
        n_samples, n_features = X.shape
        n_components = self._resolve_n_components(n_features)
        network, network_kwargs = self._network(n_features, n_components)
        accelerator = self.accelerator
        if accelerator is None:
            device = _resolve_device(self.device)
        else:
            device = accelerator.device
        scaling = FeatureScaling.fit(X, self._scaling_method(), clip=self.loss == "bce")
        if self.loss == "bce":
            scaling.check_unit_interval(X, scaling_name=self.scaling)
        start = None
        if network is ResidualAutoencoder and self.loss == "mse":
            mean, components = principal_axes(X, scaling, n_components)

            def start(module):
                module.network.start_at(mean, components)

        seed = random_state.randint(np.iinfo(np.int32).max)
        index_train, index_valid = (
            self._split(n_samples, random_state) if validation else (None, None)
        )

        # The data as given, on the device, and two sets of its rows that
        # scale each batch as they read it: no scaled copy of X is made.
        X = np.ascontiguousarray(X)
        X_data = as_tensor(X).to(device)
        array = X if X_data.device.type == "cpu" else None
        batch_scaling = None if scaling.is_identity else scaling

        def rows(index):
            if index is not None:
                index = torch.from_numpy(index).to(device)
            return ScaledRows(X_data, index, batch_scaling, array=array)

        if index_valid is None:
            valid_rows = None
        elif len(X) <= block_rows(X, temporaries=0):
            valid_rows = rows(index_valid)
        else:
            # Larger than a block of working_memory: the validation rows,
            # read at every epoch, are gathered once (in their order); the
            # training epochs go block by block.
            valid = as_tensor(take_rows(X, np.sort(index_valid)))
            valid_rows = ScaledRows(valid.to(device), None, batch_scaling)
        net = self._build_net(
            network, network_kwargs, device, valid_rows, from_start=start is not None
        )
        return net, scaling, rows(index_train), seed, start

    def _run(self, net, train_rows, *, seed, epochs=None, initialize=True, start=None):
        """Train ``net``; a diverging loss becomes a ``ValueError``.

        Returns the trained net: ``net``, or for a net trained through an
        accelerator, a plain ``AutoencoderNet`` made from it."""
        try:
            train(
                net,
                train_rows,
                seed=seed,
                epochs=epochs,
                initialize=initialize,
                start=start,
            )
        except NonFiniteLossError as exc:
            raise self._diverged(f"the {self.loss} loss became {exc.loss}") from None
        # The validation split holds the training data: drop it so that the
        # fitted estimator, and its pickle, keep the model only.
        net.set_params(train_split=None)
        if self.accelerator is not None:
            # A plain AutoencoderNet, on the device it was trained on: it
            # pickles and predicts without accelerate.
            net = net.detach(_device_name(self.accelerator.device))
        return net

    def _finish(self, net, scaling, X):
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
        if "valid_loss" in history[-1]:
            self.validation_scores_ = [-loss for loss in history[:, "valid_loss"]]
            self.best_validation_score_ = float(np.max(self.validation_scores_))
            stopping = dict(getattr(net, "callbacks_", [])).get("early_stopping")
            if getattr(stopping, "best_epoch_", None) == 0:
                # No epoch improved on the starting weights, which were kept.
                self.best_validation_score_ = -stopping.best_loss_
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        # The loss was finite at each step, but the last update may still
        # have broken the model: check the weights and what they give.
        if not all(torch.isfinite(p).all() for p in net.module_.parameters()):
            raise self._diverged("the last updates made weights infinite or NaN")
        try:
            self._reconstruction_error(X[: self.batch_size])
        except NonFiniteOutputError:
            raise self._diverged("the trained network outputs inf or NaN") from None

    def _resolve_n_components(self, n_features):
        return self.n_components

    def _default_hidden_layer_sizes(self, n_features, n_components):
        """Widths for ``hidden_layer_sizes=None``; ``None`` for those of
        :data:`skae._network.DEFAULT_HIDDEN_LAYER_SIZES`."""
        return None

    def _network(self, n_features, n_components):
        """The module class and its arguments; checks what the constraints
        cannot express."""
        hidden_layer_sizes = self.hidden_layer_sizes
        if hidden_layer_sizes is None:
            hidden_layer_sizes = self._default_hidden_layer_sizes(
                n_features, n_components
            )
        network, kwargs = network_spec(
            architecture=self.architecture,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=self.activation,
            image_shape=self.image_shape,
            module_kwargs=self.module_kwargs,
            variational=self.variational,
            n_features=n_features,
            n_components=n_components,
            sparsity=self.sparsity,
        )
        if self.noise_type == "masking" and self.noise >= 1:
            raise ValueError(
                "With noise_type='masking', noise is the probability of zeroing "
                f"an input and must be below 1, got noise={self.noise}."
            )
        if isinstance(self.architecture, type):
            check_protocol(
                network,
                kwargs,
                n_features=n_features,
                n_components=n_components,
                variational=self.variational,
            )
        return network, kwargs

    #: What ``scaling="auto"`` means with ``loss="mse"``.
    _auto_scaling = "standard"

    def _scaling_method(self):
        if self.scaling == "auto":
            return "minmax" if self.loss == "bce" else self._auto_scaling
        return self.scaling

    def _split(self, n_samples, random_state):
        """Training and validation rows (``None`` for all rows, or none)."""
        if not self.early_stopping:
            return None, None
        n_valid = math.ceil(self.validation_fraction * n_samples)
        if n_samples - n_valid < 1:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction} of the data, which leaves no "
                f"training sample out of n_samples={n_samples}. Use more "
                "samples, a smaller validation_fraction, or "
                "early_stopping=False."
            )
        order = random_state.permutation(n_samples)
        return order[n_valid:], order[:n_valid]

    def _build_net(self, network, network_kwargs, device, valid, from_start=False):
        monitor = "valid_loss" if self.early_stopping else "train_loss"
        accelerator = self.accelerator
        net_class, net_kwargs, sink = AutoencoderNet, {"device": device}, print
        if accelerator is not None:
            from skae._distributed import AcceleratedAutoencoderNet, print_if

            if accelerator.gradient_accumulation_steps != 1:
                # accumulate() ends a cycle at the end of a DataLoader that
                # accelerate prepared; skae's batches are not one.
                raise ValueError(
                    "skae does not support gradient accumulation; got an "
                    "Accelerator with gradient_accumulation_steps="
                    f"{accelerator.gradient_accumulation_steps}."
                )
            # accelerate places the module (device=None, as AccelerateMixin
            # asks); only the main process prints.
            net_class = AcceleratedAutoencoderNet
            net_kwargs = {"device": None, "accelerator": accelerator}
            sink = functools.partial(print_if, accelerator.is_main_process)
        callbacks = [("stop_on_non_finite_loss", StopOnNonFiniteLoss())]
        if self.verbose >= 2 and (accelerator is None or accelerator.is_main_process):
            # Before the epoch's line, so that the bar is closed when it prints.
            callbacks.append(("progress_bar", ProgressBar()))
        if self.verbose:
            callbacks.append(("epoch_log", EpochLog(monitor, sink=sink)))
        callbacks.append(
            (
                "early_stopping",
                EarlyStopping(
                    monitor=monitor,
                    patience=self.n_iter_no_change,
                    tol=self.tol,
                    load_best=self.early_stopping,
                    sink=sink,
                    # The starting weights compete when they are a solution
                    # (PCA's) and validation rows judge.
                    from_start=from_start and self.early_stopping,
                ),
            )
        )
        optimizer_kwargs = {"weight_decay": self.weight_decay}
        if self.optimizer == "sgd":
            optimizer_kwargs["momentum"] = 0.9
        else:
            # One fused kernel per step instead of about ten operations per
            # parameter tensor: 10-25% of a CPU fit of a small network.
            optimizer_kwargs["fused"] = True
        train_split = None if valid is None else predefined_split(valid)
        return net_class(
            module=Autoencoder,
            module__network=network,
            module__network_kwargs=network_kwargs,
            module__variational=self.variational,
            module__noise=self.noise,
            module__noise_type=self.noise_type,
            criterion=AutoencoderLoss,
            criterion__loss=self.loss,
            criterion__sparsity=self.sparsity,
            criterion__beta=self.beta,
            optimizer=_OPTIMIZERS[self.optimizer],
            lr=self.learning_rate_init,
            **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
            max_epochs=self.max_iter,
            batch_size=self.batch_size,
            iterator_train=TensorBatches,
            iterator_train__shuffle=True,
            iterator_valid=TensorBatches,
            train_split=train_split,
            callbacks=callbacks,
            verbose=int(self.verbose),
            **net_kwargs,
        )

    def _diverged(self, what):
        """The error for a training run whose loss or outputs are not finite."""
        return ValueError(
            f"Training diverged: {what}. Likely causes: a learning rate too "
            f"high for this data (learning_rate_init={self.learning_rate_init}), "
            f"inputs with extreme values (scaling={self.scaling!r}), or a "
            f"penalty weight too large (sparsity={self.sparsity}, "
            f"beta={self.beta})."
        )

    # ------------------------------------------------------------------
    # Inference, on validated data
    # ------------------------------------------------------------------
    def _predict(self, X, method, scale=True):
        """``method(module, batch)`` over the rows of ``X``; see
        :func:`skae._inference.predict`."""
        scaling = self._feature_scaling() if scale else None
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
        return self._predict(X, lambda module, x: module.encode(x))

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

        def error(module, x):
            output = module.decode(module.encode(x))
            return row_means(feature_errors(output, x, loss))

        return self._predict(X, error)

    def _feature_errors(self, X):
        """Reconstruction error of each feature (float64) of validated rows."""
        loss = self.loss

        def errors(module, x):
            output = module.decode(module.encode(x))
            return feature_errors(output, x, loss).to(torch.float64)

        return self._predict(X, errors)

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

    @_docs.sections
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

        {returns_feature_errors}
        """
        errors = self._feature_errors(self._validate_X(X))
        if not (_is_dataframe(X) or _pandas_output_configured(self)):
            return errors
        import pandas as pd

        columns = getattr(self, "feature_names_in_", None)
        if columns is None:
            columns = [f"x{i}" for i in range(self.n_features_in_)]
        index = X.index if _is_dataframe(X) else None
        return pd.DataFrame(errors, columns=list(columns), index=index)

    def _validate_X(self, X):
        check_is_fitted(self)
        return self._check_data(X, reset=False)

    def _check_data(self, X, *, reset):
        """scikit-learn's validation of ``X``, out of core for memory maps.

        A memory-mapped ``X`` is checked for NaN and infinity block by block,
        releasing each block's pages, instead of in one pass that would
        bring the whole file into the process's memory.
        """
        mapped = is_mapped(X)
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite=not mapped,
        )
        if mapped:
            check_finite(X)
        return X

    def _validate_Z(self, Z):
        check_is_fitted(self)
        Z = check_array(Z, dtype=[np.float64, np.float32])
        n_components = self.n_components_
        if Z.shape[1] != n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} features, but {type(self).__name__} has "
                f"{n_components} components."
            )
        return Z

    @available_if(lambda estimator: estimator.variational)
    @validate_params(
        {
            "n_samples": [Interval(Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None):
        """Generate new data from a variational autoencoder.

        Codes are drawn from the standard normal prior and decoded.
        Available only when ``variational=True``.

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
            dtype of the training data.
        """
        check_is_fitted(self)
        generator = torch.Generator().manual_seed(
            int(_check_random_state(random_state).randint(np.iinfo(np.int32).max))
        )
        Z = torch.randn(n_samples, self.n_components_, generator=generator).numpy()
        return self._decode(Z.astype(self._training_dtype))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("accelerator") is not None:
            # The accelerator belongs to the processes that fit, not to the
            # model: it is not pickled (the fitted net does not use it).
            state = {**state, "accelerator": None}
        return state


def _init_with(base_init, **defaults):
    """An ``__init__`` with the parameters of ``base_init``, some defaults
    changed and keyword-only parameters added.

    scikit-learn reads an estimator's parameters from the signature of its
    ``__init__``; this lets a subclass of :class:`_BaseAutoencoder` declare
    only what differs from it. The returned ``__init__`` stores every
    argument as an attribute of the same name, and nothing else.

    Parameters
    ----------
    base_init : callable
        ``_BaseAutoencoder.__init__``.
    **defaults : dict
        New defaults of parameters of ``base_init``, and the subclass's own
        keyword-only parameters with their defaults, in the order they
        should appear before the shared keyword-only ones.

    Returns
    -------
    __init__ : callable
    """
    signature = inspect.signature(base_init)
    shared = [
        p.replace(default=defaults.pop(p.name, p.default))
        for p in signature.parameters.values()
    ]
    own = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in defaults.items()
    ]
    # The subclass's own parameters come first among the keyword-only ones.
    n_positional = sum(p.kind != p.KEYWORD_ONLY for p in shared)
    parameters = [*shared[:n_positional], *own, *shared[n_positional:]]
    signature = signature.replace(parameters=parameters)

    def __init__(self, *args, **kwargs):
        arguments = signature.bind(self, *args, **kwargs)
        arguments.apply_defaults()
        for name, value in list(arguments.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


@contextmanager
def _restore_on_failure(estimator):
    """Leave ``estimator`` as it was if the block raises, Ctrl-C included.

    A fit that fails or is interrupted must not leave a mix of old and new
    fitted attributes behind: the attributes fitted before (if any) are put
    back and those set by the failed fit are removed.
    """
    before = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(before)
        raise


def _resolve_device(device):
    """Map the ``device`` parameter to a torch device name, or raise."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was requested but CUDA is not available: this torch "
            f"build ({torch.__version__}) sees no GPU. Use device='cpu', or "
            "device='auto' to use a GPU only when there is one."
        )
    return device


def _device_name(device):
    """``"cpu"`` or ``"cuda"`` for the device a net was trained on, as the
    ``device`` of a net trained in one process: accelerate makes each
    process's GPU its current device."""
    return torch.device(device).type


def _check_random_state(random_state):
    """Like ``check_random_state``, but ``None`` never touches the global RNG.

    scikit-learn maps ``None`` to numpy's global ``RandomState`` and draws
    from it; here ``None`` means a generator seeded from fresh OS entropy, so
    fitting leaves the caller's global random state exactly as it was.
    """
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(1))
    return check_random_state(random_state)


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def _pandas_output_configured(estimator):
    """Whether ``set_output`` or scikit-learn's config asks for pandas."""
    return _get_output_config("transform", estimator)["dense"] == "pandas"


def _check_partial_fit(estimator):
    """``partial_fit`` is there only without early stopping and without an
    accelerator; say why not."""
    if estimator.accelerator is not None:
        raise AttributeError(
            "partial_fit is not available with an accelerator: each fit "
            "trains in all processes and ends with a plain, unwrapped net."
        )
    if estimator.early_stopping:
        raise AttributeError(
            "partial_fit is available only with early_stopping=False: early "
            "stopping holds out validation rows of one fit and counts its "
            "epochs, which a stream of chunks does not have."
        )
    return True
