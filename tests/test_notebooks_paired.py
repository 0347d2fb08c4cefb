"""Every lesson notebook is a jupytext pair: ``NN_name.py`` (percent format) and ``NN_name.ipynb``.

A teacher edits either file and runs ``jupytext --sync notebooks/*.py``; these tests fail when one
side was edited and the other not (the cells jupytext reads from the ``.py`` must be the cells of
the ``.ipynb``: same order, same types, same text), when a notebook has no text source, or when a
committed ``.ipynb`` carries outputs.
"""

import difflib
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
IPYNBS = sorted(NOTEBOOKS.glob("*.ipynb"))
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
FORMATS = "ipynb,py:percent"
SYNC = "run `jupytext --sync notebooks/*.py` (or save the pair in Jupyter) and commit both files"


def test_the_notebooks_are_there():
    assert len(IPYNBS) >= 13, f"expected the lesson notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_every_notebook_has_a_text_source(ipynb):
    assert ipynb.with_suffix(".py").is_file(), f"{ipynb.name} has no paired {ipynb.stem}.py: {SYNC}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_text_source_has_a_notebook(source):
    assert source.with_suffix(".ipynb").is_file(), f"{source.name} has no paired {source.stem}.ipynb: {SYNC}"


def _cells(nb):
    return [(c.cell_type, c.source) for c in nb.cells]


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_pair_is_in_sync(ipynb):
    source = ipynb.with_suffix(".py")
    if not source.is_file():
        pytest.skip("no text source (reported by test_every_notebook_has_a_text_source)")
    from_py = jupytext.read(source, fmt="py:percent")
    from_ipynb = nbformat.read(ipynb, as_version=4)
    for nb, name in [(from_py, source.name), (from_ipynb, ipynb.name)]:
        assert nb.metadata.get("jupytext", {}).get("formats") == FORMATS, (
            f"{name}: jupytext formats should be {FORMATS}"
        )
    py_cells, nb_cells = _cells(from_py), _cells(from_ipynb)
    for i, (a, b) in enumerate(zip(py_cells, nb_cells)):
        if a != b:
            diff = difflib.unified_diff(b[1].splitlines(), a[1].splitlines(), ipynb.name, source.name, lineterm="")
            pytest.fail(f"cell {i} ({b[0]} in the .ipynb, {a[0]} in the .py) differs: {SYNC}\n" + "\n".join(diff))
    assert len(py_cells) == len(nb_cells), (
        f"{source.name} has {len(py_cells)} cells, {ipynb.name} {len(nb_cells)}: {SYNC}"
    )


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, (
        f"{ipynb.name}: cells {dirty} have outputs; clear them "
        f"(`jupyter nbconvert --clear-output --inplace {ipynb.relative_to(NOTEBOOKS.parent)}`) before committing"
    )
