"""Project-wide pytest setup: every lesson notebook is a test, executed once per session.

``notebooks/NN_topic.ipynb`` (any ``.ipynb`` pytest is given, outside ``_build``) is one test: it
runs top to bottom in a fresh Jupyter kernel, in its own folder, and a cell that raises fails it
with that cell's source and traceback. The course-site test (``tests/test_website.py``) renders
the same executed notebooks through the ``executed_notebook`` fixture: a notebook that already ran
in this session is not run again, and one that did not (``pytest -k website``) runs then. So the
README's ``python -m pytest`` executes each notebook once, for both tests, in either order.

The suite runs in parallel (pytest-xdist, ``-n auto`` in pyproject.toml's addopts; ``-n 0`` runs
it in one process). Workers share the executed notebooks through files in the run's common temp
folder, one lock per notebook: the worker that takes a notebook first executes it, a worker that
needs it meanwhile waits for it, and the site's fixture executes the ones nobody has started yet,
last lesson first, so that it and the notebooks' own tests split the work instead of waiting on
each other. Each worker's BLAS runs on one thread: the workers already use every core.

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
    from filelock import FileLock, Timeout
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
except ImportError:  # the test extra is not installed: notebooks are not run
    nbformat = None

# set for the xdist workers (by the controller, which starts them with its environment): a worker
# whose NumPy also started a BLAS thread per core would share each core between several threads
# (tests/test_induction.py + test_nn_gpt.py on 2 workers: 30 CPU-s with one thread each, 114 with two)
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class NotebookFailed(Exception):
    """A cell of a notebook raised or timed out, or its kernel died; the message says which cell and how."""


_RUNS: dict[Path, tuple] = {}  # notebook path -> (executed notebook, failure message or None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` for one file is no worker: --dist loadfile would give the whole file to one worker,
    and the workers' start-up (each imports and collects) would only add to the wait."""
    if len(config.args) == 1 and Path(config.args[0].split("::")[0]).is_file():
        return 0
    return None  # pytest-xdist's own count: one worker per core


def pytest_configure(config):
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        for name in BLAS_THREADS:
            os.environ.setdefault(name, "1")


def kernel_env() -> dict:
    """The notebooks' environment: this checkout's npgpt first, figures kept in the outputs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def _run(path: Path) -> tuple:
    """Execute the notebook at ``path`` in a fresh kernel: (executed NotebookNode, failure message or None)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3")
    failure = None
    try:
        client.execute(cwd=str(path.parent), env=kernel_env())
    except (CellExecutionError, CellTimeoutError) as e:
        failure = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # the kernel's traceback, without its colours
    except DeadKernelError as e:
        failure = f"the kernel died ({e}): out of memory, or killed from outside"
    return nb, failure


def _shared_folder(config) -> Path | None:
    """The folder this run's xdist workers share executed notebooks in (None without workers)."""
    if not hasattr(config, "workerinput"):
        return None
    folder = config._tmp_path_factory.getbasetemp().parent / "executed-notebooks"
    folder.mkdir(exist_ok=True)
    return folder


def execute_notebook(path: Path, config, wait: bool = True):
    """Execute ``path`` once per session; returns (executed NotebookNode, failure message or None).

    Under xdist the first worker to lock a notebook executes it and leaves the result for the others.
    With ``wait=False`` returns None instead of waiting for a notebook another worker is executing.
    """
    path = Path(path).resolve()
    folder = _shared_folder(config)
    if path not in _RUNS and folder is None:
        _RUNS[path] = _run(path)
    elif path not in _RUNS:
        done, failed = folder / f"{path.stem}.ipynb", folder / f"{path.stem}.failure.txt"
        try:
            with FileLock(folder / f"{path.stem}.lock", timeout=-1 if wait else 0):
                if not done.exists():
                    nb, failure = _run(path)
                    if failure:
                        failed.write_text(failure, encoding="utf-8")
                    nbformat.write(nb, done)
        except Timeout:
            return None
        _RUNS[path] = (nbformat.read(done, as_version=4), failed.read_text("utf-8") if failed.exists() else None)
    return _RUNS[path]


def execute_notebooks(paths, config) -> list:
    """Execute every notebook of ``paths`` once per session, sharing the work with the other workers:
    the ones nobody has started, last first (the notebooks' own tests go first to last), then the rest."""
    for path in reversed(paths):
        execute_notebook(path, config, wait=False)
    return [execute_notebook(path, config) for path in paths]


@pytest.fixture(scope="session")
def executed_notebook(request):
    """``executed_notebook(path)`` -> the executed notebook; fails the test if one of its cells raised.

    ``executed_notebook.all(paths)`` -> the list of them, executed in the order that shares the work best.
    """
    if nbformat is None:
        pytest.skip("nbclient is not installed: pip install -e '.[test]'")

    def check(path, run):
        nb, failure = run
        if failure:
            pytest.fail(f"{Path(path).name} failed:\n{failure[-6000:]}", pytrace=False)
        return nb

    def get(path):
        return check(path, execute_notebook(path, request.config))

    get.all = lambda paths: [check(p, run) for p, run in zip(paths, execute_notebooks(paths, request.config))]
    return get


class NotebookItem(pytest.Item):
    def runtest(self):
        _, failure = execute_notebook(self.path, self.config)
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
