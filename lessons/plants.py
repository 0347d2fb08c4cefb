"""Planted mistakes: realistic wrong versions of each task's reference, which its grader must catch.

Each assignment lists them in ``lessons/aNN_topic/plants.toml`` (instructor-only, never handed out)::

    [[plant]]
    task = "6.2"
    find = "dx -= a"            # text of the task's reference region (it must occur there once)
    replace = "dx += a"
    why = "the sign of the mean term"

The meta tests (``lessons/meta/test_plants.py``) apply them to a released tree, one plant per task
at a time (tasks are graded on their own, so one tree carries a plant for every task), run the
graders once, and require each planted task to FAIL WITH AN ASSERTION: a plant that only crashes
(a NameError, an infinite recursion) proves nothing about the grader and counts as a broken plant.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from lessons.assignments import LESSONS_DIR, load_assignments
from lessons.regions import rewrite, scan


@dataclass(frozen=True)
class Plant:
    task: str
    find: str
    replace: str
    why: str

    @property
    def name(self) -> str:
        return f"{self.task}: {self.why}"


def load_plants(lessons_dir: Path = LESSONS_DIR) -> dict[str, list[Plant]]:
    """Task id -> its plants, in the order the files list them."""
    found: dict[str, list[Plant]] = {}
    for a in load_assignments(lessons_dir):
        path = a.folder / "plants.toml"
        if not path.exists():
            continue
        for entry in tomllib.loads(path.read_text()).get("plant", []):
            plant = Plant(str(entry["task"]), entry["find"], entry["replace"], entry["why"])
            if plant.task not in a.tasks:
                raise ValueError(f"{path}: plant {plant.why!r} names task {plant.task}, not one of {sorted(a.tasks)}")
            found.setdefault(plant.task, []).append(plant)
    return found


def plant(folder: Path, plants: list[Plant]) -> None:
    """Apply each plant to the code region of its task in the tree ``folder`` (a release or the repo).

    The text to find must occur exactly once among the task's code regions (not in docstrings).
    """
    by_task = {p.task: p for p in plants}
    regions = [r for r in scan(folder) if r.task in by_task and not r.in_docstring]
    for p in plants:
        hits = sum(r.body.count(p.find) for r in regions if r.task == p.task)
        if hits != 1:
            raise ValueError(f"plant {p.name!r}: {p.find!r} occurs {hits} times in task {p.task}'s code, not once")
    for path in sorted({r.path for r in regions}):

        def swap(r):
            if r.in_docstring or r.task not in by_task or by_task[r.task].find not in r.body:
                return None
            return r.kind, r.body.replace(by_task[r.task].find, by_task[r.task].replace).splitlines()

        path.write_text(rewrite(path, path.read_text(), swap))
