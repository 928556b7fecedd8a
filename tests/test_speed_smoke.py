"""The speed benchmark runs end to end and writes its files (no timings checked)."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_speed.py"

pytest.importorskip("matplotlib")
pytest.importorskip("pandas")


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks/ not in this checkout")
def test_bench_speed_smoke_writes_results(tmp_path):
    bench = _load_bench()
    bench.main(
        ["--smoke", "--out", str(tmp_path), "--only", "fit", "scaling", "profiles"]
    )
    for name in (
        "fit_vs_plain.csv",
        "scaling.csv",
        "scaling.png",
        "profile_summary.csv",
        "profile_tabular.txt",
        "results.json",
        "meta.json",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    results = json.loads((tmp_path / "results.json").read_text())
    assert {row["case"] for row in results["fit"]} >= {"tabular 2k x 20"}
    assert all(row["ratio_cpu"] > 0 for row in results["fit"])
