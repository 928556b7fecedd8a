"""Smoke tests of the quality benchmarks: they run end to end on tiny settings
and write sane files. The numbers themselves are checked by reading them, not
here."""

import json
import warnings

import numpy as np
import pytest
import torch

from tests._helpers import benchmark_module

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")
pytest.importorskip("tabulate")

_common = benchmark_module("_common")
needs_suite = pytest.mark.skipif(
    not (_common.has_data("odds") and _common.has_data("adbench")),
    reason=f"ODDS or ADBench data not found in {_common.DATA_DIR}",
)


def _check_meta(out, mode):
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"]["mode"] == mode
    assert "--smoke" in meta["argv"]
    assert meta["machine"]["nproc"] >= 1
    assert meta["machine"]["cpu_model"]
    for package in ("python", "torch", "scikit-learn", "skorch"):
        assert meta["versions"][package]
    return meta


def test_bench_reduction_smoke(tmp_path):
    bench = benchmark_module("bench_reduction")
    bench.main(["--smoke", "--out", str(tmp_path)])

    for name in (
        "README.md",
        "runs.csv",
        "mse.csv",
        "accuracy.csv",
        "grid_search.csv",
        "reconstruction_error.png",
        "accuracy.png",
        "reconstructions.png",
        "latent_2d.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    _check_meta(tmp_path, "smoke")

    runs = pd.read_csv(tmp_path / "runs.csv")
    assert set(runs["method"]) == {"PCA", "skae mlp", "skae conv"}
    assert np.isfinite(runs["mse"]).all() and (runs["mse"] > 0).all()
    assert runs["accuracy"].between(0, 1).all()
    assert (runs["fit_time_s"] >= 0).all()
    pca = runs[runs["method"] == "PCA"].sort_values("n_components")
    assert pca["mse"].is_monotonic_decreasing
    search = pd.read_csv(tmp_path / "grid_search.csv")
    assert set(search["picked"]) <= {"PCA", "skae"}
    assert "Held-out reconstruction MSE" in (tmp_path / "README.md").read_text()


@pytest.mark.skipif(
    not _common.has_data("odds"),
    reason=f"ODDS data not found in {_common.DATA_DIR / 'odds'}",
)
def test_bench_outliers_smoke(tmp_path):
    pytest.importorskip("pyod")
    bench = benchmark_module("bench_outliers")
    bench.main(["--smoke", "--out", str(tmp_path)])

    for name in ("README.md", "runs.csv", "roc_auc.csv", "roc_auc.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    meta = _check_meta(tmp_path, "smoke")
    assert meta["settings"]["published_source"] == bench.PUBLISHED_SOURCE

    runs = pd.read_csv(tmp_path / "runs.csv")
    assert len(runs) == len(bench.SMOKE_DATASETS) * len(bench.DEFAULT_METHODS)
    assert runs["roc_auc"].between(0, 1).all()
    assert runs["precision_at_n"].between(0, 1).all()
    table = pd.read_csv(tmp_path / "roc_auc_vs_published.csv")
    assert table["dataset"].iloc[-1] == "mean"
    assert "IForest (PyOD pub.)" in table.columns


def test_bench_scaling_up_smoke(tmp_path):
    bench = benchmark_module("bench_scaling_up")
    # Outside the benchmark torch has two threads: meta.json must record the
    # one the run was limited to.
    torch.set_num_threads(2)
    try:
        results = bench.main(["--smoke", "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(1)
    meta = _check_meta(tmp_path, "smoke")
    assert meta["settings"]["threads"] == 1
    assert meta["machine"]["torch_threads"] == 1
    assert (tmp_path / "README.md").stat().st_size > 0
    partial = pd.read_csv(tmp_path / "partial_fit.csv")
    assert list(partial["method"]) == ["fit", "partial_fit, 2 blocks"]
    assert (partial["rows_per_cpu_s"] > 0).all()
    if results["memmap"]:
        memmap = pd.read_csv(tmp_path / "memmap.csv")
        assert set(memmap["allocator"]) == {
            "glibc default",
            "MALLOC_MMAP_THRESHOLD_=1MiB",
        }
        # The file-backed part of the peak stays within working_memory.
        assert (
            memmap["peak_file_mb_sampled"] < 2 * memmap["working_memory_mb"] + 2
        ).all()


def test_precision_at_n():
    bench = benchmark_module("bench_outliers")
    y = np.array([0, 1, 0, 1, 0])
    assert bench.precision_at_n(y, np.array([0.1, 0.9, 0.2, 0.8, 0.3])) == 1.0
    assert bench.precision_at_n(y, np.array([0.9, 0.1, 0.8, 0.2, 0.3])) == 0.0


def test_run_rejects_unknown_benchmark(capsys):
    run = benchmark_module("run")
    with pytest.raises(SystemExit):
        run.main(["--only", "nonsense"])
    assert "unknown benchmarks" in capsys.readouterr().err


def test_run_py_is_the_one_command(tmp_path):
    run = benchmark_module("run")
    status = run.main(
        ["--smoke", "--only", "reduction,speed", "--out-root", str(tmp_path)]
    )
    assert status == 0
    for name in ("reduction", "speed"):
        assert (tmp_path / name / "meta.json").stat().st_size > 0, name
    with pytest.raises(SystemExit):
        run.main(["--smoke", "--only", "nothing"])


def test_bench_defaults_smoke(tmp_path):
    bench = benchmark_module("bench_defaults")
    detectors, transformers = bench.main(["--smoke", "--out", str(tmp_path)])

    _check_meta(tmp_path, "smoke")
    summary = pd.read_csv(tmp_path / "detector_summary.csv")
    assert set(summary.candidate) == {"default", "IForest", "PCA (PyOD)"}
    assert summary["mean of all ROC-AUC suites"].between(0, 1).all()
    assert detectors.roc_auc.between(0, 1).all()
    assert (transformers.mse_over_pca > 0).all()
    assert "## Detector candidates" in (tmp_path / "README.md").read_text()


def _shifted_first_rows(n_samples, n_features):
    """Standard normal rows, the first 10 moved by 8 in every feature."""
    X = np.random.RandomState(0).normal(size=(n_samples, n_features))
    X[:10] += 8.0
    return X


def _check_ensemble_scores(ensemble, X, members):
    """The ensemble scores the mean of its members' scores ``members``, and
    ranks the rows of :func:`_shifted_first_rows` moved first."""
    scores = ensemble.score_samples(X)
    np.testing.assert_allclose(scores, np.mean(members, axis=0))
    assert scores[:10].max() < np.median(scores[10:])


def test_subsample_ensemble_averages_members_fitted_on_subsamples():
    bench = benchmark_module("bench_defaults")
    X = _shifted_first_rows(300, 4)
    ensemble = bench.SubsampleEnsemble(
        n_estimators=3, max_samples=100, contamination=0.05, random_state=0
    ).fit(X)

    assert len(ensemble.members_) == 3
    assert all(member.n_features_in_ == 4 for member in ensemble.members_)
    # Each member learned its scaling from its own 100 rows, not from all 300.
    centers = [member.center_ for member in ensemble.members_]
    assert not np.allclose(centers[0], X.mean(axis=0))
    assert not np.allclose(centers[0], centers[1])
    members = [member.score_samples(X) for member in ensemble.members_]
    _check_ensemble_scores(ensemble, X, members)
    assert np.mean(ensemble.predict(X) == -1) == pytest.approx(0.05, abs=0.01)


def test_feature_bagging_fits_each_member_on_its_own_features():
    bench = benchmark_module("bench_defaults")
    X = _shifted_first_rows(200, 8)
    ensemble = bench.SubsampleEnsemble(
        n_estimators=4,
        max_samples=150,
        contamination=0.05,
        random_state=0,
        feature_bagging=True,
    ).fit(X)

    subsets = ensemble.estimators_features_
    # Between half and all but one of the 8 features, no feature twice.
    assert all(4 <= len(features) <= 7 for features in subsets)
    assert all(len(np.unique(features)) == len(features) for features in subsets)
    assert len({tuple(features) for features in subsets}) > 1
    for member, features in zip(ensemble.members_, subsets, strict=True):
        assert member.n_features_in_ == len(features)
    members = [
        member.score_samples(X[:, features])
        for member, features in zip(ensemble.members_, subsets, strict=True)
    ]
    _check_ensemble_scores(ensemble, X, members)


@needs_suite
def test_bench_protocols_quick(tmp_path):
    pytest.importorskip("pyod")
    bench = benchmark_module("bench_protocols")
    runs = bench.main(
        ["--quick", "--out", str(tmp_path), "--candidates", "pca 0.9 code"]
    )

    for name in ("README.md", "runs.csv", "cells.csv", "roc_auc.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["settings"]["mode"] == "quick"
    assert meta["machine"]["torch_threads"] == 1
    assert set(meta) >= {"git_commit", "git_dirty", "command", "started_utc"}

    methods = [*bench.DEFAULT_METHODS, "skae pca 0.9 code"]
    assert len(runs) == len(bench.QUICK_SETS) * len(bench.PROTOCOLS) * len(methods)
    assert (runs["error"] == "").all()
    assert runs["roc_auc"].between(0, 1).all()
    assert (runs["time_s"] >= 0).all()
    # The clean protocol trains on the training inliers only.
    train = runs.groupby(["set", "protocol"])["n_train"].first().unstack()
    assert (train["clean"] < train["contaminated"]).all()
    cells = pd.read_csv(tmp_path / "cells.csv")
    assert len(cells) == len(bench.COLLECTIONS) * len(bench.PROTOCOLS) * len(methods)
    readme = (tmp_path / "README.md").read_text()
    assert "## Mean ROC-AUC per cell" in readme
    assert "more than 0.05 below PCA" in readme


def test_variance_components_is_pca_choice():
    bench = benchmark_module("bench_protocols")
    from sklearn.decomposition import PCA

    X = np.random.RandomState(0).normal(size=(200, 6)) * [5, 3, 2, 1, 0.5, 0.1]
    expected = PCA(n_components=0.9, svd_solver="full").fit(X).n_components_
    assert bench.variance_components(X) == expected


def test_knn_and_pca_peers_score_far_rows_higher():
    bench = benchmark_module("bench_protocols")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    far = X[:5] + 10.0
    for det in (bench.KNNDistance(), bench.PCAReconstruction()):
        scores = det.fit(X).abnormality(np.vstack([far, X[5:]]))
        assert scores[:5].min() > np.median(scores[5:])


@needs_suite
def test_bench_thresholds_quick(tmp_path):
    bench = benchmark_module("bench_thresholds")
    runs = bench.main(["--quick", "--out", str(tmp_path)])

    for name in ("README.md", "runs.csv", "per_set.csv", "meta.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert list(runs["set"]) == list(bench.QUICK_SETS)
    assert (runs["n_test_inliers"] >= bench.MIN_TEST_INLIERS).all()
    # A stricter rate flags fewer rows; shares are shares.
    assert (runs["flagged_0.01"] <= runs["flagged_0.05"]).all()
    assert (
        runs[["flagged_0.01", "flagged_0.05", "ks_uniform"]].stack().between(0, 1).all()
    )
    assert "## Summary" in (tmp_path / "README.md").read_text()


@needs_suite
def test_bench_detector_scores_quick(tmp_path):
    bench = benchmark_module("bench_detector_scores")
    runs = bench.main(["--quick", "--out", str(tmp_path)])

    for name in ("README.md", "runs.csv", "cells.csv", "differences.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["settings"]["mode"] == "quick"
    assert meta["machine"]["torch_threads"] == 1
    assert set(meta) >= {"git_commit", "git_dirty", "command", "started_utc"}

    protocols = bench.bench_protocols
    n_runs = len(protocols.QUICK_SETS) * len(protocols.PROTOCOLS)
    assert len(runs) == n_runs * (len(bench.CODES) * len(bench.SCORES) + 1)
    assert (runs["error"] == "").all()
    assert runs["roc_auc"].between(0, 1).all()
    assert set(runs["method"]) == set(bench.METHODS)
    # The default code has at least n_features // 2 values and at least the
    # 90% code's.
    detectors = runs[runs["code"] != "PCA"]
    default = detectors[detectors["code"] == "default code"]
    assert (default["n_components"] >= default["n_features"] // 2).all()
    assert (detectors["n_components"] >= 1).all()
    diffs = pd.read_csv(tmp_path / "differences.csv")
    assert "default" not in set(diffs["method"])
    readme = (tmp_path / "README.md").read_text()
    assert "## Difference from the default" in readme
    assert "more than 0.05 below PCA" in readme


def test_code_nll_leaves_out_small_components_without_warnings():
    bench = benchmark_module("bench_detector_scores")
    rng = np.random.RandomState(0)
    # Two large groups of codes and a small far one, which gets a component
    # of its own and is then left out of the density.
    codes = np.vstack(
        [
            rng.normal(size=(300, 2)),
            rng.normal(size=(300, 2)) + 6,
            rng.normal(size=(6, 2)) + [20, -20],
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nll_fit, nll_test = bench.code_nll(codes, codes[[0, 300, -1]], 8, seed=0)
    assert np.isfinite(nll_fit).all() and np.isfinite(nll_test).all()
    np.testing.assert_allclose(nll_fit[[0, 300, -1]], nll_test)
    assert nll_test[-1] > np.percentile(nll_fit[:600], 99)


def test_bench_overrides_smoke(tmp_path):
    bench = benchmark_module("bench_overrides")
    times = bench.main(["--smoke", "--out", str(tmp_path)])

    assert set(times["variant"]) == set(bench.VARIANTS)
    assert (times["seconds"] > 0).all()
    summary = pd.read_csv(tmp_path / "summary.csv")
    skae_row = summary[summary["variant"] == "skae"]
    assert skae_row["time relative to skae"].item() == 1.0
    _check_meta(tmp_path, "smoke")


@pytest.mark.skipif(
    not all(_common.has_data(d) for d in ("odds", "adbench", "mnist")),
    reason=f"ODDS, ADBench or MNIST data not found in {_common.DATA_DIR}",
)
def test_bench_imputation_smoke(tmp_path):
    bench = benchmark_module("bench_imputation")
    runs, det = bench.main(["--smoke", "--out", str(tmp_path)])

    for name in ("README.md", "runs.csv", "detection.csv", "meta.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    _check_meta(tmp_path, "smoke")
    assert set(runs["imputer"]) == set(bench.IMPUTERS)
    assert np.isfinite(runs["nrmse"]).all() and (runs["nrmse"] > 0).all()
    assert (runs["time_s"] >= 0).all()
    assert det["roc_auc"].between(0, 1).all()
    assert set(det["holes"]) == {0.0, *bench.HOLES}
    readme = (tmp_path / "README.md").read_text()
    assert "## Goals" in readme and "Detection with holes" in readme


def test_bench_multiple_imputation_smoke(tmp_path):
    bench = benchmark_module("bench_multiple_imputation")
    runs = bench.main(["--smoke", "--out", str(tmp_path), "--sets", "wine"])
    assert set(runs["method"]) == {"skae", "IterativeImputer"}
    assert runs["coverage_90"].between(0, 1).all()
    # The draws differ, so their mean is closer to the truth than one draw.
    assert (runs["mean_of_draws_nrmse"] < runs["one_draw_nrmse"]).all()
    assert (tmp_path / "README.md").exists()
    _check_meta(tmp_path, "smoke")


def test_imputation_masks_keep_an_observed_cell_per_row_and_column():
    bench = benchmark_module("bench_imputation")
    rng = np.random.RandomState(0)
    mask = bench.mcar_mask((200, 3), 0.9, rng)
    assert not mask.all(axis=1).any() and not mask.all(axis=0).any()
    assert 0.5 < mask.mean() < 0.9
    X = rng.normal(size=(2000, 4))
    mask = bench.mar_mask(X, rng)
    hidden = np.flatnonzero(mask.any(axis=0))
    assert len(hidden) == 1 and abs(mask[:, hidden[0]].mean() - 0.3) < 0.05
    X_filled = np.where(mask, 0.0, X)
    assert bench.nrmse(X, X, mask) == 0.0
    assert bench.nrmse(X, X_filled, mask) > 0.5
