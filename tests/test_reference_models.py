"""Trained models do not change: each reference model is trained again and
compared with the weights, losses and scores stored when it was recorded.

On the machine that recorded them (same CPU model and torch build; one
thread) they must agree bit for bit. Elsewhere, floating-point kernels may
round differently, so they must agree to a tight tolerance.
"""

import numpy as np
import pytest

from tests import reference_models


@pytest.fixture(scope="module")
def stored():
    with np.load(reference_models.PATH) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.mark.parametrize("name", reference_models.MODELS)
def test_trained_model_equals_the_recorded_one(name, stored):
    record = reference_models.train(name)
    expected = {
        key.split("/", 1)[1]: value
        for key, value in stored.items()
        if key.startswith(f"{name}/")
    }
    assert set(record) == set(expected)
    same_machine = str(stored["environment"]) == reference_models.environment()
    tolerance = {"rtol": 0, "atol": 0} if same_machine else {"rtol": 1e-4, "atol": 1e-6}
    for key, value in expected.items():
        np.testing.assert_allclose(record[key], value, err_msg=key, **tolerance)
