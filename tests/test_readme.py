"""The README's example runs as written (it takes most of a minute)."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs():
    text = README.read_text()
    match = re.search(r"## Example\n\n```python\n(.*?)```", text, re.S)
    assert match, "the README has no '## Example' section with a python block"
    namespace = {}
    exec(compile(match.group(1), str(README), "exec"), namespace)
    # What the example's comments say it gives.
    assert namespace["Z"].shape == (1797, 8)
    assert namespace["X_hat"].shape == namespace["X"].shape
    # Measured by the scorer, the autoencoder rebuilds the digits with about
    # half PCA's error at 8 components (tests/test_metrics.py checks picks
    # against held-out errors).
    best = namespace["unsupervised"].best_params_["reduce"]
    assert type(best).__name__ == "AutoencoderTransformer"
    labels = namespace["det"].predict(namespace["X"])
    assert set(np.unique(labels)) == {-1, 1}
    # 90 calibration rows: the smallest p-value, 1/91, is below 0.05, so the
    # threshold is a calibration score, not "flag nothing".
    fpr_det = namespace["fpr_det"]
    assert len(fpr_det.calibration_scores_) == 90
    assert fpr_det.offset_ == fpr_det.calibration_scores_[3]
    assert np.all(
        (namespace["det"].decision_function(namespace["X"]) < 0) == (labels == -1)
    )
