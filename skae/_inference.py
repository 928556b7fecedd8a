"""Running a fitted network on numpy rows: batching, precision, scaling.

Every prediction of the estimators (codes, reconstructions, errors) goes
through :func:`predict`. Batches are sized from scikit-learn's
``working_memory`` budget, as scikit-learn sizes its own chunks. Calls never
modify the module, so a fitted estimator can serve several threads at once.
"""

import copy
import itertools
import warnings
import weakref

import numpy as np
import torch
from sklearn.utils._chunking import get_chunk_n_rows

from skae._blocks import release

# float64 copies of fitted float32 modules; see _float64_copy.
_FLOAT64_COPIES = weakref.WeakKeyDictionary()


def predict(module, X, method, *, device, values_per_row, scaling=None):
    """Apply ``method(module, batch)`` to the rows of ``X``, batch by batch.

    Parameters
    ----------
    module : torch.nn.Module
        The fitted float32 module, in evaluation mode. It is not modified.
    X : ndarray of shape (n_samples, n_columns)
        Validated float32 or float64 rows: data, or codes.
    method : callable
        ``method(module, batch)`` returning a tensor with one row, or one
        value, per row of ``batch``.
    device : str or torch.device
        Where ``module`` lives.
    values_per_row : int
        Number of values the network holds per row of input (activations of
        all its layers, see :func:`activation_values_per_row`); with the
        row's width and itemsize it sets the rows per batch from
        ``working_memory``.
    scaling : FeatureScaling, default=None
        Applied to each batch first, into one buffer reused by all batches:
        no scaled copy of ``X`` is made. ``None`` for codes.

    Returns
    -------
    result : ndarray
        The outputs of all batches, concatenated, of the dtype of ``X``.

    Raises
    ------
    NonFiniteOutputError
        If an output is NaN or infinite.

    Notes
    -----
    float32 rows run through the float32 module. float64 rows run through a
    float64 copy of it (see :func:`_float64_copy`): float32
    matrix products round differently with the number of rows, by about
    1e-7, whereas float64 results do not depend on how rows are batched, and
    float64 codes or data beyond the float32 range are not cast to inf.
    """
    if X.dtype == np.float64:
        module = _float64_copy(module)
    dtype = torch.float64 if X.dtype == np.float64 else torch.float32
    n_samples, n_columns = X.shape
    # Per row: the activations, the scaled input and one output as wide as
    # the data, and a float64 copy of it (per-feature errors summed in
    # float64).
    row_bytes = X.itemsize * (values_per_row + 2 * n_columns) + 8 * n_columns
    batch_rows = get_chunk_n_rows(row_bytes, max_n_rows=max(n_samples, 1))
    if scaling is not None:
        tensors = scaling.tensors(dtype, device)
        buffer = torch.empty((batch_rows, n_columns), dtype=dtype, device=device)
    result = None
    with torch.inference_mode():
        # A plain range: scikit-learn's gen_batches validates its arguments
        # at each call, which costs as much as a forward pass of one row.
        for start in range(0, max(n_samples, 1), batch_rows):
            batch = as_tensor(X[start : start + batch_rows]).to(device)
            if scaling is not None:
                batch = scaling.apply(batch, tensors, out=buffer[: len(batch)])
            output = method(module, batch).cpu().numpy()
            if result is None:
                # One array for all outputs, made once: small outputs kept
                # batch after batch between the large temporaries of each
                # would fragment the heap, which then keeps those
                # temporaries' memory (glibc does).
                shape = (n_samples, *output.shape[1:])
                result = np.empty(shape, dtype=output.dtype)
            # Copied, never kept: a module returning (a view of) its input
            # would hand back the buffer, which the next batch overwrites.
            result[start : start + len(output)] = output
            release(X, start, start + batch_rows)
    if not np.isfinite(result).all():
        raise NonFiniteOutputError(X, result)
    return result


class NonFiniteOutputError(ValueError):
    """The network's output is NaN or infinite for some rows."""

    def __init__(self, X, result):
        bad = ~np.isfinite(result.reshape(len(result), -1)).all(axis=1)
        largest = np.max(np.abs(X[bad])) if len(X) else np.nan
        super().__init__(
            f"The network's output is not finite for {bad.sum()} of {len(X)} "
            f"rows. Their largest absolute value is {largest:.3g}: values this "
            f"far from the training data can overflow {X.dtype} arithmetic "
            "(pass float64 input, or values closer to the training range)."
        )


def as_tensor(X):
    """A tensor sharing memory with the C-ordered array ``X``.

    ``X`` may be read-only (a memory map, or a pandas frame's values): skae
    never writes to it, so torch's warning about that does not apply.
    """
    if X.flags.writeable:
        return torch.from_numpy(X)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "The given NumPy array is not writable", UserWarning
        )
        return torch.from_numpy(X)


def activation_values_per_row(module, n_features):
    """Count the values a forward pass holds per row, over all layers.

    Runs one row of zeros through ``decode(encode(x))`` with a hook on every
    layer that adds up the sizes of the layers' outputs. The caller's random
    state is left as it was.

    Parameters
    ----------
    module : skae._modules.Autoencoder
        A module following skae's protocol, in evaluation mode.
    n_features : int
        Width of the input.

    Returns
    -------
    n_values : int
        At least ``2 * n_features`` (the input and its reconstruction).
    """
    counts = []

    def count(layer, inputs, output):
        if isinstance(output, torch.Tensor):
            counts.append(output.numel())

    leaves = [layer for layer in module.modules() if not any(layer.children())]
    hooks = [layer.register_forward_hook(count) for layer in leaves]
    try:
        device = next(itertools.chain(module.parameters(), [torch.empty(0)])).device
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            module.decode(module.encode(torch.zeros(1, n_features, device=device)))
    finally:
        for hook in hooks:
            hook.remove()
    return max(sum(counts), 2 * n_features)


def _float64_copy(module):
    """A float64 copy of ``module``, with ``module``'s current values.

    The copy is made once per module and cached; its parameters and buffers
    are refreshed from ``module`` at every call, which costs one pass over
    the weights: a module can change in place in ways nothing records (a
    fused optimizer step does not advance the tensors' version counters), and
    a stale copy would give wrong results silently. Copying, rather than
    casting the parameters of ``module`` itself for the duration of a call,
    leaves ``module`` untouched, so that other threads can use it at the
    same time; concurrent refreshes write the same values.
    """
    copy64 = _FLOAT64_COPIES.get(module)
    if copy64 is None:
        copy64 = copy.deepcopy(module).to(torch.float64)
        _FLOAT64_COPIES[module] = copy64
    with torch.no_grad():
        for source, target in zip(_tensors(module), _tensors(copy64), strict=True):
            target.copy_(source)
    return copy64


def _tensors(module):
    return itertools.chain(module.parameters(), module.buffers())
