"""What the graders share: the ``task`` marker, ``--task`` to run one task, and the honesty check.

    python -m lessons.grade --task 6.2        # points per task (see lessons/grade.py)
    pytest lessons --task 6.2                 # the same tests with pytest's own report

Each graded test is marked ``@pytest.mark.task("6.2", points=3)``. Before a task's tests run, the
code in its regions (``### BEGIN YOUR CODE 6.2`` in a handout, ``### BEGIN SOLUTION 6.2`` here) is
read by ``lessons.honesty``: a task whose code imports, reaches the interpreter or the grader, or
calls what its task forbids fails every one of its tests with a message naming the line.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from lessons.assignments import all_tasks
from lessons.honesty import check_file
from lessons.regions import RegionError, scan

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
    """Task -> why its code is refused (only tasks that are)."""
    forbidden = {tid: t.forbidden for tid, t in all_tasks().items()}
    try:
        regions = scan(ROOT)
    except RegionError as e:
        return {t: f"the markers are broken: {e}" for t in tasks}
    by_file = defaultdict(list)
    for r in regions:
        if r.task in tasks:
            by_file[r.path].append(r)
    found = {}
    for path, rs in by_file.items():
        for task, why in check_file(path, rs, forbidden, str(path.relative_to(ROOT))).items():
            found[task] = "; ".join(why)
    return found


def pytest_runtest_setup(item):
    mark = item.get_closest_marker("task")
    cheats = getattr(item.config, "_npgpt_cheats", {})
    if mark and mark.args[0] in cheats:
        pytest.fail(
            f"Task {mark.args[0]}: your code is refused ({cheats[mark.args[0]]}): write it with NumPy, "
            "without imports or ready-made implementations. This task scores zero.",
            pytrace=False,
        )
