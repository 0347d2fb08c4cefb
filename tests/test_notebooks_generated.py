"""The committed notebooks are exactly what their generators in tools/ write (no stale copies)."""

import importlib.util
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


@pytest.mark.parametrize("script", ["make_notebooks.py", "make_notebooks_model.py", "make_notebooks_training.py"])
def test_notebooks_match_their_generator(script, monkeypatch):
    monkeypatch.syspath_prepend(str(TOOLS))
    spec = importlib.util.spec_from_file_location(script[:-3], TOOLS / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, f"run python tools/{script} and commit the notebooks"
