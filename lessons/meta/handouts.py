"""What the meta tests share: play a student who solved a handout's tasks, run pytest inside a
released handout and read its JUnit report."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from lessons.assignments import REPO, all_tasks, load_assignments
from lessons.honesty import is_op_backward
from lessons.regions import rewrite, scan
from lessons.release import numbered, region_bodies


@dataclass(frozen=True)
class Outcome:
    task: str
    name: str
    state: str  # "passed" or "failed"
    message: str  # the failure's message, e.g. "AssertionError: dx for x of shape (4, 6) ..."

    @property
    def assertion(self) -> bool:
        """Did it fail on a grader's assertion (not on a crash of the code under test)?"""
        return self.message.startswith(("AssertionError", "assert "))


def run_junit(folder: Path, *args, timeout=600) -> list[Outcome]:
    """Run pytest inside a handout (its own npgpt and lessons, not this repository's)."""
    report = folder / "report.xml"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(folder)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *args]
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    if not report.exists():
        raise RuntimeError(f"pytest wrote no report in {folder}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    found = []
    for case in ET.parse(report).iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        message = "" if bad is None else (bad.get("message") or bad.text or "")
        name = f"{case.get('classname')}::{case.get('name')}"
        found.append(Outcome(_task_of(folder, case), name, "passed" if bad is None else "failed", message))
    return found


def run_tests(folder: Path, *args, timeout=600) -> dict[str, list[tuple[str, str]]]:
    """Task id -> [(test id, "passed"|"failed")] of the tests run inside a handout."""
    outcomes = {}
    for o in run_junit(folder, *args, timeout=timeout):
        outcomes.setdefault(o.task, []).append((o.name, o.state))
    return outcomes


def _task_of(folder: Path, case) -> str:
    # the junit report does not carry markers: read the task from the test function's decorator
    module = folder / (case.get("classname").replace(".", "/") + ".py")
    func = case.get("name").split("[")[0]
    text = module.read_text()
    start = text.index(f"def {func}(")
    head = text[:start].rsplit("\n\n\n", 1)[-1]
    marker = head.split('@pytest.mark.task("', 1)[1]
    return marker.split('"', 1)[0]


def fill_with_reference(folder: Path, tasks: set[str] | None = None) -> None:
    """Play the student: put the reference back into a handout's YOUR CODE regions of ``tasks``
    (of every task when None)."""
    reference = region_bodies(REPO, "SOLUTION")
    for path in sorted({r.path for r in scan(folder) if r.kind == "YOUR CODE" and (tasks is None or r.task in tasks)}):
        key = numbered(str(path.relative_to(folder)))

        def swap(r, key=key):
            k = key(r)  # every region is counted, in order, whether or not it is filled
            if r.kind != "YOUR CODE" or (tasks is not None and r.task not in tasks):
                return None
            return "YOUR CODE", reference[k].splitlines()

        path.write_text(rewrite(path, path.read_text(), swap))


def cheat_assignment():
    """The assignment the grading meta tests cheat on: the first with a task whose region lies in an
    op's backward and whose tasks.toml lists forbidden names (attention: 7.3 may not call the
    composed attention). Returns (assignment, that task's id)."""
    forbidden = {tid: t.forbidden for tid, t in all_tasks().items()}
    for a in load_assignments():
        for r in scan(REPO):
            names = [n for n in forbidden.get(r.task, ()) if "." not in n]
            if r.task in a.tasks and names and not r.in_docstring and in_op_backward(r):
                return a, r.task
    raise LookupError("no assignment has a backward task with forbidden names")


def in_op_backward(region) -> bool:
    return is_op_backward(ast.parse(region.path.read_text()), region.start + 1)


def set_region(folder: Path, task: str, lines: list[str]) -> Path:
    """Replace the body of ``task``'s first code region in a handout by ``lines`` (at its indent)."""
    region = next(r for r in scan(folder) if r.task == task and not r.in_docstring)
    done = []

    def swap(r):
        if r.task != task or r.in_docstring or done:
            return None
        done.append(r)
        return r.kind, [r.indent + line if line else "" for line in lines]

    region.path.write_text(rewrite(region.path, region.path.read_text(), swap))
    return region.path


def stub_of(task: str) -> list[str]:
    return [f'raise NotImplementedError("Task {task}: not done")']


def reference_lines(task: str) -> list[str]:
    """The reference body of ``task``'s first code region, without its indent."""
    region = next(r for r in scan(REPO) if r.task == task and not r.in_docstring and r.kind == "SOLUTION")
    return [line[len(region.indent) :] for line in region.body.splitlines()]
