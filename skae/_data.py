"""The data path of training: scaled rows, their mini-batches and the
validation split."""

import math

import numpy as np
import torch

from skae._blocks import block_rows, release, take_rows
from skae._inference import as_tensor


def split_rows(n_samples, validation_fraction, random_state):
    """Training and validation rows for early stopping.

    Returns
    -------
    train, valid : ndarray of int
        A random partition of ``range(n_samples)``; ``valid`` holds
        ``ceil(validation_fraction * n_samples)`` rows.
    """
    n_valid = math.ceil(validation_fraction * n_samples)
    if n_samples - n_valid < 1:
        raise ValueError(
            f"early_stopping=True holds out validation_fraction="
            f"{validation_fraction} of the data, which leaves no "
            f"training sample out of n_samples={n_samples}. Use more "
            "samples, a smaller validation_fraction, or "
            "early_stopping=False."
        )
    order = random_state.permutation(n_samples)
    return order[n_valid:], order[:n_valid]


class ScaledRows(torch.utils.data.Dataset):
    """Rows of a data tensor, scaled to the network's float32 input when read.

    The training and validation sets of a fit are two of these over one
    tensor, the data as given: no scaled copy of the data is made. A batch is
    scaled by :class:`skae._scaling.FeatureScaling` in the data's precision,
    then rounded to float32: the same arithmetic, value for value, as
    inference.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The data, float32 or float64, unscaled. It is never written to.
    rows : torch.Tensor of int64, default=None
        The rows of ``X`` that make up this set, in this order; all rows by
        default.
    scaling : FeatureScaling, default=None
        The scaling; ``None`` for none.
    array : ndarray, default=None
        The array ``X`` shares its memory with, on the CPU: when it is a
        memory map, epochs release its pages as they go (see
        :class:`TensorBatches`).
    fill : torch.Tensor of shape (n_features,), default=None
        For data with missing cells (NaN): the float32 value, in scaled
        units, that fills a missing cell of a batch; :meth:`batch` then
        gives the mask of observed cells with the rows. ``None`` for
        complete data.
    """

    def __init__(self, X, rows=None, scaling=None, array=None, fill=None):
        self.X = X
        self.rows = rows
        self.scaling = scaling
        self.array = array
        self.fill = fill
        if scaling is not None:
            self._tensors = scaling.tensors(X.dtype, X.device)

    def __len__(self):
        return len(self.X) if self.rows is None else len(self.rows)

    def __getitem__(self, i):
        return self.take(slice(i, i + 1))[0]

    def take(self, index):
        """Scaled float32 rows at positions ``index`` (a slice or int tensor)."""
        rows = index if self.rows is None else self.rows[index]
        # index_select gathers rows in about half the time of indexing.
        batch = (
            self.X[rows] if isinstance(rows, slice) else self.X.index_select(0, rows)
        )
        # Indexing with a tensor gathers the rows into a new tensor, which can
        # be scaled in place; a slice is a view of X, which must not be.
        owned = batch._base is None
        if self.scaling is not None:
            batch = self.scaling.apply(
                batch, self._tensors, out=batch if owned else None
            )
            owned = True
        if batch.dtype != torch.float32:
            batch = batch.to(torch.float32)
            owned = True
        # A network may work in place on its input: never hand it X itself.
        return batch if owned else batch.clone()

    def batch(self, index):
        """The ``(X, y)`` pair of a mini-batch: scaled rows at ``index``, and
        ``None``, or for data with missing cells the rows filled and the
        mask of their observed cells, which the loss is restricted to."""
        rows = self.take(index)
        if self.fill is None:
            return rows, None
        observed = ~torch.isnan(rows)
        return torch.where(observed, rows, self.fill), observed


class TensorBatches:
    """Mini-batches read from :class:`ScaledRows`, in place of a ``DataLoader``.

    A ``DataLoader`` over a per-sample ``Dataset`` indexes and collates every
    row on its own; here each batch is one indexing operation on a tensor that
    already lives on the training device.

    Shuffling draws one permutation of all rows per pass, whatever the size
    of the data, so that ``working_memory`` never changes the model. A
    memory map larger than a block of ``working_memory`` is read block by
    block for each run of batches that fits a block, which keeps the
    process's resident memory bounded.

    Parameters
    ----------
    dataset : ScaledRows or skorch.dataset.Dataset
        The rows; a skorch ``Dataset`` whose ``X`` is a 2-D float32 tensor is
        read as a :class:`ScaledRows` without scaling.
    batch_size : int
        Number of rows per batch; the last batch may be smaller.
    shuffle : bool, default=False
        Whether to draw a new permutation of the rows at each pass, from the
        global torch generator (which the estimators seed).
    """

    def __init__(self, dataset, batch_size, shuffle=False):
        if not isinstance(dataset, ScaledRows):
            dataset = ScaledRows(dataset.X)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        data, step = self.dataset, self.batch_size
        n_samples = len(data)
        array = data.array
        if not self.shuffle:
            for start in range(0, n_samples, step):
                yield data.batch(slice(start, start + step))
            return
        order = torch.randperm(n_samples)
        size = block_rows(data.X, temporaries=0)
        if array is None or len(data.X) <= size:
            order = order.to(data.X.device)
            for start in range(0, n_samples, step):
                yield data.batch(order[start : start + step])
            if array is not None:
                release(array)
            return
        # A memory map larger than a block of working_memory: the rows of
        # each run of whole batches of the order are gathered block by block
        # (take_rows releases each block's pages), then batched in the
        # order's order, so that the batches are those of data in memory.
        # Half a block, since gathering a chunk holds its rows twice.
        chunk = max(step, size // 2 // step * step)
        for first in range(0, n_samples, chunk):
            positions = order[first : first + chunk]
            rows = positions if data.rows is None else data.rows.cpu()[positions]
            rows, inverse = torch.sort(rows)
            gathered = as_tensor(take_rows(array, rows.numpy()))
            part = ScaledRows(
                gathered, torch.argsort(inverse), data.scaling, fill=data.fill
            )
            for start in range(0, len(part), step):
                yield part.batch(slice(start, start + step))


def rows_on_device(X, device, scaling, index_train, index_valid, fill=None):
    """The training and validation sets of ``X`` as :class:`ScaledRows`.

    ``X`` stays as given, on ``device``; both sets scale their rows as they
    read them. Validation rows of data larger than a block of
    ``working_memory`` are gathered once, in their order, since they are
    read at every epoch. ``fill``, for data with missing cells, is the
    scaled float64 value of each feature that fills them (see
    :class:`ScaledRows`).

    Returns
    -------
    train : ScaledRows
    valid : ScaledRows or None
        ``None`` when ``index_valid`` is.
    """
    X = np.ascontiguousarray(X)
    X_data = as_tensor(X).to(device)
    array = X if X_data.device.type == "cpu" else None
    batch_scaling = None if scaling.is_identity else scaling
    if fill is not None:
        fill = torch.as_tensor(fill, dtype=torch.float32, device=device)

    def rows(index):
        if index is not None:
            index = torch.from_numpy(index).to(device)
        return ScaledRows(X_data, index, batch_scaling, array=array, fill=fill)

    if index_valid is None:
        valid = None
    elif len(X) <= block_rows(X, temporaries=0):
        valid = rows(index_valid)
    else:
        gathered = as_tensor(take_rows(X, np.sort(index_valid)))
        valid = ScaledRows(gathered.to(device), None, batch_scaling, fill=fill)
    return rows(index_train), valid
