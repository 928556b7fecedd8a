"""Docstring sections shared by skae's estimators, written once."""

NETWORK_PARAMETERS = """\
architecture : {"mlp", "linear", "conv"} or nn.Module subclass, default="mlp"
        The network between input and code:

        - ``"mlp"``: dense layers with ``activation``, the decoder mirroring the
          encoder (an undercomplete autoencoder).
        - ``"linear"``: one linear map each way and no activation; its code
          spans the same subspace as PCA's components.
        - ``"conv"``: stride-2 convolutions down to the code and transposed
          convolutions back, for images given as flat rows (see
          ``image_shape``).
        - a subclass of ``torch.nn.Module``, built as
          ``architecture(n_features=..., n_components=..., **module_kwargs)``
          and providing ``encode(x)`` and ``decode(z)``; see the user guide.

    hidden_layer_sizes : array-like of int, default=None
        Widths of the encoder's hidden layers (``"mlp"``) or channels of its
        convolutions (``"conv"``); the decoder mirrors them. ``None`` means
        ``(128, 64)`` for ``"mlp"``, ``(32, 64)`` for ``"conv"`` and no hidden
        layer for ``"linear"``, which accepts no other value.

    activation : {"relu", "leaky_relu", "elu", "gelu", "tanh", "logistic", \
"identity"}, default="relu"
        Activation after each hidden layer. The code and the output layer are
        never activated (the output goes through a sigmoid for ``loss="bce"``).

    image_shape : tuple of int, default=None
        ``(channels, height, width)`` or ``(height, width)`` of the images
        whose flattened pixels are the rows of ``X``; ``"conv"`` only. ``None``
        means a single-channel square image when ``n_features`` is a perfect
        square, otherwise a one-row signal ``(1, 1, n_features)``.

    module_kwargs : dict, default=None
        Keyword arguments for a custom ``architecture`` module.

    variational : bool, default=False
        Train a variational autoencoder: the encoder gives a mean and a
        log-variance per component, codes are sampled while training and the
        objective adds ``beta`` times the KL divergence from a standard normal
        prior. :meth:`transform` returns the mean, so it is deterministic.

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
        of a sigmoid output, averaged over features. ``"bce"`` needs inputs in
        [0, 1] after scaling; with ``scaling="auto"`` they are min-max scaled.
        Training and scoring use the same definition.

    scaling : {"auto", "standard", "minmax"} or None, default="auto"
        Per-feature scaling applied before the network and undone by
        :meth:`inverse_transform`: ``"standard"`` removes the mean and divides
        by the standard deviation, ``"minmax"`` maps the training range to
        [0, 1], ``None`` uses ``X`` as it is. ``"auto"`` is ``"standard"`` for
        ``loss="mse"`` and ``"minmax"`` for ``loss="bce"``. Constant features
        are centred and left unscaled."""

TRAINING_PARAMETERS = """\
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
        ``n_iter_no_change`` epochs; the weights of the best epoch are kept.
        When ``False``, training stops by the same rule on the training loss.

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

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split and
        the noise. An int makes ``fit`` reproducible bit for bit on CPU.
        ``None`` draws a fresh seed from the operating system at each fit.
        Unlike most scikit-learn estimators, ``None`` does not draw from
        numpy's global random state: fitting leaves the global numpy and
        torch random states exactly as they were.

    verbose : int, default=0
        ``0`` prints nothing; ``1`` or more prints a line per epoch (loss,
        validation loss, duration) and early stopping's message."""

FITTED_ATTRIBUTES = """\
net_ : skae._net.AutoencoderNet
        The trained skorch net; ``net_.module_`` is the torch module.

    n_components_ : int
        Size of the code.

    center_ : ndarray of shape (`n_features_in_`,)
        Per-feature value subtracted before the network (the mean for
        standard scaling, the minimum for min-max scaling, zeros without).

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
        Highest validation score, when ``early_stopping=True``.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`. Defined only when `X`
        has feature names that are all strings."""
