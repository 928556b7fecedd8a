"""Data larger than working_memory, and memory maps read out of core."""

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sklearn

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from skae._blocks import check_finite, is_mapped, release, take_rows
from tests._helpers import assert_same_weights

# 4000 rows of 64 float32 values: 1 MB, 256 rows per 64 kB.
N_ROWS, N_FEATURES = 4000, 64
SMALL_MEMORY = 0.125  # MiB: blocks of a few hundred rows, 5 to 16 blocks


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(N_ROWS, 4)) @ rng.normal(size=(4, N_FEATURES))
    return (X + 0.1 * rng.normal(size=X.shape)).astype(np.float32)


@pytest.fixture
def memmap(data, tmp_path):
    path = tmp_path / "X.f32"
    data.tofile(path)
    return np.memmap(path, dtype=np.float32, mode="r", shape=data.shape)


@pytest.fixture(scope="module")
def big_memmap(tmp_path_factory):
    """16 MB of float32 rows. The system maps file pages in runs (up to a
    couple of MB on recent kernels) around each one read, so the resident
    part of a smaller file says little about how it is read."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64_000, 4)) @ rng.normal(size=(4, 64))
    path = tmp_path_factory.mktemp("big") / "X.f32"
    X.astype(np.float32).tofile(path)
    return np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)


def _resident_kb(memmap):
    """Resident memory of ``memmap``'s file in this process (Linux), in kB."""
    resident, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if not line[:1].isupper():  # a mapping's header line
            inside = line.rstrip().endswith(str(memmap.filename))
        elif inside and line.startswith("Rss:"):
            resident += int(line.split()[1])
    return resident


def _file_backed_kb():
    """All file-backed resident memory of this process (Linux), in kB: a
    cheaper measure than :func:`_resident_kb`, with the noise of libraries
    mapped on the way."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def _sampled(measure, interval=1e-3):
    """Call ``measure`` every ``interval`` seconds, in a thread, while the
    block runs; yield the list of the values, which grows meanwhile."""
    values, done = [], threading.Event()

    def sample():
        while not done.is_set():
            values.append(measure())
            time.sleep(interval)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        yield values
    finally:
        done.set()
        thread.join()
        values.append(measure())


def test_memmap_and_array_give_the_same_model(data, memmap):
    params = {"n_components": 3, "max_iter": 3, "random_state": 0}
    with sklearn.config_context(working_memory=SMALL_MEMORY):
        from_memmap = AutoencoderTransformer(**params).fit(memmap)
        from_array = AutoencoderTransformer(**params).fit(data)
    assert_same_weights(from_memmap, from_array)
    np.testing.assert_array_equal(
        from_memmap.score_samples(memmap), from_array.score_samples(data)
    )


def test_training_larger_than_a_block_learns(data):
    with sklearn.config_context(working_memory=SMALL_MEMORY):
        ae = AutoencoderTransformer(
            n_components=4, architecture="mlp", max_iter=20, random_state=0
        )
        ae.fit(data)
    assert ae.loss_curve_[-1] < 0.2 * ae.loss_curve_[0]
    # Every training row is read once per epoch, block by block.
    epoch = ae.net_.history[-1]
    n_train = sum(b["train_batch_size"] for b in epoch["batches"] if "train_loss" in b)
    assert n_train == N_ROWS - int(np.ceil(0.1 * N_ROWS))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_memmap_pages_are_released(memmap):
    assert is_mapped(memmap) and is_mapped(np.asarray(memmap)[10:20])
    memmap.sum()
    assert _resident_kb(memmap) > 0.9 * memmap.nbytes / 1024
    release(memmap, 0, N_ROWS // 2)
    assert 0.4 < _resident_kb(memmap) / (memmap.nbytes / 1024) < 0.6
    release(memmap)
    assert _resident_kb(memmap) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, AutoencoderOutlierDetector]
)
def test_fit_and_predict_keep_the_memmap_out_of_memory(Estimator, big_memmap):
    memmap = big_memmap
    # A first fit maps the parts of torch's libraries that training uses.
    Estimator(n_components=3, max_iter=2).fit(np.array(memmap[:1000]))
    release(memmap)
    baseline = _file_backed_kb()
    # How much of the file is resident, every millisecond of every pass.
    with _sampled(lambda: _file_backed_kb() - baseline) as resident:
        with sklearn.config_context(working_memory=1):
            est = Estimator(n_components=3, max_iter=2, random_state=0).fit(memmap)
            est.score_samples(memmap)
    file_kb = memmap.nbytes / 1024
    assert len(resident) > 20
    # The file's pages were all read, but never held together.
    assert max(resident) < 0.35 * file_kb
    assert _resident_kb(memmap) < 0.35 * file_kb


def test_private_memmap_is_not_released(data, tmp_path):
    # A copy-on-write map would lose the caller's writes if its pages were
    # dropped: it is read like any array.
    path = tmp_path / "X.f32"
    data.tofile(path)
    private = np.memmap(path, dtype=np.float32, mode="c", shape=data.shape)
    private[0, 0] = 1234.0
    assert not is_mapped(private)
    release(private)
    assert private[0, 0] == 1234.0


def test_take_rows_gathers_across_blocks(data, memmap):
    rows = np.sort(np.random.RandomState(0).choice(N_ROWS, 500, replace=False))
    with sklearn.config_context(working_memory=SMALL_MEMORY):
        np.testing.assert_array_equal(take_rows(memmap, rows), data[rows])
        assert take_rows(memmap, rows[:0]).shape == (0, N_FEATURES)


def test_nan_and_inf_in_a_memmap_are_found_block_by_block(data, tmp_path):
    bad = data.copy()
    bad[3500, 7] = np.nan
    bad[3600, 2] = np.inf
    path = tmp_path / "bad.f32"
    bad.tofile(path)
    X = np.memmap(path, dtype=np.float32, mode="r", shape=bad.shape)
    with sklearn.config_context(working_memory=SMALL_MEMORY):
        with pytest.raises(ValueError, match="Input X contains NaN"):
            check_finite(X)
        # NaN marks a missing cell, which fit accepts; infinity it does not.
        with pytest.raises(ValueError, match="Input X contains infinity"):
            AutoencoderTransformer(max_iter=1).fit(X)


@pytest.mark.parametrize("method", ["standard", "global", "minmax"])
def test_passes_over_the_data_make_no_copy_of_it(method):
    import tracemalloc

    from skae._scaling import FeatureScaling
    from skae._start import principal_axes

    X = np.random.RandomState(0).normal(size=(8000, 50)).astype(np.float32)
    tracemalloc.start()
    try:
        scaling = FeatureScaling.fit(X, method)
        _, statistics_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        principal_axes(X, scaling, 10)
        _, axes_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # float64 temporaries of one block of at most an eighth of the rows at a
    # time, whatever working_memory allows; a float64 copy of the data would
    # take twice its float32 size.
    assert statistics_peak < X.nbytes
    assert axes_peak < X.nbytes


_PEAK_CHILD = """
import os
import sys
from pathlib import Path

import numpy as np
import sklearn
import torch

from skae import AutoencoderOutlierDetector

torch.set_num_threads(1)
path, n_rows = sys.argv[1], int(sys.argv[2])
X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, 64))
AutoencoderOutlierDetector(n_components=3, max_iter=1).fit(np.array(X[:1000]))


def status_kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])


Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
before = status_kb("VmRSS")
with sklearn.config_context(working_memory=8):
    det = AutoencoderOutlierDetector(n_components=3, max_iter=1, random_state=0)
    det.fit(X).score_samples(X)
print(status_kb("VmHWM") - before)
"""


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc"
)
def test_peak_memory_stays_well_below_a_memmap(tmp_path):
    # 128 MB of rows, fitted and scored in a fresh process with the system's
    # default allocator: the process's peak resident memory, file pages and
    # heap together, stays well below the file. (Outputs kept batch by batch
    # between large temporaries once let glibc's heap grow past the file.)
    # Part of the peak does not grow with the file (about 35 MB here: the
    # detector's reference rows, at most 10,000, and what the heap keeps),
    # so the file is large enough for that part to be a minor share of it.
    import subprocess

    rng = np.random.RandomState(0)
    path = tmp_path / "X.f32"
    with open(path, "wb") as file:
        for _ in range(16):
            X = rng.normal(size=(32_768, 4)) @ rng.normal(size=(4, 64))
            X.astype(np.float32).tofile(file)
    file_kb = path.stat().st_size / 1024
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_CHILD, str(path), str(16 * 32_768)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    peak_kb = int(out.stdout.split()[-1])
    assert peak_kb < 0.5 * file_kb


@pytest.mark.parametrize("missing", [False, True])
def test_score_scales_are_learned_in_blocks_to_the_bit(missing):
    # The detector learns its scales from float64 errors and reconstructions
    # of up to 10,000 reference rows: a copy of all of them, or temporaries
    # the size of all of them, once pushed a 64 MB memory map's peak past
    # three quarters of the file. Blocks must not change a bit of the result.
    import tracemalloc

    from skae._outlier_score import ReconstructionTerm, scaled_variance

    rng = np.random.RandomState(0)
    n_rows, n_features = 4000, 160
    values = rng.lognormal(size=(n_rows, 2 * n_features))
    if missing:
        values[rng.uniform(size=values.shape) < 0.1] = np.nan
    errors, outputs = values[:, :n_features], values[:, n_features:]
    mean, var = (np.nanmean, np.nanvar) if missing else (np.mean, np.var)

    tracemalloc.start()
    try:
        term = ReconstructionTerm("mse").fit(errors, outputs, 1.0, 0.1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * values.nbytes

    # The same two rounds, written with whole-array temporaries.
    abnormality = mean(errors, axis=1)
    for _ in range(2):
        kept = np.argsort(abnormality, kind="stable")[:3600]
        error_scale = mean(errors[kept], axis=0)
        center = mean(outputs[kept], axis=0)
        spread = var(outputs[kept], axis=0)
        floor = lambda v: np.maximum(v, 0.01 * v.mean())  # noqa: E731
        error_scale, spread = floor(error_scale), floor(spread)
        abnormality = mean(
            errors / error_scale + (outputs - center) ** 2 / spread, axis=1
        )
    np.testing.assert_array_equal(term.error_scale_, error_scale)
    np.testing.assert_array_equal(term.output_center_, center)
    np.testing.assert_array_equal(term.output_scale_, spread)

    X = values[:, :n_features].astype(np.float32)
    center, scale = rng.normal(size=n_features), rng.lognormal(size=n_features)
    assert scaled_variance(X, center, scale) == mean(var((X - center) / scale, axis=0))
