"""Small helpers of the estimators: counts, random states, output
configuration, failure-safe fitting and methods that exist for some
parameters only."""

import copy
from contextlib import contextmanager
from functools import update_wrapper
from numbers import Integral
from types import MethodType

import numpy as np
from sklearn.utils import check_random_state as sklearn_check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils._set_output import _get_output_config


class Count(Interval):
    """An interval of integers that, unlike ``Interval(Integral, ...)``,
    rejects booleans: ``True`` is not a number of epochs or of components."""

    def __init__(self, left):
        super().__init__(Integral, left, None, closed="left")

    def is_satisfied_by(self, val):
        return not isinstance(val, bool | np.bool_) and super().is_satisfied_by(val)


def check_random_state(random_state):
    """Like scikit-learn's, but ``None`` never touches the global RNG.

    scikit-learn maps ``None`` to numpy's global ``RandomState`` and draws
    from it; here ``None`` means a generator seeded from fresh OS entropy, so
    fitting leaves the caller's global random state exactly as it was.
    """
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(1))
    return sklearn_check_random_state(random_state)


def fit_random_state(estimator, X, incremental):
    """The random state one ``fit``, or one ``partial_fit`` pass, draws from.

    ``fit`` starts from ``random_state``; with an accelerator of several
    processes, all of them draw the same numbers (see
    :func:`skae._distributed.shared_fit_setup`). A ``partial_fit`` pass goes
    on with a copy of the stream of the passes before it, which starts at
    ``random_state`` with the first pass after a ``fit`` (or none): the
    estimator keeps the copy only if the pass succeeds, so a pass that fails
    draws nothing from the stream.
    """
    if incremental:
        stream = getattr(estimator, "_partial_fit_rng", None)
        if stream is None:
            return check_random_state(estimator.random_state)
        return copy.deepcopy(stream)
    random_state = check_random_state(estimator.random_state)
    accelerator = estimator.accelerator
    if accelerator is not None and accelerator.num_processes > 1:
        from skae._distributed import shared_fit_setup

        random_state = shared_fit_setup(
            accelerator, X, random_state, estimator.random_state is not None
        )
    return random_state


def is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def pandas_output_configured(estimator):
    """Whether ``set_output`` or scikit-learn's config asks for pandas."""
    return _get_output_config("transform", estimator)["dense"] == "pandas"


def per_feature_output(estimator, values, X):
    """``values``, one column per feature of ``X``, as the user gets them.

    A pandas DataFrame, with the feature names as columns and the index of
    ``X``, when ``X`` is one or pandas output is configured; otherwise the
    ndarray ``values`` itself.
    """
    if not (is_dataframe(X) or pandas_output_configured(estimator)):
        return values
    import pandas as pd

    columns = getattr(estimator, "feature_names_in_", None)
    if columns is None:
        columns = [f"x{i}" for i in range(estimator.n_features_in_)]
    index = X.index if is_dataframe(X) else None
    return pd.DataFrame(values, columns=list(columns), index=index)


@contextmanager
def restore_on_failure(estimator, *, incremental=False):
    """Leave ``estimator`` as it was if the block raises, Ctrl-C included.

    A fit that fails or is interrupted must not leave a mix of old and new
    fitted attributes behind: the attributes fitted before (if any) are put
    back and those set by the failed fit are removed. With ``incremental``
    (``partial_fit``, which trains the fitted net in place), the net is
    restored too, in place; ``fit`` builds a new net and leaves the old one
    alone.
    """
    before = dict(vars(estimator))
    net = before.get("net_") if incremental else None
    net_before = None if net is None else copy.deepcopy(vars(net))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(before)
        if net is not None:
            vars(net).clear()
            vars(net).update(net_before)
        raise


def check_partial_fit(estimator):
    """``partial_fit`` is there only without early stopping and without an
    accelerator; say why not."""
    name = type(estimator).__name__
    if estimator.accelerator is not None:
        raise AttributeError(
            f"This {name!r} has no attribute 'partial_fit': "
            "partial_fit is not available with an accelerator: each fit "
            "trains in all processes and ends with a plain, unwrapped net."
        )
    if estimator.early_stopping:
        raise AttributeError(
            f"This {name!r} has no attribute 'partial_fit': "
            "partial_fit is available only with early_stopping=False: early "
            "stopping holds out validation rows of one fit and counts its "
            "epochs, which a stream of chunks does not have."
        )
    return True


class _ExplainedAvailableIf:
    """A method that exists only where ``check(estimator)`` raises nothing.

    As with scikit-learn's ``available_if``, ``hasattr(estimator, name)`` is
    False where the method makes no sense, and getting it raises an
    ``AttributeError``; here that error is the one ``check`` raises, so its
    message, the last line a user reads, says which parameter to change.
    On the class, the plain function is returned, for documentation.
    """

    def __init__(self, fn, check):
        self.fn = fn
        self.check = check
        update_wrapper(self, fn)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn
        self.check(obj)
        return MethodType(self.fn, obj)


def explained_available_if(check):
    """Decorate a method to exist only where ``check(estimator)`` does not
    raise; ``check`` raises the ``AttributeError`` that says why."""
    return lambda fn: _ExplainedAvailableIf(fn, check)


def check_variational(estimator):
    """``sample`` is there only for variational models; say why not."""
    if not estimator.variational:
        raise AttributeError(
            f"This {type(estimator).__name__!r} has no attribute 'sample': "
            "sample is not available when variational=False. Set "
            "variational=True and fit again to generate data."
        )
