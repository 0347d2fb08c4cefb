"""Project-wide pytest setup: every lesson notebook is a test, executed once per session.

``notebooks/NN_topic.ipynb`` (any ``.ipynb`` pytest is given, outside ``_build``) is one test: it
runs top to bottom in a fresh Jupyter kernel, in its own folder, and a cell that raises fails it
with that cell's source and traceback. The course-site test (``tests/test_website.py``) renders
the same executed notebooks through the ``executed_notebook`` fixture: a notebook that already ran
in this session is not run again, and one that did not (``pytest -k website``) runs then. So the
README's ``python -m pytest`` executes each notebook once, for both tests, in either order.

The kernel imports this checkout's npgpt (PYTHONPATH) and draws figures with the inline backend,
even where MPLBACKEND=Agg is set, so that the executed notebook holds them for the site.
Without nbclient and ipykernel (the ``test`` extra) notebooks are not collected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# per cell; generous because a loaded machine runs a notebook several times slower than an idle one
CELL_TIMEOUT = int(os.environ.get("NPGPT_NOTEBOOK_CELL_TIMEOUT", "1200"))

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
except ImportError:  # the test extra is not installed: notebooks are not run
    nbformat = None


class NotebookFailed(Exception):
    """A cell of a notebook raised or timed out, or its kernel died; the message says which cell and how."""


_RUNS: dict[Path, tuple] = {}  # notebook path -> (executed notebook, failure message or None)


def kernel_env() -> dict:
    """The notebooks' environment: this checkout's npgpt first, figures kept in the outputs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def execute_notebook(path: Path):
    """Execute ``path`` once per session; returns (executed NotebookNode, failure message or None)."""
    path = Path(path).resolve()
    if path not in _RUNS:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3")
        failure = None
        try:
            client.execute(cwd=str(path.parent), env=kernel_env())
        except (CellExecutionError, CellTimeoutError) as e:
            failure = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # the kernel's traceback, without its colours
        except DeadKernelError as e:
            failure = f"the kernel died ({e}): out of memory, or killed from outside"
        _RUNS[path] = (nb, failure)
    return _RUNS[path]


@pytest.fixture(scope="session")
def executed_notebook():
    """``executed_notebook(path)`` -> the executed notebook; fails the test if one of its cells raised."""
    if nbformat is None:
        pytest.skip("nbclient is not installed: pip install -e '.[test]'")

    def get(path):
        nb, failure = execute_notebook(path)
        if failure:
            pytest.fail(f"{Path(path).name} failed:\n{failure[-6000:]}", pytrace=False)
        return nb

    return get


class NotebookItem(pytest.Item):
    def runtest(self):
        _, failure = execute_notebook(self.path)
        if failure:
            raise NotebookFailed(failure)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotebookFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, self.path.name


class NotebookFile(pytest.File):
    def collect(self):
        yield NotebookItem.from_parent(self, name=self.path.name)


SKIPPED_FOLDERS = {"_build", ".ipynb_checkpoints"}


def pytest_collect_file(file_path: Path, parent):
    if nbformat is not None and file_path.suffix == ".ipynb" and not SKIPPED_FOLDERS & set(file_path.parts):
        return NotebookFile.from_parent(parent, path=file_path)


def pytest_report_header(config):
    if nbformat is None:
        return "notebooks: not run, nbclient is not installed (pip install -e '.[test]')"
