"""Grade a handout: run the graded tests, print points per task, write Gradescope's results.json.

    python -m lessons.grade                       # every assignment present
    python -m lessons.grade --task 6.2            # one task (exit 0 only if all its tests pass)
    python -m lessons.grade --assignment a06 --results results.json
    python -m lessons.grade --hidden INSTRUCTOR_REPO/lessons   # add instructor-only tests

Each graded test carries ``@pytest.mark.task("6.2", points=3)``. A test function's points are
shared equally by its parametrized cases; a task's points are the sum over its test functions.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from lessons.assignments import LESSONS_DIR, all_tasks, find_assignment
from lessons.boxed import Boxed

try:  # instructor-only (grading submissions, the Gradescope zip): not in a handout
    from lessons import instructor
except ImportError:
    instructor = None

TIME_LIMIT = 300.0  # seconds per test: far above any grader's need (the capstone's run aside), ends a loop


def _task_mark(decorator) -> tuple[str, float] | None:
    """("6.2", 3.0) from the AST of ``@pytest.mark.task("6.2", points=3)``; None for other decorators."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return None
    if decorator.func.attr != "task" or not decorator.args:
        return None
    points = next((k.value.value for k in decorator.keywords if k.arg == "points"), 1)
    return str(decorator.args[0].value), float(points)


def collect_points(lessons_dir: Path = LESSONS_DIR) -> dict[str, float]:
    """Task id -> points, read from the graders' source (no test runs)."""
    points = defaultdict(float)
    for path in sorted(Path(lessons_dir).glob("a[0-9][0-9]_*/test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for mark in filter(None, map(_task_mark, node.decorator_list)):
                    points[mark[0]] += mark[1]
    return {k: (int(v) if v == int(v) else v) for k, v in points.items()}


class Scorer:
    """A pytest plugin: the score of each graded test case, from its task marker and outcome."""

    def __init__(self):
        self.cases = []  # (task, nodeid, points, passed, message)
        self.collected = []  # (task, nodeid, points) of every graded test collected
        self._per_function = defaultdict(int)
        self._items = {}

    def pytest_collection_finish(self, session):
        for item in session.items:  # after every deselection (--task, -k)
            mark = item.get_closest_marker("task")
            if mark:
                self._per_function[(item.path, item.originalname)] += 1
                self._items[item.nodeid] = (mark.args[0], float(mark.kwargs.get("points", 1)), item)
        for nodeid, (task, points, item) in self._items.items():
            share = points / self._per_function[(item.path, item.originalname)]
            self.collected.append((task, nodeid, share))

    def pytest_runtest_logreport(self, report):
        if report.nodeid not in self._items or not (report.when == "call" or report.failed or report.skipped):
            return
        if report.when != "call" and report.passed:
            return
        task, points, item = self._items.pop(report.nodeid)
        share = points / self._per_function[(item.path, item.originalname)]
        self.cases.append((task, report.nodeid, share, report.passed, "" if report.passed else _message(report)))


def _message(report) -> str:
    """The grader's message: the assertion's text (what was compared, shape, mismatch), not the traceback."""
    text = (report.longreprtext or "").strip()
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("E ")]
    if starts:
        lines = [line[1:].strip() for line in lines[starts[0] :] if line.startswith("E ")]
    return "\n".join(lines[-40:])[:4000]


def table(cases, tasks) -> str:
    got, total, n_pass, n = defaultdict(float), defaultdict(float), defaultdict(int), defaultdict(int)
    for task, _, share, passed, _ in cases:
        total[task] += share
        got[task] += share * passed
        n[task] += 1
        n_pass[task] += passed
    lines = [f"{'task':<6}{'':<44}{'tests':>9}{'points':>14}", "-" * 73]
    for tid in sorted(total, key=task_key):
        title = tasks[tid].title if tid in tasks else "(unknown task)"
        lines.append(f"{tid:<6}{title[:42]:<44}{n_pass[tid]:>4}/{n[tid]:<4}{got[tid]:>7.1f} /{total[tid]:>5.1f}")
    lines.append("-" * 73)
    lines.append(
        f"{'total':<50}{sum(n_pass.values()):>4}/{sum(n.values()):<4}{sum(got.values()):>7.1f} /{sum(total.values()):>5.1f}"
    )
    return "\n".join(lines)


def task_key(tid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in tid.split(".") if p.isdigit())


def _points(x: float) -> float | int:
    x = round(x, 4)
    return int(x) if x == int(x) else x


def gradescope(cases, tasks, hidden=frozenset(), questions=()) -> dict:
    """Gradescope's results.json: one entry per task (its points whole, its cases in the output),
    the instructor-only cases of a task in an entry of their own, shown after grades are published,
    and each written question as an entry of 0 points that says it is graded by hand.

    ``cases`` are (task, test id, points, passed, message); ``hidden`` holds the test ids of the
    hidden cases; ``questions`` are (name, points) pairs."""
    groups = defaultdict(list)
    for case in cases:
        groups[(case[0], case[1] in hidden)].append(case)
    tests = []
    for (tid, is_hidden), group in sorted(groups.items(), key=lambda kv: (task_key(kv[0][0]), kv[0][1])):
        title = tasks[tid].title if tid in tasks else "(unknown task)"
        got, top = sum(c[2] * c[3] for c in group), sum(c[2] for c in group)
        lines = [f"{'PASS' if c[3] else 'FAIL'} {c[1]}" + ("" if c[3] else f"\n    {c[4]}") for c in group]
        tests.append(
            {
                "name": f"Task {tid}: {title}" + (" (hidden tests)" if is_hidden else ""),
                "number": tid,
                "score": _points(got),
                "max_score": _points(top),
                "status": "passed" if got == top else "failed",
                "output": f"{sum(c[3] for c in group)}/{len(group)} tests passed\n" + "\n".join(lines),
                "visibility": "after_published" if is_hidden else "visible",
            }
        )
    for name, points in questions:
        tests.append(
            {
                "name": f"Written question {name} (graded by hand, {points} points)",
                "score": 0,
                "max_score": 0,
                "output": "Graded by hand from questions.md: its points are added in Gradescope's manual grading.",
                "visibility": "visible",
            }
        )
    score = sum(t["score"] for t in tests)
    return {"score": _points(score), "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def questions_of(folder: Path) -> list[tuple[str, int]]:
    """(name, points) of each written question of an assignment: ``## Q7.1 ...`` and the
    ``Rubric (N points)`` of its answer block (instructor copies only: handouts lose the rubric)."""
    path = Path(folder) / "questions.md"
    if not path.exists():
        return []
    found = []
    for block in path.read_text().split("\n## ")[1:]:
        name = block.split()[0]
        m = re.search(r"Rubric \((\d+) points?\)", block)
        found.append((name, int(m.group(1)) if m else 0))
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lessons.grade", description="grade the assignments present")
    p.add_argument("--assignment", help="only this assignment (a06, 6 or a06_layernorm)")
    p.add_argument("--task", help="only this task, e.g. 5.2")
    p.add_argument("--results", type=Path, help="write Gradescope's results.json here")
    p.add_argument("--hidden", type=Path, help="a folder with instructor-only tests: <it>/aNN_topic/hidden/test_*.py")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    p.add_argument("--time-limit", type=float, help=f"seconds per test (default {TIME_LIMIT:g}; a capstone's longer)")
    p.add_argument("--report", type=Path, help=argparse.SUPPRESS)  # JSON of every case, for --submission
    p.add_argument("--submission", type=Path, help="instructor: grade a student's repository (or a folder of them)")
    p.add_argument("--out", type=Path, help="with --submission: where the roster and feedback go")
    p.add_argument("--no-hidden", action="store_true", help="with --submission: leave the hidden tests out")
    p.add_argument("--gradescope", nargs=2, metavar=("ASSIGNMENT", "ZIP"), help="instructor: write an autograder zip")
    args, extra = p.parse_known_args(argv)
    if args.time_limit is not None and not args.time_limit > 0:
        p.error("--time-limit must be a positive number of seconds")
    if args.submission or args.gradescope:
        if instructor is None:
            print("lessons.grade: --submission and --gradescope run from the course repository", file=sys.stderr)
            return 2
        return instructor.main(args)
    try:
        names = args.assignment.split(",") if args.assignment else []
        paths = [str(find_assignment(n).folder) for n in names] or [str(LESSONS_DIR)]
    except ValueError as e:
        p.error(str(e))
    scratch = _add_hidden(args.hidden) if args.hidden else []
    # one process: Boxed forks each test from here and the Scorer counts what this process collected
    # (the course repository's addopts start pytest-xdist workers, which would run the tests unboxed)
    opts = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=-ra"]
    opts += ["--task", args.task] if args.task else []
    opts += ["--no-header", "--tb=no", "-q"] if args.quiet else ["--tb=short"]
    scorer = Scorer()
    code = pytest.ExitCode.INTERNAL_ERROR
    try:
        code = pytest.main([*paths, *opts, *extra], plugins=[scorer, Boxed(args.time_limit or TIME_LIMIT)])
    finally:
        for path in scratch:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        _write(args, scorer)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not scorer.cases:
        return 2
    return 0 if all(c[3] for c in scorer.cases) else 1


def _write(args, scorer: Scorer) -> None:
    """The table and results, whatever happened to the run."""
    print()
    print(table(scorer.cases, all_tasks()))
    hidden = {c[1] for c in scorer.cases if "/_hidden/" in c[1]}
    if args.results:
        args.results.write_text(json.dumps(gradescope(scorer.cases, all_tasks(), hidden), indent=1))
    if args.report:
        report = {"collected": scorer.collected, "cases": scorer.cases}
        args.report.write_text(json.dumps(report))


def _add_hidden(folder: Path) -> list[Path]:
    """Copy instructor-only tests next to the graders (``aNN_topic/_hidden/``), with the reference
    rules they compute with (``answers.py``, and ``finite_differences.py`` if the handout lacks it);
    returns what to remove.

    Only the assignments this handout holds get theirs (a handout holds one assignment's graders)."""
    made = []
    for test in sorted(Path(folder).glob("a[0-9][0-9]_*/hidden/test_*.py")):
        here = LESSONS_DIR / test.parent.parent.name
        if not here.is_dir():
            continue
        target = here / "_hidden"
        if not target.exists():
            target.mkdir()
            (target / "__init__.py").touch()
            made.append(target)
        shutil.copy2(test, target / test.name)
        answers = test.parent.parent / "answers.py"
        if answers.exists() and not (here / "answers.py").exists():
            shutil.copy2(answers, here / "answers.py")
            made.append(here / "answers.py")
    # the reference rules may compute with central differences, which a handout where 2.1 is a stub lacks
    tool = Path(folder) / "finite_differences.py"
    if made and tool.exists() and not (LESSONS_DIR / tool.name).exists():
        shutil.copy2(tool, LESSONS_DIR / tool.name)
        made.append(LESSONS_DIR / tool.name)
    return made


if __name__ == "__main__":
    sys.exit(main())
