"""What the graders share: the ``task`` marker, ``--task`` to run one task, and the honesty check.

    python -m lessons.grade --task 6.2        # points per task (see lessons/grade.py)
    pytest lessons --task 6.2                 # the same tests with pytest's own report

Each graded test is marked ``@pytest.mark.task("6.2", points=3)``. Before a task's tests run, the
code in its regions (``### BEGIN YOUR CODE 6.2`` in a handout, ``### BEGIN SOLUTION 6.2`` here) is
read: a task whose code imports a ready-made implementation (torch, jax, transformers, npgpt's
PyTorch reference, ...) fails every one of its tests with a message that says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lessons.assignments import all_tasks
from lessons.regions import forbidden_imports, scan

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--task", default=None, help="run only the graded tests of this task, e.g. 5.2")


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id, points): the task a graded test belongs to and its points")


def pytest_collection_modifyitems(config, items):
    wanted = config.getoption("--task")
    if wanted:
        keep = [i for i in items if (m := i.get_closest_marker("task")) and m.args[0] == wanted]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    config._npgpt_cheats = _cheats({m.args[0] for i in items if (m := i.get_closest_marker("task"))})


def _cheats(tasks: set[str]) -> dict[str, str]:
    """Task -> what its code imports that it may not (only tasks that do)."""
    found, known = {}, all_tasks()
    for region in scan(ROOT):
        calls = known[region.task].forbidden if region.task in known else ()
        if region.task in tasks and not region.in_docstring and (bad := forbidden_imports(region, calls)):
            found[region.task] = f"{region.path.relative_to(ROOT)}: {', '.join(bad)}"
    return found


def pytest_runtest_setup(item):
    mark = item.get_closest_marker("task")
    cheats = getattr(item.config, "_npgpt_cheats", {})
    if mark and mark.args[0] in cheats:
        pytest.fail(
            f"Task {mark.args[0]}: your code hands the work to a ready-made implementation "
            f"({cheats[mark.args[0]]}); write it with NumPy. This task scores zero.",
            pytrace=False,
        )
