"""Load the estimator train_2proc.py pickled, in a plain process: accelerate
cannot be imported and there is no process group. Its outputs must be those
the training process computed, exactly.

    python tests/distributed/load_plain.py OUT_DIR
"""

import importlib.abc
import os
import pickle
import sys


class _NoAccelerate(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "accelerate" or name.startswith("accelerate."):
            raise ImportError(f"{name} is blocked in this process")
        return None


sys.meta_path.insert(0, _NoAccelerate())
for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
    os.environ.pop(var, None)

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
out = sys.argv[1]
with open(os.path.join(out, "model.pkl"), "rb") as f:
    est = pickle.load(f)
saved = np.load(os.path.join(out, "outputs.npz"))
X = saved["X"]
assert est.accelerator is None
assert type(est.net_).__name__ == "AutoencoderNet", type(est.net_)
assert not torch.distributed.is_initialized()
assert "accelerate" not in sys.modules
Z = est.transform(X)
np.testing.assert_array_equal(Z, saved["transform"])
np.testing.assert_array_equal(est.inverse_transform(Z), saved["inverse"])
np.testing.assert_array_equal(est.score_samples(X), saved["scores"])
print("plain load OK: identical transform, inverse_transform, score_samples")
