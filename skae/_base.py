"""Shared parameters, validation, scaling, seeding and training of skae's
estimators."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping
from skorch.helper import predefined_split
from torch import nn
from torch.func import functional_call

from skae._losses import AutoencoderLoss, output_to_data, reconstruction_error
from skae._modules import (
    ACTIVATIONS,
    Autoencoder,
    ConvAutoencoder,
    MethodCall,
    MLPAutoencoder,
)
from skae._net import (
    AutoencoderNet,
    NonFiniteLossError,
    ScaledRows,
    StopOnNonFiniteLoss,
    TensorBatches,
)

_DEFAULT_HIDDEN = {"mlp": (128, 64), "conv": (32, 64), "linear": ()}

# Values (rows x columns) per forward pass at inference on the CPU: batches
# of 2 MB (float32) whose activations stay in cache. On a 784-256-32 network
# this was 5-15% faster than batches of 8192 rows (25 MB), which the
# allocator maps and unmaps anew. At least _MIN_INFERENCE_BATCH rows, so that
# per-call overhead vanishes when rows are long, and at most
# _MAX_INFERENCE_BATCH, so that hidden layers wider than short rows keep
# their activations small (4 features and 128 hidden units: 8192 rows were
# 3x faster than 131072). On a GPU, batches of _MAX_INFERENCE_BATCH rows:
# fewer transfers, and no CPU cache to fit.
_INFERENCE_BATCH_VALUES = 2**19
_MIN_INFERENCE_BATCH = 256
_MAX_INFERENCE_BATCH = 8192

# Values (rows x features) per block when computing the variance of the data:
# bounds the temporaries to 2 MB of float64, whatever the number of features,
# and keeps them in cache (4096 rows of 784 features made 25 MB temporaries).
_SCALING_BLOCK_SIZE = 2**18


def _shares_memory(a, b):
    """Whether tensors ``a`` and ``b`` are views of the same storage."""
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def _scaling_block_rows(n_features):
    """Rows per block of scaling for rows of ``n_features`` values."""
    return max(1, _SCALING_BLOCK_SIZE // n_features)


_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


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


def _check_random_state(random_state):
    """Like ``check_random_state``, but ``None`` never touches the global RNG.

    scikit-learn maps ``None`` to numpy's global ``RandomState`` and draws
    from it; here ``None`` means a generator seeded from fresh OS entropy, so
    fitting leaves the caller's global random state exactly as it was.
    """
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(1))
    return check_random_state(random_state)


def _image_shape(image_shape, n_features):
    """Return ``(channels, height, width)`` for rows of ``n_features``."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side == n_features:
            return (1, side, side)
        return (1, 1, n_features)
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            "image_shape must be (height, width) or (channels, height, width) "
            f"of positive integers, got {image_shape!r}."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={image_shape!r} has {math.prod(shape)} values per "
            f"image, but X has {n_features} features."
        )
    return shape


def _is_variational(estimator):
    return estimator.variational


class _BaseAutoencoder(BaseEstimator):
    """Parameters and machinery shared by skae's estimators.

    Subclasses set the public ``__init__`` (with their own defaults) and the
    public methods; everything that trains or runs the network lives here.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "architecture": [StrOptions({"mlp", "linear", "conv"}), type],
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
        "scaling": [StrOptions({"auto", "standard", "minmax"}), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------
    # Validation of what _parameter_constraints cannot express
    # ------------------------------------------------------------------
    def _check_params(self, n_features):
        """Check combinations of parameters; return the network spec."""
        architecture = self.architecture
        hidden = self.hidden_layer_sizes
        n_components = self._resolve_n_components(n_features)
        if isinstance(architecture, type):
            if not issubclass(architecture, nn.Module):
                raise ValueError(
                    "architecture must be 'mlp', 'linear', 'conv' or a subclass "
                    f"of torch.nn.Module, got {architecture!r}."
                )
            if hidden is not None or self.image_shape is not None:
                raise ValueError(
                    "hidden_layer_sizes and image_shape apply to the built-in "
                    "architectures; a custom module takes its own arguments "
                    "through module_kwargs."
                )
            kwargs = {"n_features": n_features, "n_components": n_components}
            return architecture, {**kwargs, **(self.module_kwargs or {})}

        if self.module_kwargs:
            raise ValueError(
                "module_kwargs is only used with a custom module as architecture; "
                f"got architecture={architecture!r}."
            )
        hidden = _DEFAULT_HIDDEN[architecture] if hidden is None else hidden
        sizes = np.asarray(hidden).ravel()
        if sizes.size and (
            not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 1
        ):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {hidden!r}."
            )
        hidden = tuple(int(size) for size in sizes)
        if architecture == "linear" and hidden:
            raise ValueError(
                "architecture='linear' has no hidden layers; leave "
                f"hidden_layer_sizes=None, got {self.hidden_layer_sizes!r}."
            )
        if architecture == "conv" and not hidden:
            raise ValueError(
                "architecture='conv' needs at least one convolution: "
                "hidden_layer_sizes gives the number of channels of each."
            )
        if architecture != "conv" and self.image_shape is not None:
            raise ValueError(
                f"image_shape is used by architecture='conv' only, got "
                f"architecture={architecture!r}."
            )
        common = {"n_components": n_components, "variational": self.variational}
        if architecture == "conv":
            return ConvAutoencoder, {
                **common,
                "image_shape": _image_shape(self.image_shape, n_features),
                "channels": hidden,
                "activation": self.activation,
            }
        return MLPAutoencoder, {
            **common,
            "n_features": n_features,
            "hidden_layer_sizes": hidden,
            "activation": "identity" if architecture == "linear" else self.activation,
        }

    def _resolve_n_components(self, n_features):
        return self.n_components

    def _check_noise(self):
        if self.noise_type == "masking" and self.noise >= 1:
            raise ValueError(
                "With noise_type='masking', noise is the probability of zeroing "
                f"an input and must be below 1, got noise={self.noise}."
            )

    # ------------------------------------------------------------------
    # Scaling
    # ------------------------------------------------------------------
    def _scaling_method(self):
        if self.scaling == "auto":
            return "minmax" if self.loss == "bce" else "standard"
        return self.scaling

    def _fit_scaling(self, X):
        """Learn ``center_`` and ``scale_`` (float64) from ``X``."""
        method = self._scaling_method()
        n_features = X.shape[1]
        if method is None:
            center, scale = np.zeros(n_features), np.ones(n_features)
        elif method == "standard":
            center = X.mean(axis=0, dtype=np.float64)
            # The variance block by block: X.std() would hold X - mean whole.
            squares = np.zeros(n_features)
            block_rows = _scaling_block_rows(n_features)
            for start in range(0, len(X), block_rows):
                block = X[start : start + block_rows] - center
                squares += np.einsum("ij,ij->j", block, block)
            scale = np.sqrt(squares / len(X))
        else:
            center = X.min(axis=0).astype(np.float64)
            scale = X.max(axis=0).astype(np.float64) - center
        # Constant features: leave them centred at zero rather than divide by 0.
        scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(1, abs(center))] = 1
        self.center_ = center
        self.scale_ = scale

    def _check_bce_range(self, X):
        """Raise if training data leave [0, 1] after scaling, for ``"bce"``."""
        if self.loss != "bce":
            return
        low = ((X.min(axis=0) - self.center_) / self.scale_).min()
        high = ((X.max(axis=0) - self.center_) / self.scale_).max()
        if low < -1e-6 or high > 1 + 1e-6:
            raise ValueError(
                "loss='bce' needs inputs in [0, 1] after scaling, but with "
                f"scaling={self.scaling!r} they span [{low:.3g}, {high:.3g}]. "
                "Use scaling='minmax' (or 'auto'), or rescale X to [0, 1]."
            )

    def _unscale(self, Xs, dtype):
        return (Xs * self.scale_ + self.center_).astype(dtype, copy=False)

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------
    def _fit(self, X):
        """Fit scaling and network on validated ``X``; set fitted attributes."""
        n_samples, n_features = X.shape
        network, network_kwargs = self._check_params(n_features)
        self._check_noise()
        device = _resolve_device(self.device)
        self._fit_scaling(X)
        self._check_bce_range(X)

        random_state = _check_random_state(self.random_state)
        seed = random_state.randint(np.iinfo(np.int32).max)
        if self.early_stopping:
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
            rows_valid, rows_train = order[:n_valid], order[n_valid:]
        else:
            rows_train = rows_valid = None

        # The data as given, on the device, and two sets of its rows that
        # scale each batch as they read it: no scaled copy of X is made.
        X = np.ascontiguousarray(X)
        if X.flags.writeable:
            X_data = torch.from_numpy(X).to(device)
        else:
            with warnings.catch_warnings():
                # X may be read-only (a memory map, say): skae never writes
                # to it, so torch's warning about that does not apply.
                warnings.filterwarnings(
                    "ignore", "The given NumPy array is not writable", UserWarning
                )
                X_data = torch.from_numpy(X).to(device)
        scaling = {"clip": self.loss == "bce"}
        if self._scaling_method() is not None:
            scaling["center"], scaling["scale"] = (
                torch.from_numpy(values.astype(X.dtype)).to(device)
                for values in (self.center_, self.scale_)
            )

        def rows(index):
            if index is not None:
                index = torch.from_numpy(index).to(device)
            return ScaledRows(X_data, index, **scaling)

        train = rows(rows_train)
        valid = rows(rows_valid) if self.early_stopping else None

        net = self._build_net(network, network_kwargs, device, valid)
        cuda_devices = [torch.cuda.current_device()] if device == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            # Seed the generators that training draws from, and only those:
            # torch.manual_seed would also reseed every CUDA device, which
            # fork_rng does not restore (and, with no CUDA initialized, takes
            # a quarter of a millisecond recording a stack trace).
            torch.default_generator.manual_seed(seed)
            for index in cuda_devices:
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
            try:
                net.fit(train)
            except NonFiniteLossError as exc:
                raise ValueError(
                    f"Training diverged: the {self.loss} loss became {exc.loss} "
                    f"at epoch {exc.epoch}. Likely causes: a learning rate too "
                    f"high for this data (learning_rate_init="
                    f"{self.learning_rate_init}), inputs with extreme values "
                    f"(scaling={self.scaling!r}), or a penalty weight too large "
                    f"(sparsity={self.sparsity}, beta={self.beta})."
                ) from None
        net.module_.eval()
        # The validation split holds the training data: drop it so that the
        # fitted estimator, and its pickle, keep the model only.
        net.set_params(train_split=None)

        history = net.history
        self.net_ = net
        self.n_components_ = self._resolve_n_components(n_features)
        self.n_iter_ = len(history)
        self.loss_curve_ = list(history[:, "train_loss"])
        self.best_loss_ = float(np.min(self.loss_curve_))
        if self.early_stopping:
            self.validation_scores_ = [-loss for loss in history[:, "valid_loss"]]
            self.best_validation_score_ = float(np.max(self.validation_scores_))
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _build_net(self, network, network_kwargs, device, valid):
        monitor = "valid_loss" if self.early_stopping else "train_loss"
        callbacks = [
            ("stop_on_non_finite_loss", StopOnNonFiniteLoss()),
            (
                "early_stopping",
                EarlyStopping(
                    monitor=monitor,
                    patience=self.n_iter_no_change,
                    threshold=self.tol,
                    threshold_mode="abs",
                    load_best=self.early_stopping,
                    sink=print if self.verbose else _silent,
                ),
            ),
        ]
        optimizer_kwargs = {"weight_decay": self.weight_decay}
        if self.optimizer == "sgd":
            optimizer_kwargs["momentum"] = 0.9
        else:
            # One fused kernel per step instead of about ten operations per
            # parameter tensor: 10-25% of a CPU fit of a small network.
            optimizer_kwargs["fused"] = True
        train_split = None if valid is None else predefined_split(valid)
        return AutoencoderNet(
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
            device=device,
            verbose=int(self.verbose),
        )

    # ------------------------------------------------------------------
    # Inference, on validated data
    # ------------------------------------------------------------------
    def _run(self, X, method, scale=False):
        """Apply ``method(module, batch)`` to the rows of ``X``, batch by batch.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_columns)
            Validated float32 or float64 rows: data, or codes.
        method : callable
            ``method(module, batch)`` returning a tensor with one row (or one
            value) per row of ``batch``.
        scale : bool, default=False
            Whether to apply the fitted scaling to each batch first, with the
            arithmetic of training (``(x - center_) / scale_`` in ``X``'s
            precision, clipped to [0, 1] for ``loss="bce"``: new data may
            fall outside the training range, and the targets of a binary
            cross-entropy must not), into a buffer of one batch that is
            reused: no scaled copy of ``X`` is made.

        Returns
        -------
        result : ndarray
            The outputs of all batches, concatenated.

        Notes
        -----
        On the CPU, batches hold about ``_INFERENCE_BATCH_VALUES`` values
        (counted in rows of the data, also when ``X`` holds codes), so that
        they and the activations they produce stay in cache; see the comment
        on these constants.

        float32 rows run through the trained float32 module. float64 rows run
        through the same module with its parameters cast to float64: float32
        matrix products round differently with the number of rows, by about
        1e-7, and float64 input should give a result that does not depend on
        how the rows are batched.
        """
        module = MethodCall(self.net_.module_, method)
        device = self.net_.device
        n_samples, n_columns = X.shape
        # Rows of the data, not short codes, set the size of the activations.
        row_width = max(n_columns, self.n_features_in_)
        batch_rows = _MAX_INFERENCE_BATCH
        if torch.device(device).type == "cpu":
            batch_rows = min(
                batch_rows,
                max(_MIN_INFERENCE_BATCH, _INFERENCE_BATCH_VALUES // row_width),
            )
        if scale:
            center = self.center_.astype(X.dtype, copy=False)
            scale_ = self.scale_.astype(X.dtype, copy=False)
            buffer = np.empty((min(batch_rows, n_samples), n_columns), dtype=X.dtype)
        outputs = []
        with torch.inference_mode():
            if X.dtype == np.float64:
                params = {
                    name: tensor.to(torch.float64)
                    for name, tensor in module.state_dict().items()
                    if tensor.is_floating_point()
                }

                def run(batch):
                    return functional_call(module, params, (batch,))

            else:
                run = module
            for start in range(0, max(n_samples, 1), batch_rows):
                rows = X[start : start + batch_rows]
                if scale:
                    rows = np.subtract(rows, center, out=buffer[: len(rows)])
                    np.divide(rows, scale_, out=rows)
                    if self.loss == "bce":
                        np.clip(rows, 0, 1, out=rows)
                batch = torch.from_numpy(rows).to(device)
                output = run(batch)
                if scale and _shares_memory(output, batch):
                    # A module returning (a view of) its input would hand
                    # back the buffer, which the next batch overwrites.
                    output = output.clone()
                outputs.append(output.cpu())
        return torch.cat(outputs).numpy()

    def _encode(self, X):
        """Codes of unscaled, validated rows ``X``."""
        return self._run(X, lambda module, x: module.encode(x), scale=True)

    def _decode(self, Z):
        return self._run(
            Z, lambda module, z: output_to_data(module.decode(z), self.loss)
        )

    def _reconstruction_error(self, X):
        """Per-sample reconstruction error (float64) of unscaled, validated rows."""

        def error(module, x):
            output = module.decode(module.encode(x))
            return reconstruction_error(output, x, self.loss)

        return self._run(X, error, scale=True).astype(np.float64)

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

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

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

    @available_if(_is_variational)
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
            Generated samples in the units of the training data.
        """
        check_is_fitted(self)
        generator = torch.Generator().manual_seed(
            int(_check_random_state(random_state).randint(np.iinfo(np.int32).max))
        )
        Z = torch.randn(n_samples, self.n_components_, generator=generator).numpy()
        return self._unscale(self._decode(Z), np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _silent(*args, **kwargs):
    """A sink for skorch callbacks that prints nothing."""
