"""The speed benchmark runs end to end and writes its files (no timings checked)."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_speed.py"

pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks/ not in this checkout")
def test_bench_speed_smoke_writes_results(tmp_path):
    bench = _load_bench()
    # Outside the benchmark torch has two threads: meta.json must record the
    # one the run was limited to.
    torch.set_num_threads(2)
    try:
        bench.main(
            ["--smoke", "--out", str(tmp_path), "--only", "fit", "sweep", "inference"]
        )
    finally:
        torch.set_num_threads(1)
    for name in ("fit.csv", "sweep.csv", "sweep.png", "inference.csv", "README.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert set(meta) >= {"git_commit", "git_dirty", "started_utc", "machine"}
    assert meta["settings"]["threads"] == 1
    assert meta["machine"]["torch_threads"] == 1
    fit = pd.read_csv(tmp_path / "fit.csv")
    assert "tabular 2k x 20" in set(fit["case"])
    assert (fit["ratio_cpu"] > 0).all()
    readme = (tmp_path / "README.md").read_text()
    assert "## Targets" in readme and "fit time / plain loop" in readme
