"""Outlier detection by autoencoder reconstruction error."""

import math
import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.base import OutlierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from skae._base import _BaseAutoencoder
from skae._blocks import take_rows
from skae._inference import NonFiniteOutputError
from skae._losses import feature_errors, output_to_data, row_means
from skae._utils import (
    Count,
    check_partial_fit,
    check_random_state,
    restore_on_failure,
)

#: Weight of the code term in the score, relative to the reconstruction
#: term: both are measured in units of their interquartile range over the
#: training rows.
_CODE_WEIGHT = 1.5
#: Variance added to each component of the code density, in units of the
#: codes' standard deviation: it keeps components broad.
_CODE_REG_COVAR = 0.1
#: Most rows the code density is fitted on (evenly spaced among the
#: reference rows).
_CODE_MAX_FIT_ROWS = 2_000
#: Spread of scores, relative to their size, below which they are tied: far
#: above rounding errors of float32 scores (about 1e-6), far below the
#: spread of the scores of a model of varied data.
_TIE_MARGIN = 1e-4
#: Smallest variance the score divides by, relative to the variance of what
#: it measures: a standard deviation of 1e-5 of the data's. float32 rounding
#: errors of values of the data's size are about 1e-7 of it, so their
#: squares add at most 1e-4 to a feature's term; the variance of the
#: outputs of a model that has barely begun to train can be 1e-7 of the
#: data's, and is not rounding.
_RELATIVE_FLOOR = 1e-10


class AutoencoderOutlierDetector(OutlierMixin, _BaseAutoencoder):
    """Outlier detection by the reconstruction error of an autoencoder.

    An autoencoder trained on (mostly normal) data reconstructs normal samples
    well and unusual ones badly. The score of a sample (see
    :meth:`score_samples`) is minus the sum of three terms, each measured
    against its size on normal rows:

    - the reconstruction error: each feature's error divided by its typical
      size (``error_scale_``), averaged over features;
    - how unusual the reconstruction is: the squared distance of each
      feature's reconstruction from its typical value (``output_center_``)
      divided by its variance (``output_scale_``), averaged over features.
      Outliers that the network rebuilds well, such as a cluster of them in
      the training data, are rebuilt to values that normal rows do not take;
    - how unlikely the sample's code is under a mixture of Gaussians fitted to
      the codes of the training rows (``code_density_``), put on the scale of
      the first two terms (``code_factor_``); zero with
      ``density_components=None``.

    :meth:`feature_errors` gives the first two terms feature by feature. As
    for :class:`~sklearn.ensemble.IsolationForest`, higher scores are more
    normal, :meth:`decision_function` is negative for outliers and
    :meth:`predict` returns -1 for outliers and +1 for inliers.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    n_components : int or None, default=None
        Size of the code. ``None`` uses ``max(1, n_features // 2)``, half the
        number of features.

    contamination : "auto" or float, default="auto"
        Expected proportion of outliers in the training data, which sets the
        threshold ``offset_`` on the scores:

        - a float in (0, 0.5]: ``offset_`` is that quantile of the training
          scores, so that fraction of the training data is predicted as
          outliers;
        - ``"auto"``: Tukey's rule on the training scores, ``offset_ = Q1 -
          1.5 * (Q3 - Q1)`` (Q1, Q3: quartiles of the scores). A sample is an
          outlier when its score lies further below the lower quartile of the
          training scores than 1.5 interquartile ranges, whatever the
          fraction of such samples.

        The fraction of training rows left out when the scales of the score
        are learned (see ``error_scale_``) is ``contamination``, 0.1 for
        ``"auto"``.

    density_components : int or None, default=8
        Number of Gaussians in the density of the codes. After training, a
        mixture of that many Gaussians (diagonal covariances) is fitted to
        the standardised codes of the training rows, and the score adds how
        unlikely a sample's code is under it: an outlier that the network
        rebuilds well but whose code lies where training codes are rare is
        found too. Components that hold less than ``0.5 /
        density_components`` of the rows are left out of the density, so that
        a small cluster of outliers in the training data does not make itself
        normal. ``None`` scores by the reconstruction alone, as does a fit on
        a single row.

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
        ``None`` means, for ``"residual"``, one hidden layer of
        ``max(n_components, 16, min(128, 2 * n_features))`` units: small
        branches for small tabular data, about twice as wide as the data and
        never narrower than the code. For ``"mlp"`` it means ``(128, 64)``,
        for ``"conv"`` ``(32, 64)``, and for ``"linear"``, which accepts no
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
        ``"auto"`` is ``"minmax"`` for ``loss="bce"`` and ``"standard"`` for
        ``loss="mse"``: every feature counts the same in the score, whatever
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
    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function =
        score_samples - offset_``.

    error_scale_ : ndarray of shape (`n_features_in_`,)
        Typical reconstruction error of each feature, which the score divides
        it by: its mean over the reference rows, raised to at least 1% of its
        mean over features, so that a feature rebuilt perfectly (a constant
        one) does not dominate the score. The reference rows are those held
        out for early stopping, or all training rows when fewer than 20 are
        (for :meth:`partial_fit`, the rows of the last call), at most 10,000
        of them evenly spaced, without a
        fraction ``contamination`` (0.1 for ``"auto"``) of them that look most
        like outliers.

    output_center_ : ndarray of shape (`n_features_in_`,)
        Mean reconstruction of each feature on the reference rows, in the
        units the network sees (after scaling).

    output_scale_ : ndarray of shape (`n_features_in_`,)
        Variance of each feature's reconstruction on the reference rows, with
        the same floor as ``error_scale_``.

    code_center_ : ndarray of shape (n_code,) or None
        Mean of the codes of the training rows, which the code term subtracts
        (``n_code``: the number of values in a code). ``None`` with
        ``density_components=None`` or a single training row, as the other
        ``code_`` attributes.

    code_scale_ : ndarray of shape (n_code,) or None
        Standard deviation of those codes, which the code term divides by.

    code_density_ : :class:`~sklearn.mixture.GaussianMixture` or None
        The mixture fitted to the standardised codes of the training rows (at
        most 2,000 of them, evenly spaced).

    code_weights_ : ndarray of shape (n_mixture_components,) or None
        Weight of each component of ``code_density_`` in the score: its
        ``weights_``, with those below ``0.5 / density_components`` set to
        zero (the largest is always kept).

    code_nll_center_ : float or None
        Median over the training rows of the negative log-density of their
        codes, which the code term subtracts.

    code_factor_ : float or None
        Weight of the code term: 1.5 times the interquartile range of the
        reconstruction term over the training rows, divided by that of the
        negative log-density (zero when the latter is zero).

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

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    AutoencoderTransformer : Dimensionality reduction with an autoencoder.
    sklearn.ensemble.IsolationForest : Isolation-based outlier detection.
    sklearn.neighbors.LocalOutlierFactor : Density-based outlier detection.

    Notes
    -----
    With ``variational=True`` the score is computed from the mean of the code
    (not the evidence lower bound), so scores are deterministic.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import AutoencoderOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> t = rng.uniform(-3, 3, size=(300, 1))
    >>> X = np.hstack([t, np.sin(t), np.cos(t)]) + 0.05 * rng.normal(size=(300, 3))
    >>> X_outliers = rng.uniform(-3, 3, size=(5, 3))
    >>> det = AutoencoderOutlierDetector(n_components=1, contamination=0.05,
    ...                                  random_state=0).fit(X)
    >>> det.predict(X_outliers)
    array([-1, -1, -1, -1, -1])
    >>> bool(det.score_samples(X[:5]).mean() > det.score_samples(X_outliers).mean())
    True

    Every network of :class:`AutoencoderTransformer` works here too, e.g. a
    denoising variational one:

    >>> vae = AutoencoderOutlierDetector(n_components=1, variational=True,
    ...                                  noise=0.1, max_iter=20,
    ...                                  random_state=0).fit(X)
    >>> vae.predict(X_outliers[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **_BaseAutoencoder._parameter_constraints,
        "n_components": [Count(1), None],
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
        "density_components": [Count(1), None],
    }

    def __init__(
        self,
        n_components=None,
        *,
        contamination="auto",
        density_components=8,
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
        self.contamination = contamination
        self.density_components = density_components

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder and the outlier threshold on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, possibly holding a fraction ``contamination`` of
            outliers.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with restore_on_failure(self):
            X = self._check_data(X, reset=True)
            held_out = self._fit(X)
            self._fit_score_scales(_reference_rows(X, held_out))
            self._fit_code_density(_reference_rows(X, None))
            self._set_offset(X)
        return self

    @available_if(lambda estimator: check_partial_fit(estimator))
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train on ``X`` for one pass, going on from the current model.

        As :meth:`AutoencoderTransformer.partial_fit`: one epoch over the
        rows given, the network kept between calls, the scaling fixed by the
        first call; available with ``early_stopping=False`` only. After each
        call, the code density and ``offset_`` are set from the rows of that
        call under the updated model (``offset_`` by the rule of
        ``contamination``): they follow the model as it trains. Pass chunks
        of a few hundred rows or more, so that their density and quantile
        are stable.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, possibly holding a fraction ``contamination`` of
            outliers. The first call fixes ``n_features_in_``.

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
            self._fit_score_scales(_reference_rows(X, None))
            self._fit_code_density(_reference_rows(X, None))
            self._set_offset(X)
        return self

    def _fit_score_scales(self, X):
        """Learn the typical size of each term of the score from rows ``X``.

        ``X`` are rows the network did not train on when there are any (the
        validation rows of early stopping), so that the scales are those of
        new normal data, not of rows the network may have memorised. A
        fraction ``contamination`` of the rows (0.1 for ``"auto"``), which
        may be outliers, is left out: those with the largest reconstruction
        errors, then those that score worst. Each scale gets a floor (see
        :func:`_with_floor`): 1% of its mean over features, so that a
        feature that is always rebuilt perfectly (a constant one) does not
        dominate the score, and 1e-10 of the mean variance of the scaled
        rows, so that rounding errors do not when all features are rebuilt
        perfectly (constant training data).
        """
        loss = self.loss
        n_features = self.n_features_in_

        def terms(module, x):
            output = module.decode(module.encode(x))
            return torch.cat(
                [feature_errors(output, x, loss), output_to_data(output, loss)], dim=1
            ).to(torch.float64)

        values = self._predict(X, terms)
        errors, outputs = values[:, :n_features], values[:, n_features:]
        # What the network sees, in float64: the reference of the floors.
        variance = np.mean(((X - self.center_) / self.scale_).var(axis=0))
        fraction = 0.1 if self.contamination == "auto" else self.contamination
        n_kept = max(1, len(X) - math.ceil(fraction * len(X)))
        # First without the rows rebuilt worst, then without the rows that
        # score worst by those scales: outliers that the network rebuilds
        # well (a cluster of them, say) have unusual reconstructions.
        abnormality = errors.mean(axis=1)
        for _ in range(2):
            kept = np.argsort(abnormality, kind="stable")[:n_kept]
            error_scale = _with_floor(errors[kept].mean(axis=0), variance)
            output_center = outputs[kept].mean(axis=0)
            output_scale = _with_floor(outputs[kept].var(axis=0), variance)
            abnormality = (
                errors / error_scale + (outputs - output_center) ** 2 / output_scale
            ).mean(axis=1)
        self.error_scale_ = error_scale
        self.output_center_ = output_center
        self.output_scale_ = output_scale

    def score_samples(self, X):
        """Compute the score of each sample: lower is more abnormal.

        Minus the sum of three terms, whose scales are learned on normal
        rows (see the attributes):

        - the reconstruction error: the mean over features of each feature's
          error divided by its typical size (``error_scale_``);
        - how unusual the reconstruction is: the mean over features of the
          squared distance of each feature's reconstruction from its typical
          value (``output_center_``) divided by its variance
          (``output_scale_``);
        - the code term, ``code_factor_ * (nll - code_nll_center_)``, where
          ``nll`` is the negative log-density of the sample's standardised
          code under the components of ``code_density_`` weighted by
          ``code_weights_``; it is zero with ``density_components=None``.

        :meth:`feature_errors` gives the first two terms feature by feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher is more normal.
        """
        return super().score_samples(X)

    def feature_errors(self, X):
        """The score's terms, feature by feature: why a sample is an outlier.

        For each feature, the sum of the first two terms of
        :meth:`score_samples` before they are averaged over features: the
        reconstruction error relative to its typical size, plus how unusual
        the reconstruction is. Large
        values point at the features that make a sample an outlier. Minus
        the sample's score is the mean of its row plus the code term, which
        belongs to no feature (to float64 rounding; with
        ``density_components=None`` the code term is zero, and the mean is
        minus the score).

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
        return super().feature_errors(X)

    def _feature_errors(self, X):
        """The score's terms, feature by feature (float64): the squared
        reconstruction error relative to its typical size, plus the squared
        distance of the reconstruction from its typical value relative to its
        spread."""
        return self._predict(X, self._score_terms()).astype(np.float64, copy=False)

    def _score_samples(self, X):
        terms = self._score_terms()
        code_term = self._code_term()

        def scores(module, x):
            code = module.encode(x)
            values = row_means(terms(module, x, code))
            if code_term is not None:
                values += code_term(code).to(values.device)
            return -values

        return self._predict(X, scores)

    def _score_terms(self):
        """``terms(module, x, code=None)``: the reconstruction term for each
        feature of each scaled row of ``x``, in the precision of ``x`` (their
        means over features are taken in float64); ``code`` is the code of
        ``x`` when it is already computed."""
        loss = self.loss
        scales = {
            dtype: [
                torch.as_tensor(values, dtype=dtype, device=self.net_.device)
                for values in (
                    self.error_scale_,
                    self.output_center_,
                    self.output_scale_,
                )
            ]
            for dtype in (torch.float32, torch.float64)
        }

        def terms(module, x, code=None):
            error_scale, output_center, output_scale = scales[x.dtype]
            output = module.decode(module.encode(x) if code is None else code)
            errors = feature_errors(output, x, loss).div_(error_scale)
            outputs = output_to_data(output, loss)
            return errors.add_((outputs - output_center).square_().div_(output_scale))

        return terms

    def _fit_code_density(self, X):
        """Fit the code density and the weight of its term on rows ``X``.

        The codes are standardised feature by feature, and a mixture of
        Gaussians with diagonal covariances is fitted to at most
        ``_CODE_MAX_FIT_ROWS`` of them. The code term is then put on the
        scale of the reconstruction term: both are divided by their
        interquartile range over ``X`` and the code term weighted by
        ``_CODE_WEIGHT``.
        """
        names = ("center", "scale", "density", "weights", "nll_center", "factor")
        if self.density_components is None or len(X) < 2:
            for name in names:
                setattr(self, f"code_{name}_", None)
            return
        codes = np.asarray(self._encode(X), dtype=np.float64).reshape(len(X), -1)
        if not np.isfinite(codes).all():
            raise self._diverged("the trained network outputs inf or NaN codes")
        self.code_center_ = codes.mean(axis=0)
        self.code_scale_ = np.sqrt(_with_floor(codes.var(axis=0), np.mean(codes**2)))
        standardized = (codes - self.code_center_) / self.code_scale_
        fit_rows = standardized
        if len(fit_rows) > _CODE_MAX_FIT_ROWS:
            every = np.linspace(0, len(fit_rows) - 1, _CODE_MAX_FIT_ROWS)
            fit_rows = fit_rows[every.astype(int)]
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        density = GaussianMixture(
            n_components=min(self.density_components, len(fit_rows)),
            covariance_type="diag",
            reg_covar=_CODE_REG_COVAR,
            random_state=seed,
        )
        with warnings.catch_warnings():
            # Too few EM steps still give a usable density for a score.
            warnings.simplefilter("ignore", ConvergenceWarning)
            density.fit(fit_rows)
        weights = density.weights_.copy()
        largest = np.argmax(weights)
        weights[weights < 0.5 / self.density_components] = 0.0
        weights[largest] = density.weights_[largest]
        self.code_density_ = density
        self.code_weights_ = weights
        self.code_nll_center_, self.code_factor_ = 0.0, 1.0
        nll = self._code_term()(torch.from_numpy(codes)).numpy()
        terms = self._score_terms()
        reconstruction = self._predict(X, lambda module, x: row_means(terms(module, x)))
        nll_spread = np.subtract(*np.percentile(nll, [75, 25]))
        spread = np.subtract(*np.percentile(reconstruction, [75, 25]))
        self.code_nll_center_ = float(np.median(nll))
        self.code_factor_ = (
            float(_CODE_WEIGHT * spread / nll_spread) if nll_spread > 0 else 0.0
        )

    def _code_term(self):
        """``term(code)``: the code term of the score of each code (float64,
        on the codes' device), or ``None`` without a code density."""
        if getattr(self, "code_density_", None) is None:
            return None
        kept = self.code_weights_ > 0
        means = self.code_density_.means_[kept]
        precisions = 1.0 / self.code_density_.covariances_[kept]
        # log(weight) + the log-normaliser of each Gaussian, and the parts of
        # the squared Mahalanobis distance that do not depend on the code.
        constants = (
            np.log(self.code_weights_[kept])
            + 0.5 * np.log(precisions / (2 * np.pi)).sum(axis=1)
            - 0.5 * (means**2 * precisions).sum(axis=1)
        )
        arrays = {
            "center": self.code_center_,
            "scale": self.code_scale_,
            "precisions": precisions.T,
            "linear": (means * precisions).T,
            "constants": constants,
        }
        tensors = {}
        center, factor = self.code_nll_center_, self.code_factor_

        def term(code):
            device = code.device
            if device not in tensors:
                tensors[device] = {
                    name: torch.as_tensor(values, dtype=torch.float64, device=device)
                    for name, values in arrays.items()
                }
            t = tensors[device]
            z = code.reshape(len(code), -1).to(torch.float64)
            z = (z - t["center"]) / t["scale"]
            log_densities = (
                t["constants"] + z @ t["linear"] - 0.5 * (z * z) @ t["precisions"]
            )
            return factor * (-torch.logsumexp(log_densities, dim=1) - center)

        return term

    def _set_offset(self, X):
        """``offset_`` from the scores of the training rows ``X``."""
        try:
            scores = self._score_samples(X)
        except NonFiniteOutputError:
            raise self._diverged(
                "the trained network outputs inf or NaN on training rows"
            ) from None
        q1, q3 = np.percentile(scores, [25, 75])
        if self.contamination == "auto":
            offset = q1 - 1.5 * (q3 - q1)
        else:
            offset = np.percentile(scores, 100.0 * self.contamination)
        # Half the training rows or more score the same but for rounding
        # errors (constant data): the offset would fall among their scores,
        # and rounding, which changes with the rows scored together and
        # their dtype, would decide which of them are outliers. It goes
        # below them by more than rounding errors.
        margin = _TIE_MARGIN * max(1.0, abs(offset))
        if q3 - q1 <= margin:
            offset = min(offset, q1 - margin)
        self.offset_ = float(offset)

    def decision_function(self, X):
        """Score shifted by the threshold: negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Predict whether each sample is an outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to classify.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            -1 for outliers, +1 for inliers.
        """
        check_is_fitted(self)
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _default_hidden_layer_sizes(self, n_features, n_components):
        if self.architecture == "residual":
            # Small branches for small tabular data: about twice as wide as
            # the data, never narrower than the code.
            return (max(n_components, 16, min(128, 2 * n_features)),)
        return None

    def _resolve_n_components(self, n_features):
        if self.n_components is None:
            return max(1, n_features // 2)
        return self.n_components


def _with_floor(scales, reference):
    """``scales`` (variances, or squared errors) raised to at least 1% of
    their mean, and to at least ``_RELATIVE_FLOOR`` times ``reference``.

    ``reference`` is a variance the scales are small or large relative to:
    the mean variance of the data as the network sees them, or the mean
    square of the codes. It keeps the floor above rounding errors where all
    scales are themselves at the level of rounding errors (constant data
    rebuilt exactly): relative to those alone, a row's score would depend
    on the other rows of its batch, whose number changes how matrix
    products round. Where ``reference`` is zero too (every feature
    constant, every code zero), the floor is ``_RELATIVE_FLOOR`` in the
    units the network sees, those of the data for the unscaled constant
    features.
    """
    if not reference > 0:
        reference = 1.0
    floor = max(0.01 * scales.mean(), _RELATIVE_FLOOR * reference)
    return np.maximum(scales, floor)


#: Fewest and most rows the scales of the score are estimated from.
_MIN_REFERENCE_ROWS, _MAX_REFERENCE_ROWS = 20, 10_000


def _reference_rows(X, held_out):
    """The rows to learn the scales of the score from: those held out, or
    all when fewer than ``_MIN_REFERENCE_ROWS`` were, evenly thinned to at
    most ``_MAX_REFERENCE_ROWS``."""
    if held_out is None or len(held_out) < _MIN_REFERENCE_ROWS:
        rows = np.arange(len(X))
    else:
        rows = held_out
    if len(rows) > _MAX_REFERENCE_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, _MAX_REFERENCE_ROWS).astype(int)]
    return take_rows(X, rows)
