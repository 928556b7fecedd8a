"""Reading the rows of ``X`` in blocks, and memory-mapped data out of core.

Passes over the whole training data (checks, scaling statistics, epochs of
training, prediction) go block by block: temporaries stay within
scikit-learn's ``working_memory``, whatever the size of ``X``. When ``X`` is
a shared memory map (``numpy.memmap`` opened with mode ``"r"`` or ``"r+"``,
or a view of one), the pages of a block are released from the process once
the block is read (``madvise(MADV_DONTNEED)``): they stay in the operating
system's file cache, but the process's resident memory stays bounded by the
blocks in use, not by the size of the file.
"""

import mmap

import numpy as np
from sklearn.utils import assert_all_finite
from sklearn.utils._chunking import get_chunk_n_rows

#: Fewest blocks a pass that makes temporaries splits the data into.
_MIN_BLOCKS = 8


def block_rows(X, temporaries=1):
    """Rows per block of ``X``, for ``temporaries`` float64 copies of a block.

    The block itself counts too: ``temporaries=0`` sizes blocks that are
    only read. ``X`` may be an array or a tensor.
    """
    row_bytes = X.shape[1] * (
        X.element_size() if hasattr(X, "element_size") else X.itemsize
    )
    row_bytes += X.shape[1] * 8 * temporaries
    return get_chunk_n_rows(max(row_bytes, 1), max_n_rows=max(len(X), 1))


def blocks(X, temporaries=1):
    """Yield consecutive blocks of rows of ``X``, releasing each when done.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    temporaries : int, default=1
        Number of float64 copies of a block the caller makes. When it is
        not zero, the data are split into at least ``_MIN_BLOCKS`` blocks,
        so that the copies stay a fraction of the data's size even when
        ``working_memory`` would allow more.

    Yields
    ------
    block : ndarray
        A view of consecutive rows of ``X``; its pages are released (for a
        memory map) after the caller asks for the next block.
    """
    size = block_rows(X, temporaries)
    if temporaries:
        # Whatever working_memory allows, at least a few blocks: the
        # temporaries of a pass then stay a fraction of the data's own size.
        size = min(size, max(1, -(-len(X) // _MIN_BLOCKS)))
    for start in range(0, len(X), size):
        yield X[start : start + size]
        release(X, start, start + size)


def take_rows(X, rows):
    """``X[rows]`` for sorted ``rows``, gathered block by block.

    For a memory map, the pages of each block are released once its rows
    are copied: reading scattered rows directly would map nearly every page
    of the file (the system maps pages around each one read).
    """
    size = block_rows(X, temporaries=0)
    parts = []
    for start in range(0, len(X), size):
        lo, hi = np.searchsorted(rows, [start, start + size])
        if hi > lo:
            parts.append(X[rows[lo:hi]])
        release(X, start, start + size)
    if not parts:
        return X[:0].copy()
    return np.concatenate(parts)


def check_finite(X, allow_nan=False):
    """scikit-learn's check for infinity, and NaN unless ``allow_nan``,
    block by block."""
    for block in blocks(X, temporaries=0):
        assert_all_finite(block, allow_nan=allow_nan, input_name="X")


def is_mapped(X):
    """Whether ``X`` views a shared memory map whose pages can be released."""
    return _mapping(X) is not None


def release(X, start=0, stop=None):
    """Drop the pages of rows ``start:stop`` of ``X`` from this process.

    Does nothing unless ``X`` views a shared memory map with C-ordered rows.
    The data stay in the file (and the system's file cache); the next read
    maps them again.
    """
    mapping = _mapping(X)
    if mapping is None or not X.flags.c_contiguous:
        return
    stop = len(X) if stop is None else min(stop, len(X))
    if stop <= start:
        return
    base = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
    first = X[start:stop].ctypes.data - base
    last = first + (stop - start) * X.strides[0]
    page = mmap.PAGESIZE
    first -= first % page
    last = min(len(mapping), -(-last // page) * page)
    if last > first:
        mapping.madvise(mmap.MADV_DONTNEED, first, last - first)


def _mapping(X):
    """The ``mmap.mmap`` behind ``X`` if it is shared and releasable."""
    if not hasattr(mmap, "MADV_DONTNEED") or not hasattr(mmap.mmap, "madvise"):
        return None
    shared = False
    array = X
    while array is not None:
        if isinstance(array, np.memmap):
            # A private ("c") map would lose the caller's modifications.
            shared = array.mode in ("r", "r+", "w+", "readonly", "readwrite", "write")
        if isinstance(array, mmap.mmap):
            return array if shared else None
        array = getattr(array, "base", None)
    return None
