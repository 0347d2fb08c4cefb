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
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from lessons.assignments import LESSONS_DIR, all_tasks, find_assignment


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
        self._per_function = defaultdict(int)
        self._items = {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            mark = item.get_closest_marker("task")
            if mark:
                self._per_function[(item.path, item.originalname)] += 1
                self._items[item.nodeid] = (mark.args[0], float(mark.kwargs.get("points", 1)), item)

    def pytest_runtest_logreport(self, report):
        if report.nodeid not in self._items or not (report.when == "call" or report.failed or report.skipped):
            return
        if report.when != "call" and report.passed:
            return
        task, points, item = self._items.pop(report.nodeid)
        share = points / self._per_function[(item.path, item.originalname)]
        message = "" if report.passed else (report.longreprtext or "").strip().splitlines()[-1:]
        self.cases.append((task, report.nodeid, share, report.passed, " ".join(message)[:500]))


def table(cases, tasks) -> str:
    got, total, n_pass, n = defaultdict(float), defaultdict(float), defaultdict(int), defaultdict(int)
    for task, _, share, passed, _ in cases:
        total[task] += share
        got[task] += share * passed
        n[task] += 1
        n_pass[task] += passed
    lines = [f"{'task':<6}{'':<44}{'tests':>9}{'points':>14}", "-" * 73]
    for tid in sorted(total, key=lambda s: tuple(map(int, s.split(".")))):
        title = tasks[tid].title if tid in tasks else "(unknown task)"
        lines.append(f"{tid:<6}{title[:42]:<44}{n_pass[tid]:>4}/{n[tid]:<4}{got[tid]:>7.1f} /{total[tid]:>5.1f}")
    lines.append("-" * 73)
    lines.append(
        f"{'total':<50}{sum(n_pass.values()):>4}/{sum(n.values()):<4}{sum(got.values()):>7.1f} /{sum(total.values()):>5.1f}"
    )
    return "\n".join(lines)


def gradescope(cases) -> dict:
    tests = [
        {"name": f"Task {t}: {nodeid}", "score": round(share * passed, 4), "max_score": round(share, 4), "output": msg}
        for t, nodeid, share, passed, msg in cases
    ]
    return {"score": round(sum(share * passed for _, _, share, passed, _ in cases), 2), "tests": tests}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lessons.grade", description="grade the assignments present")
    p.add_argument("--assignment", help="only this assignment (a06, 6 or a06_layernorm)")
    p.add_argument("--task", help="only this task, e.g. 5.2")
    p.add_argument("--results", type=Path, help="write Gradescope's results.json here")
    p.add_argument("--hidden", type=Path, help="a folder with instructor-only tests: <it>/aNN_topic/hidden/test_*.py")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    args, extra = p.parse_known_args(argv)
    paths = [str(find_assignment(args.assignment).folder)] if args.assignment else [str(LESSONS_DIR)]
    scratch = _add_hidden(args.hidden) if args.hidden else []
    opts = ["-q", "-p", "no:cacheprovider"] + (["--task", args.task] if args.task else [])
    opts += ["--no-header", "--tb=no", "-q"] if args.quiet else ["--tb=short"]
    scorer = Scorer()
    try:
        code = pytest.main([*paths, *opts, *extra], plugins=[scorer])
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(table(scorer.cases, all_tasks()))
    if args.results:
        args.results.write_text(json.dumps(gradescope(scorer.cases), indent=1))
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not scorer.cases:
        return 2
    return 0 if all(c[3] for c in scorer.cases) else 1


def _add_hidden(folder: Path) -> list[Path]:
    """Copy instructor-only tests next to the graders (``aNN_topic/_hidden/``); returns what to remove.

    Only the assignments this handout holds get theirs (a handout holds one assignment's graders)."""
    made = []
    for test in sorted(Path(folder).glob("a[0-9][0-9]_*/hidden/test_*.py")):
        if not (LESSONS_DIR / test.parent.parent.name).is_dir():
            continue
        target = LESSONS_DIR / test.parent.parent.name / "_hidden"
        if not target.exists():
            target.mkdir()
            (target / "__init__.py").touch()
            made.append(target)
        shutil.copy2(test, target / test.name)
    return made


if __name__ == "__main__":
    sys.exit(main())
