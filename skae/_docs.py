"""Docstring sections shared by skae's estimators, written once.

Each parameter is described once, in :data:`PARAMETERS`; :func:`parameters`
writes the numpydoc section of an estimator from its ``__init__`` signature,
so the defaults shown are the defaults the estimator has.
"""

import inspect
import textwrap

from skae._network import DEFAULT_HIDDEN_LAYER_SIZES as _DEFAULT_WIDTHS

#: name -> (type, description) of every parameter the estimators share.
PARAMETERS = {
    "n_components": (
        "int",
        "Size of the code, the number of output features of :meth:`transform`.",
    ),
    "architecture": (
        '{"residual", "mlp", "linear", "conv"} or nn.Module subclass',
        """\
The network between input and code:

- ``"residual"``: a linear autoencoder plus dense branches with
  ``activation`` whose output starts at zero. With ``loss="mse"`` the
  linear part starts at PCA's solution (the principal axes of all rows
  given to ``fit``, as the network sees them). Training
  starts from PCA's reconstruction and learns what PCA misses; with early
  stopping, the start is kept if no epoch improves on it on the
  validation rows. The code keeps all ``n_components`` directions
  whatever the widths of the branches.
- ``"mlp"``: dense layers with ``activation``, the decoder mirroring the
  encoder (an undercomplete autoencoder).
- ``"linear"``: one linear map each way and no activation; its code
  spans the same subspace as PCA's components.
- ``"conv"``: stride-2 convolutions down to the code and transposed
  convolutions back, for images given as flat rows (see
  ``image_shape``).
- a subclass of ``torch.nn.Module``, built as
  ``architecture(n_features=..., n_components=..., **module_kwargs)``
  and providing ``encode(x)`` and ``decode(z)``; see the user guide.""",
    ),
    "hidden_layer_sizes": (
        "array-like of int",
        f"""\
Widths of the encoder's hidden layers (``"residual"``, ``"mlp"``) or
channels of its convolutions (``"conv"``); the decoder mirrors them.
``None`` means ``{_DEFAULT_WIDTHS["residual"]}`` for ``"residual"`` and
``"mlp"``,
``{_DEFAULT_WIDTHS["conv"]}`` for ``"conv"`` and no hidden layer for
``"linear"``, which accepts no other value.""",
    ),
    "activation": (
        '{"relu", "leaky_relu", "elu", "gelu", "tanh", "logistic", "identity"}',
        """\
Activation after each hidden layer. The code and the output layer are
never activated (the output goes through a sigmoid for ``loss="bce"``).""",
    ),
    "image_shape": (
        "tuple of int",
        """\
``(channels, height, width)`` or ``(height, width)`` of the images
whose flattened pixels are the rows of ``X``; ``"conv"`` only. ``None``
means a single-channel square image when ``n_features`` is a perfect
square, otherwise a one-row signal ``(1, 1, n_features)``.""",
    ),
    "module_kwargs": (
        "dict",
        """\
Keyword arguments for a custom ``architecture`` module.""",
    ),
    "variational": (
        "bool",
        """\
Train a variational autoencoder: the encoder gives a mean and a
log-variance per component, codes are sampled while training and the
objective adds ``beta`` times the KL divergence from a standard normal
prior. Codes computed by the fitted model are the mean, so they are
deterministic.""",
    ),
    "beta": (
        "float",
        """\
Weight of the KL term of a variational autoencoder (a beta-VAE for
values other than 1). Ignored unless ``variational=True``.""",
    ),
    "sparsity": (
        "float",
        """\
Weight of an L1 penalty on the code, for a sparse autoencoder.""",
    ),
    "noise": (
        "float",
        """\
Input corruption while training, for a denoising autoencoder: the
standard deviation of Gaussian noise (in scaled units), or the
probability of zeroing each input for ``noise_type="masking"``. Never
applied by :meth:`transform` or scoring.""",
    ),
    "noise_type": (
        '{"gaussian", "masking"}',
        """\
Kind of input corruption used when ``noise > 0``.""",
    ),
    "loss": (
        '{"mse", "bce"}',
        """\
Reconstruction error: the squared error, or the binary cross-entropy
of a sigmoid output, averaged over features. ``"bce"`` needs inputs in
[0, 1] after scaling; with ``scaling="auto"`` they are min-max scaled.
Training and scoring use the same definition.""",
    ),
    "max_iter": (
        "int",
        """\
Maximum number of epochs (passes over the training data).""",
    ),
    "batch_size": (
        "int",
        """\
Number of samples per gradient step.""",
    ),
    "learning_rate_init": (
        "float",
        """\
Learning rate of the optimizer.""",
    ),
    "optimizer": (
        '{"adam", "adamw", "sgd"}',
        """\
The torch optimizer: ``"adam"`` and ``"adamw"`` use torch's fused
implementation (one kernel per step), ``"sgd"`` a momentum of 0.9.""",
    ),
    "weight_decay": (
        "float",
        """\
L2 penalty (``"adamw"``: decoupled weight decay).""",
    ),
    "early_stopping": (
        "bool",
        """\
Whether to hold out ``validation_fraction`` of the training data and
stop when the loss on it has not improved by at least ``tol`` for
``n_iter_no_change`` epochs; the weights of the best epoch are kept
(for ``architecture="residual"``, its starting weights, PCA's, when no
epoch improves on them).
When ``False``, training stops by the same rule on the training loss.""",
    ),
    "validation_fraction": (
        "float",
        """\
Fraction of the training data held out for early stopping.""",
    ),
    "n_iter_no_change": (
        "int",
        """\
Number of epochs without improvement before training stops.""",
    ),
    "tol": (
        "float",
        """\
Smallest decrease of the monitored loss that counts as improvement.""",
    ),
    "device": (
        '{"cpu", "cuda", "auto"}',
        """\
Where to train and run the network. ``"auto"`` uses a GPU if torch
sees one. A fitted model can be pickled on a GPU machine and loaded
on a CPU-only one.""",
    ),
    "accelerator": (
        "accelerate.Accelerator",
        """\
Train with Hugging Face accelerate: several processes (one per GPU or
machine, started by ``torchrun`` or ``accelerate launch``, each calling
``fit`` with the same data) or mixed precision. Each process trains on
its share of every batch of ``batch_size`` rows per process; all end
with the same model, which pickles and predicts without accelerate.
``device`` is then ignored: the accelerator places the network. The
accelerator is not pickled. ``None`` trains in this process only.""",
    ),
    "callbacks": (
        "list of skorch callbacks or None",
        """\
skorch callbacks (instances, or ``(name, callback)`` pairs) that the
net runs during training, after skae's own: for example an
:class:`~skorch.callbacks.LRScheduler`, a
:class:`~skorch.callbacks.Checkpoint` or
:class:`~skorch.callbacks.GradientNormClipping`. Each fit uses copies, so
the estimator's parameters do not change.""",
    ),
    "random_state": (
        "int, RandomState instance or None",
        """\
Seeds weight initialisation, shuffling, the validation split and
the noise. An int makes ``fit`` reproducible bit for bit on CPU.
``None`` draws a fresh seed from the operating system at each fit.
Unlike most scikit-learn estimators, ``None`` does not draw from
numpy's global random state: fitting leaves the global numpy and
torch random states exactly as they were.""",
    ),
    "verbose": (
        "int",
        """\
``0`` prints nothing; ``1`` or more prints a line per epoch (loss,
validation loss, duration) and early stopping's message.""",
    ),
}


def scaling_parameter(auto):
    """The ``scaling`` entry of :data:`PARAMETERS` for an estimator whose
    ``scaling="auto"`` with ``loss="mse"`` means ``auto`` (a sentence)."""
    return (
        '{"auto", "standard", "global", "minmax"} or None',
        f"""\
Scaling applied before the network (and undone on its output):
``"standard"`` removes each feature's mean and divides by its standard
deviation; ``"global"`` removes each feature's mean and divides all
features by one scale (the root of their mean variance), which keeps
their relative sizes as PCA does; ``"minmax"`` maps each feature's
training range to [0, 1]; ``None`` uses ``X`` as it is. ``"auto"`` is
``"minmax"`` for ``loss="bce"``; for ``loss="mse"``, {auto} Constant
features are centred and left unscaled.""",
    )


def parameters(init, own=None):
    """The "Parameters" section of an estimator, numpydoc style.

    Parameters
    ----------
    init : callable
        The estimator's ``__init__``: its signature gives the order and the
        defaults.
    own : dict, default=None
        ``name -> (type, description)`` of the estimator's own parameters,
        and of shared ones it describes differently.

    Returns
    -------
    section : str
        The entries, indented for a class docstring, without the heading.
    """
    described = {**PARAMETERS, **(own or {})}
    entries = []
    for name, parameter in inspect.signature(init).parameters.items():
        if name == "self":
            continue
        kind, description = described[name]
        default = _format_default(parameter.default)
        entries.append(
            f"{name} : {kind}, default={default}\n"
            + textwrap.indent(description, " " * 8)
        )
    return "\n\n    ".join(entries)


def _format_default(value):
    return f'"{value}"' if isinstance(value, str) else repr(value)


FITTED_ATTRIBUTES = """\
net_ : skae._net.AutoencoderNet
        The trained skorch net; ``net_.module_`` is the torch module.

    n_components_ : int
        Size of the code.

    center_ : ndarray of shape (`n_features_in_`,)
        Per-feature value subtracted before the network (the mean for
        standard and global scaling, the minimum for min-max scaling,
        zeros without).

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
        Validation score of the weights kept, when
        ``early_stopping=True``: the highest of ``validation_scores_``, or
        that of the starting weights when they were kept.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`. Defined only when `X`
        has feature names that are all strings."""


#: Docstring sections shared by methods of both estimators: ``{name}`` in a
#: method's docstring becomes the text (see :func:`sections`). Continuation
#: lines are indented for a method's docstring.
SECTIONS = {
    "y_ignored": """y : Ignored
            Not used, present for API consistency by convention.""",
    "returns_self": """Returns
        -------
        self : object
            The fitted estimator.""",
    "returns_partial": """Returns
        -------
        self : object
            The estimator, trained one pass further.""",
    "returns_feature_errors": """Returns
        -------
        errors : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            Non-negative float64 values, one per feature. A pandas DataFrame,
            with the feature names as columns, when ``X`` is one, or when
            pandas output is configured (``set_output(transform="pandas")`` or
            scikit-learn's ``transform_output``); otherwise an ndarray.""",
}


def sections(method):
    """Method decorator: fill the method's docstring with :data:`SECTIONS`.

    Only the names of :data:`SECTIONS` in braces are replaced; other braces
    are left as they are.
    """
    doc = method.__doc__
    for name, text in SECTIONS.items():
        doc = doc.replace("{" + name + "}", text)
    method.__doc__ = doc
    return method


def document(own=None):
    """Class decorator: fill an estimator's docstring from its signature.

    The docstring's ``{parameters}`` becomes :func:`parameters` of the
    class's ``__init__`` and ``{fitted_attributes}`` the shared fitted
    attributes; literal braces are written ``{{`` and ``}}``.

    Parameters
    ----------
    own : dict, default=None
        See :func:`parameters`.
    """

    def decorate(cls):
        cls.__doc__ = cls.__doc__.format(
            parameters=parameters(cls.__init__, own),
            fitted_attributes=FITTED_ATTRIBUTES,
        )
        return cls

    return decorate
