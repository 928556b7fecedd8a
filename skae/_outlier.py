"""Outlier detection by autoencoder reconstruction error."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skae._base import _BaseAutoencoder
from skae._blocks import take_rows
from skae._callbacks import diverged
from skae._inference import NonFiniteOutputError
from skae._losses import feature_errors, output_to_data, row_means
from skae._missing import has_missing, mask_missing, observed_row_means
from skae._outlier_score import (
    CodeTerm,
    ReconstructionTerm,
    Threshold,
    calibrates_apart,
    conformal_pvalues,
    reference_rows,
    scaled_variance,
)
from skae._start import components_keeping
from skae._utils import (
    Count,
    check_partial_fit,
    check_random_state,
    explained_available_if,
    restore_on_failure,
)

#: With ``n_components=None``, the code keeps at least this share of the
#: variance of the scaled training rows, as ``PCA(n_components=0.9)`` does.
VARIANCE_KEPT = 0.9


class AutoencoderOutlierDetector(OutlierMixin, _BaseAutoencoder):
    """Outlier detection by the reconstruction error of an autoencoder.

    An autoencoder trained on (mostly normal) data reconstructs normal samples
    well and unusual ones badly. The score of a sample (see
    :meth:`score_samples`) is minus the sum of three terms, each measured
    against its size on normal rows:

    - the reconstruction error: each feature's error divided by its typical
      size, averaged over features;
    - how unusual the reconstruction is: the squared distance of each
      feature's reconstruction from its typical value divided by its
      variance, averaged over features (both in ``reconstruction_term_``).
      Outliers that the network rebuilds well, such as a cluster of them in
      the training data, are rebuilt to values that normal rows do not take;
    - how unlikely the sample's code is under a mixture of Gaussians fitted to
      the codes of the training rows, put on the scale of the first two terms
      (``code_term_``); zero with ``density_components=None``.

    :meth:`feature_errors` gives the first two terms feature by feature. As
    for :class:`~sklearn.ensemble.IsolationForest`, higher scores are more
    normal, :meth:`decision_function` is negative for outliers and
    :meth:`predict` returns -1 for outliers and +1 for inliers.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    n_components : int or None, default=None
        Size of the code. ``None`` uses ``max(1, n_features // 2)``, and
        for the networks that start at PCA's solution
        (``architecture="residual"`` with ``loss="mse"``, the defaults) the
        larger of that and the number of principal components that keep
        90% of the variance of the rows the start is computed on, as the
        network sees them (what ``PCA(n_components=0.9)`` keeps; the
        calibration rows left out when they are apart, see
        ``calibration_scores_``; missing cells at their feature's mean):
        half the features, or more where the variance is spread over more
        directions than that. Other networks compute no decomposition.

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
        are learned (see ``reconstruction_term_``) is ``contamination``, 0.1 for
        ``"auto"``.

    false_positive_rate : float in (0, 1) or None, default=None
        Largest share of new normal rows that :meth:`predict` may flag as
        outliers. When set, ``offset_`` is chosen from the scores of the
        calibration rows (``calibration_scores_``) so that a row is an
        outlier exactly when its p-value (see :meth:`pvalues`) is at most
        ``false_positive_rate``; ``contamination`` then only sets the share
        of rows left out when the scales of the score are learned. If the
        calibration rows are normal rows like the new ones, the expected
        share of new normal rows flagged is at most ``false_positive_rate``
        (a conformal guarantee), and close to it with a few hundred
        calibration rows or more. With fewer than ``1 / false_positive_rate
        - 1`` calibration rows no row is flagged, with a warning. ``None``
        sets ``offset_`` by ``contamination``.

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
        stop when the loss on the held-out rows it monitors (those that do
        not calibrate, see ``validation_fraction``) has not improved by at
        least ``tol`` for ``n_iter_no_change`` epochs; the weights of the
        best epoch are kept
        (for ``architecture="residual"``, its starting weights, PCA's, when
        no epoch improves on them). When ``False``, training stops by the
        same rule on the training loss.

    validation_fraction : float, default=0.1
        Fraction of the training data held out from training when
        ``early_stopping=True``. With at least 40 rows held out, every other
        one (at most 10,000, evenly spaced) calibrates ``false_positive_rate``
        and :meth:`pvalues` (see ``calibration_scores_``); early stopping
        monitors the others, which also give the scales of the score. With
        20 to 39, early stopping monitors all of them, and all of them give
        the scales and calibrate; with fewer, the training rows do.

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
        score_samples - offset_``. Set by ``contamination`` from the scores
        of the training rows, or by ``false_positive_rate`` from
        ``calibration_scores_``. Set ``false_positive_rate`` rather than
        this attribute to choose the threshold: a value set by hand is used
        by :meth:`decision_function` and :meth:`predict` until the next fit,
        but it is not validated.

    calibration_scores_ : ndarray of shape (n_calibration,)
        Sorted scores of the calibration rows, which :meth:`pvalues` compares
        new scores with and ``false_positive_rate`` sets ``offset_`` from:
        half of the rows held out from training (``validation_fraction``),
        chosen at random, which nothing is fitted or chosen on: not the
        network, its PCA start, the epoch early stopping keeps, nor the
        score (the other half is what early stopping monitors and gives the
        scales of ``reconstruction_term_``); only the feature scaling's
        statistics and, for data with missing cells, the features' means
        that first fill them include them. With 20 to 39 rows
        held out, too few to halve, all of them (they then also give the
        scales, the PCA start includes them and early stopping monitors
        them); all training rows when
        fewer than 20 are held out (with ``early_stopping=False``, and for
        :meth:`partial_fit` the rows of the last call). At most
        10,000 of them, evenly spaced. Rows the network or the score was
        fitted on score better than new rows, which makes p-values from
        them too small (more normal rows flagged than asked).

    reconstruction_term_ : object
        The reconstruction term of the score (see :meth:`score_samples`),
        with its learned scales as arrays of shape (`n_features_in_`,), in
        the units the network sees (after scaling):

        - ``error_scale_``: the typical reconstruction error of each
          feature, which the term divides it by: its mean over the reference
          rows, raised to at least 1% of its mean over features, so that a
          feature rebuilt perfectly (a constant one) does not dominate;
        - ``output_center_``: the mean reconstruction of each feature;
        - ``output_scale_``: the variance of each feature's reconstruction,
          with the same floor as ``error_scale_``.

        The reference rows are half of the rows held out for early stopping
        (the other half calibrates, see ``calibration_scores_``); all of
        them when 20 to 39 are held out; all training rows when fewer than
        20 are (for :meth:`partial_fit`, the rows of the last call); at
        most 10,000 of
        them evenly spaced, without a fraction ``contamination`` (0.1 for
        ``"auto"``) of them that look most like outliers.

    code_term_ : object or None
        The code term of the score; ``None`` with
        ``density_components=None`` or a single training row. Its
        attributes:

        - ``center_``, ``scale_``: mean and standard deviation of the codes
          of the training rows, which standardise the codes;
        - ``density_``: the :class:`~sklearn.mixture.GaussianMixture` fitted
          to the standardised codes of the rows the network trained on (at
          most 2,000 of them, evenly spaced);
        - ``kept_``: boolean mask of the components kept in the score, those
          whose weight is at least ``0.5 / density_components`` (the largest
          is always kept);
        - ``nll_center_``: median over the training rows of the negative
          log-density of their codes under the kept components, which the
          term subtracts;
        - ``factor_``: the weight of the term, 1.5 times the interquartile
          range of the reconstruction term over the training rows divided by
          that of the negative log-density (zero when the latter is zero).

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
        Negative loss on the validation data at each epoch (the held-out
        rows that do not calibrate, see ``validation_fraction``), when
        ``early_stopping=True``; otherwise ``None``.

    best_validation_score_ : float or None
        Validation score of the weights kept, when ``early_stopping=True``:
        the highest of ``validation_scores_``, or that of the starting
        weights when they were kept.

    n_fill_passes_ : int
        Passes of the network that fill the missing cells (NaN) of a row
        before it is encoded, each feeding the last fill back in, after a
        first fill with the features' means (0: the means alone). Counted
        at ``fit`` on the held-out rows early stopping monitors, as the number
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
        "false_positive_rate": [Interval(Real, 0, 1, closed="neither"), None],
        "density_components": [Count(1), None],
    }

    def __init__(
        self,
        n_components=None,
        *,
        contamination="auto",
        false_positive_rate=None,
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
        self.false_positive_rate = false_positive_rate
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
            scale_rows, calibration_rows, density_rows = (
                take_rows(X, rows) for rows in reference_rows(len(X), held_out)
            )
            self._fit_score(scale_rows, density_rows)
            self._set_offset(X, calibration_rows)
        return self

    @explained_available_if(check_partial_fit)
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
            rows = take_rows(X, reference_rows(len(X), None)[0])
            self._fit_score(rows, rows)
            self._set_offset(X, rows)
        return self

    def _fit_score(self, scale_rows, density_rows):
        """Fit the terms of the score (see :mod:`skae._outlier_score`).

        The reconstruction term learns its scales on ``scale_rows``: rows the
        network did not train on when there are any (the validation rows of
        early stopping), so that the scales are those of new normal data,
        not of rows the network may have memorised. A fraction
        ``contamination`` of them (0.1 for ``"auto"``), which may be
        outliers, is left out. The code term is fitted on ``density_rows``.
        """
        loss = self.loss
        n_features = self.n_features_in_

        def errors_and_outputs(module, x, observed=None):
            output = module.decode(module.encode(x))
            return torch.cat(
                [feature_errors(output, x, loss), output_to_data(output, loss)], dim=1
            ).to(torch.float64)

        values = self._predict(scale_rows, errors_and_outputs)
        if has_missing(scale_rows):
            # The scales are those of observed cells only, as scores are.
            values = mask_missing(values, np.hstack([scale_rows, scale_rows]))
        # The reference of the floors.
        variance = scaled_variance(scale_rows, self.center_, self.scale_)
        fraction = 0.1 if self.contamination == "auto" else self.contamination
        self.reconstruction_term_ = ReconstructionTerm(loss).fit(
            values[:, :n_features], values[:, n_features:], variance, fraction
        )
        del values
        self.code_term_ = None
        if self.density_components is None or len(density_rows) < 2:
            return
        codes = np.asarray(self._encode(density_rows), dtype=np.float64)
        codes = codes.reshape(len(density_rows), -1)
        terms = self.reconstruction_term_.per_feature(self.net_.device)
        reconstruction = self._predict(density_rows, _row_means_of(terms))
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self.code_term_ = CodeTerm(self.density_components, seed).fit(
            codes, reconstruction
        )

    def score_samples(self, X):
        """Compute the score of each sample: lower is more abnormal.

        Minus the sum of three terms, whose scales are learned on normal
        rows (see the attributes):

        - the reconstruction error: the mean over features of each feature's
          error divided by its typical size (``error_scale_`` of
          ``reconstruction_term_``);
        - how unusual the reconstruction is: the mean over features of the
          squared distance of each feature's reconstruction from its typical
          value (``output_center_``) divided by its variance
          (``output_scale_``);
        - the code term, ``factor_ * (nll - nll_center_)`` (attributes of
          ``code_term_``), where ``nll`` is minus the log-density of the
          sample's standardised code under the kept components of the
          mixture ``density_``; it is zero with
          ``density_components=None``.

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
        terms = self.reconstruction_term_.per_feature(self.net_.device)

        def per_feature(module, x, observed=None):
            return terms(module, x)

        values = self._predict(X, per_feature).astype(np.float64, copy=False)
        return mask_missing(values, X)

    def _score_samples(self, X):
        terms = self.reconstruction_term_.per_feature(self.net_.device)
        if self.code_term_ is None:
            return -self._predict(X, _row_means_of(terms))

        code_term = self.code_term_

        def scores(module, x, observed=None):
            code = module.encode(x)
            # A row with missing cells is scored on its observed cells: the
            # mean of their terms is on the scale of a complete row's. Its
            # code is that of the row filled by the network.
            values = terms(module, x, code)
            if observed is None:
                values = row_means(values).cpu()
            else:
                values = observed_row_means(values, observed).cpu()
            # The code term is scikit-learn's, in numpy, batch by batch: the
            # codes of all rows at once could take more memory than the data.
            codes = code.reshape(len(code), -1).to(torch.float64).cpu().numpy()
            return -(values + torch.from_numpy(code_term.score(codes)))

        return self._predict(X, scores)

    def _set_offset(self, X, calibration):
        """``offset_`` and ``calibration_scores_`` from the training rows
        ``X`` and the calibration rows."""
        try:
            scores = self._score_samples(X)
            calibration_scores = self._score_samples(calibration)
        except NonFiniteOutputError:
            raise diverged(
                self, "the trained network outputs inf or NaN on training rows"
            ) from None
        threshold = Threshold(self.contamination, self.false_positive_rate)
        threshold.fit(scores, calibration_scores)
        self.offset_ = threshold.offset_
        self.calibration_scores_ = threshold.calibration_scores_

    def pvalues(self, X):
        """Conformal p-value of each sample: small for outliers.

        The share of calibration rows (``calibration_scores_``) that score
        at or below the sample, counting the sample itself:
        ``(1 + m) / (n + 1)`` where ``m`` of the ``n`` calibration scores
        are at or below the sample's score. If the calibration rows and the
        sample are normal rows drawn alike, the p-value is uniform on
        ``{1/(n+1), ..., 1}``: ``P(pvalue <= a) <= a`` for every ``a``, so
        flagging the samples with ``pvalue <= a`` flags a share of at most
        ``a`` of normal rows on average (``false_positive_rate=a`` sets
        ``offset_`` to do exactly that). Outliers among the calibration rows
        make the p-values of normal rows larger, not smaller.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        pvalues : ndarray of shape (n_samples,)
            Values in ``[1 / (n + 1), 1]``; lower is more abnormal.
        """
        check_is_fitted(self)
        return conformal_pvalues(self.score_samples(X), self.calibration_scores_)

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

    def _rows_left_out(self, n_samples, index_valid):
        """The calibration rows, when they are apart: their scores stand for
        those of new rows only if no part of the model is fitted or chosen
        on them, the PCA start and the early-stopping epoch included."""
        held_out = None if index_valid is None else np.sort(index_valid)
        if not calibrates_apart(held_out):
            return None
        return reference_rows(n_samples, held_out)[1]

    def _resolve_n_components(self, n_features, decomposition):
        if self.n_components is not None:
            return self.n_components
        half = max(1, n_features // 2)
        if decomposition is None:
            return half
        return max(half, components_keeping(decomposition(), VARIANCE_KEPT))


def _row_means_of(terms):
    """The method that averages ``terms`` over the (observed) cells of each
    row."""

    def means(module, x, observed=None):
        if observed is None:
            return row_means(terms(module, x))
        return observed_row_means(terms(module, x), observed)

    return means
