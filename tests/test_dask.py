"""dask: training over blocks with dask-ml's Incremental on a 2-worker
LocalCluster, and prediction block by block with skae.dask.map_blocks."""

import numpy as np
import pytest
import torch

da = pytest.importorskip("dask.array", reason="needs the 'distributed' extra (dask)")
distributed = pytest.importorskip(
    "distributed", reason="needs the 'distributed' extra (dask.distributed)"
)
wrappers = pytest.importorskip(
    "dask_ml.wrappers", reason="needs the 'distributed' extra (dask-ml)"
)

from skae import AutoencoderOutlierDetector, AutoencoderTransformer  # noqa: E402
from skae.dask import map_blocks  # noqa: E402
from tests._helpers import assert_same_weights  # noqa: E402

PARAMS = {"n_components": 2, "early_stopping": False, "random_state": 0}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 3)) @ rng.normal(size=(3, 6))
    X += 0.1 * rng.normal(size=X.shape)
    return X, da.from_array(X, chunks=(150, 6))


def _sequential(estimator, X):
    """partial_fit over the blocks here, with the one torch thread that dask's
    workers run (dense layers round differently with the thread count)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for block in np.array_split(X, 4):
            estimator.partial_fit(block)
    finally:
        torch.set_num_threads(previous)
    return estimator


def test_incremental_equals_sequential_partial_fit(client, data):
    X, dX = data
    incremental = wrappers.Incremental(
        AutoencoderTransformer(**PARAMS), shuffle_blocks=False
    ).fit(dX)
    sequential = _sequential(AutoencoderTransformer(**PARAMS), X)
    assert incremental.estimator_.n_iter_ == sequential.n_iter_ == 4
    assert_same_weights(incremental.estimator_, sequential)
    assert incremental.estimator_.loss_curve_ == sequential.loss_curve_


def test_incremental_detector(client, data):
    X, dX = data
    # Incremental scores with the estimator's score method unless told how;
    # an outlier detector has none, so give it one.
    incremental = wrappers.Incremental(
        AutoencoderOutlierDetector(**PARAMS, contamination=0.1),
        shuffle_blocks=False,
        scoring=lambda estimator, X, y=None: estimator.score_samples(X).mean(),
    ).fit(dX)
    sequential = _sequential(AutoencoderOutlierDetector(**PARAMS, contamination=0.1), X)
    assert_same_weights(incremental.estimator_, sequential)
    assert incremental.estimator_.offset_ == sequential.offset_
    labels = map_blocks(incremental.estimator_.predict, dX).compute()
    np.testing.assert_array_equal(labels, sequential.predict(X))


@pytest.fixture(scope="module")
def fitted(data):
    X, _ = data
    return (
        AutoencoderTransformer(n_components=2, max_iter=5, random_state=0).fit(X),
        AutoencoderOutlierDetector(n_components=2, max_iter=5, random_state=0).fit(X),
    )


@pytest.mark.parametrize(
    "which, name, width",
    [
        (0, "transform", 2),
        (0, "score_samples", None),
        (0, "feature_errors", 6),
        (1, "decision_function", None),
        (1, "predict", None),
        (1, "score_samples", None),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_map_blocks_gives_the_true_chunks_and_values(
    client, data, fitted, which, name, width, dtype
):
    X, _ = data
    X = X.astype(dtype)
    # Uneven blocks, an empty one among them, and the columns split in two.
    dX = da.from_array(X, chunks=((100, 0, 350, 150), (4, 2)))
    method = getattr(fitted[which], name)
    result = map_blocks(method, dX)
    expected = method(X)
    assert result.chunks[0] == (100, 0, 350, 150)
    assert result.shape == expected.shape
    assert result.dtype == expected.dtype
    if width is not None:
        assert result.chunks[1] == (width,)
    np.testing.assert_allclose(result.compute(), expected, rtol=1e-6, atol=1e-6)


def test_map_blocks_inverse_transform(client, data, fitted):
    X, dX = data
    ae = fitted[0]
    dZ = map_blocks(ae.transform, dX)
    dX_back = map_blocks(ae.inverse_transform, dZ)
    assert dX_back.chunks == ((150, 150, 150, 150), (6,))
    np.testing.assert_allclose(
        dX_back.compute(), ae.inverse_transform(ae.transform(X)), rtol=1e-10
    )


def test_map_blocks_rejects_what_it_cannot_run(data, fitted):
    _, dX = data
    with pytest.raises(ValueError, match="method must be one of"):
        map_blocks(fitted[0].fit, dX)
    with pytest.raises(ValueError, match="method must be one of"):
        map_blocks(np.sum, dX)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        map_blocks(AutoencoderTransformer().transform, dX)
