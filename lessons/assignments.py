"""The assignments and their tasks, read from each ``lessons/aNN_topic/tasks.toml``.

A ``tasks.toml`` names the assignment and, for each task, the contract a student gets in place of
the reference (inputs, outputs, shapes, where the notebook explains it; never the formula)::

    title = "Layer normalization"
    notebook = "06_layer_normalization"

    [tasks."6.1"]
    title = "normalize"
    contract = "normalize(x, eps) -> (xhat, rstd) for x (..., C); rstd keeps the reduced axis (..., 1)."

A task with ``cumulative = true`` (a capstone) has no region of its own: its tests run on
everything the student wrote in the earlier assignments. ``forbidden = ["train"]`` names library
functions that already do the task (a fast version kept beside the readable one): the grader
scores a region that calls one of them zero, as it does a region that imports torch.

Task ids are ``<assignment number>.<n>``. A task's points are the sum of the ``points`` of the
graded tests marked ``@pytest.mark.task("6.1", points=...)``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

LESSONS_DIR = Path(__file__).resolve().parent
REPO = LESSONS_DIR.parent


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    contract: str
    assignment: str  # folder name, e.g. "a06_layernorm"
    cumulative: bool = False  # graded on everything written before (a capstone): it has no region
    forbidden: tuple[str, ...] = ()  # library functions the task's code may not call (they do the task)


@dataclass(frozen=True)
class Assignment:
    name: str  # folder name, e.g. "a06_layernorm"
    title: str
    notebook: str
    tasks: dict[str, Task] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return int(self.name[1:3])

    @property
    def folder(self) -> Path:
        return LESSONS_DIR / self.name


def load_assignments(lessons_dir: Path = LESSONS_DIR) -> list[Assignment]:
    """Every assignment folder that has a ``tasks.toml``, in number order."""
    found = []
    for path in sorted(Path(lessons_dir).glob("a[0-9][0-9]_*/tasks.toml")):
        name = path.parent.name
        try:
            data = tomllib.loads(path.read_text())
            tasks = {
                tid: Task(
                    tid,
                    t["title"],
                    t["contract"],
                    name,
                    bool(t.get("cumulative", False)),
                    tuple(t.get("forbidden", ())),
                )
                for tid, t in data.get("tasks", {}).items()
            }
            found.append(Assignment(name, data["title"], data.get("notebook", ""), tasks))
        except (tomllib.TOMLDecodeError, KeyError) as e:
            raise ValueError(f"{path}: {type(e).__name__}: {e}") from None
        for tid in tasks:
            if int(tid.split(".")[0]) != found[-1].number:
                raise ValueError(f"{path}: task {tid} does not belong to assignment {found[-1].number}")
    return found


def all_tasks(lessons_dir: Path = LESSONS_DIR) -> dict[str, Task]:
    return {tid: t for a in load_assignments(lessons_dir) for tid, t in a.tasks.items()}


def find_assignment(name: str, lessons_dir: Path = LESSONS_DIR) -> Assignment:
    """``a06``, ``6`` or ``a06_layernorm`` -> the assignment."""
    key = name.strip().lower().lstrip("a")
    for a in load_assignments(lessons_dir):
        if a.name == name or (key.isdigit() and a.number == int(key)):
            return a
    known = ", ".join(a.name for a in load_assignments(lessons_dir))
    raise ValueError(f"no assignment {name!r}; there are: {known}")
