"""The estimators' docstrings agree with their code: every parameter is
documented with its true default, every fitted attribute is documented, and
``__init__`` is written out in the estimator's own class body."""

import ast
import inspect
import textwrap

import numpy as np
import pytest
from numpydoc.docscrape import ClassDoc

from skae import AutoencoderImputer, AutoencoderOutlierDetector, AutoencoderTransformer

ESTIMATORS = (AutoencoderTransformer, AutoencoderOutlierDetector, AutoencoderImputer)


def _documented(Estimator, section):
    return {item.name: item for item in ClassDoc(Estimator)[section]}


def _documented_default(type_line):
    """The text after ``default=`` in a numpydoc type line, or ``None``."""
    _, found, default = type_line.rpartition(", default=")
    return default if found else None


def _literal(source):
    """The value of a literal, or of ``np.nan`` (the imputers' default
    ``missing_values``), from its text or its AST node."""
    text = source if isinstance(source, str) else ast.unparse(source)
    return float("nan") if text == "np.nan" else ast.literal_eval(text)


def _as_repr(text):
    """``repr`` of the value a documented default stands for: ``"auto"`` and
    ``'auto'``, ``1e-4`` and ``0.0001`` read the same."""
    return repr(_literal(text))


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_every_parameter_is_documented_with_its_default(Estimator):
    documented = _documented(Estimator, "Parameters")
    signature = inspect.signature(Estimator).parameters
    assert list(documented) == list(signature)
    for name, parameter in signature.items():
        default = _documented_default(documented[name].type)
        assert default is not None, f"{name}: no default= in its type line"
        assert _as_repr(default) == repr(parameter.default), name


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_init_is_written_out(Estimator):
    # Defined in the class body, not built at run time: its source lists the
    # parameters of the signature, in order, with the same defaults.
    assert "__init__" in vars(Estimator)
    source = textwrap.dedent(inspect.getsource(vars(Estimator)["__init__"]))
    arguments = ast.parse(source).body[0].args
    written = {
        argument.arg: _literal(default)
        for argument, default in zip(
            arguments.args[1:] + arguments.kwonlyargs,
            arguments.defaults + arguments.kw_defaults,
            strict=True,
        )
    }
    signature = inspect.signature(Estimator).parameters
    assert list(written) == list(signature)
    assert [arg.arg for arg in arguments.args[1:]] == ["n_components"]
    for name, parameter in signature.items():
        assert repr(written[name]) == repr(parameter.default), name


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_every_fitted_attribute_is_documented(Estimator):
    X = np.random.RandomState(0).normal(size=(40, 4))
    fitted = Estimator(n_components=2, max_iter=2, random_state=0).fit(X)
    attributes = {
        name for name in vars(fitted) if name.endswith("_") and not name.startswith("_")
    }
    documented = _documented(Estimator, "Attributes")
    assert attributes <= set(documented)
    assert list(documented)[-2:] == ["n_features_in_", "feature_names_in_"]
