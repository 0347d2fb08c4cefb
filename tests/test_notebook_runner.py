"""The notebook runner of the root conftest.py fails a notebook whose cell raises, and says where.

Each lesson notebook executes once per session, shared by its own test and the course site
(``executed_notebook``); this checks that sharing did not make a failure quiet: a child pytest, with
the project's conftest.py, runs a notebook that raises and one that does not.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_raising_cell_fails_its_notebook(tmp_path):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    good = new_notebook(cells=[new_code_cell("x = 2 + 2"), new_code_cell("assert x == 4")])
    bad = new_notebook(cells=[new_code_cell("y = 1"), new_code_cell("raise ValueError('planted in cell two')")])
    dies = new_notebook(cells=[new_code_cell("import os\nos._exit(1)")])  # the kernel dies, no traceback
    nbformat.write(good, tmp_path / "good.ipynb")
    nbformat.write(bad, tmp_path / "bad.ipynb")
    nbformat.write(dies, tmp_path / "dies.ipynb")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "good.ipynb", "bad.ipynb", "dies.ipynb"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "2 failed, 1 passed" in out, out
    assert "raise ValueError('planted in cell two')" in out, "the failing cell's source is not shown"
    assert "ValueError: planted in cell two" in out, "the traceback is not shown"
    assert "the kernel died" in out, out
