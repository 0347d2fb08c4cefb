"""tools/gpu_check.sh, the prepared run of every GPU check, is valid bash and refuses a machine
without a GPU with one clear line (on a GPU machine it is run by hand, see its header)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CUDA_AVAILABLE

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.sh"


def test_the_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True).returncode == 0


@pytest.mark.skipif(CUDA_AVAILABLE, reason="checks the refusal shown where CuPy or a GPU is missing")
def test_without_a_gpu_it_stops_before_writing_anything(tmp_path):
    env = os.environ | {"PYTHON": sys.executable}
    out = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "record")], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.strip() == "gpu_check: no usable GPU here (CuPy missing, or no CUDA device): nothing to check"
    assert not (tmp_path / "record").exists()
