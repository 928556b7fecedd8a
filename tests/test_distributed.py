"""Training in two processes through accelerate (CPU, gloo).

Runs tests/distributed/train_2proc.py under torchrun, which checks in both
processes that each reads only its share of the rows, that they end with the
same model, the same model as a one-process fit at twice the batch size, and
pickles it; then loads that pickle in a process where accelerate cannot be
imported (tests/distributed/load_plain.py).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")
if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
    pytest.skip("torch has no gloo backend", allow_module_level=True)

HERE = Path(__file__).parent / "distributed"
ROOT = Path(__file__).parent.parent


def _run(args, **kwargs):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    # A process of its own group, so that a hang (a collective one process
    # never reaches) kills the workers too.
    process = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )
    try:
        stdout, stderr = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail("timed out:\n" + stdout[-4000:] + stderr[-8000:])
    result = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    return result.stdout


def test_two_processes(tmp_path):
    out = _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(HERE / "train_2proc.py"),
            str(tmp_path),
        ]
    )
    assert "max_weight_diff" in out
    assert "plain load OK" in _run(
        [sys.executable, str(HERE / "load_plain.py"), str(tmp_path)]
    )
