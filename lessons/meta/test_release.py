"""The classroom kit proves itself: every task's stub fails its own tests and only those, the
reference passes them, a handout holds no solution, cheating is detected, and a course in
sequence carries the student's code from one handout to the next.

Handouts are written with ``lessons.release`` into temporary folders and graded there in a
subprocess (the handout's own ``npgpt`` and ``lessons`` packages, not this repository's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest

from lessons import guide
from lessons.assignments import REPO, all_tasks, load_assignments
from lessons.grade import collect_points
from lessons.meta.handouts import fill_with_reference, run_tests
from lessons.regions import scan
from lessons.release import ReleaseError, release

TASKS = all_tasks()
OWN = [tid for tid, t in TASKS.items() if not t.cumulative]
ASSIGNMENTS = load_assignments()


def test_every_region_belongs_to_a_declared_task_and_every_task_is_graded():
    regions = scan(REPO)
    points = collect_points()
    assert {r.task for r in regions} <= set(TASKS), "a region names a task no tasks.toml declares"
    for tid, task in TASKS.items():
        assert points.get(tid, 0) > 0, f"task {tid} ({task.assignment}) has no graded test with points"
        assert task.contract.strip(), f"task {tid} has no contract"


def test_every_task_is_worth_whole_points():
    """Gradescope shows one entry per task: its points must be whole (parametrized cases share them)."""
    fractional = {tid: p for tid, p in collect_points().items() if p != int(p)}
    assert not fractional, f"tasks worth a fraction of a point: {fractional}"


def test_contracts_do_not_repeat_the_reference():
    for r in scan(REPO):
        for line in r.body.splitlines():
            line = line.strip()
            assert len(line) < 20 or line not in TASKS[r.task].contract, f"task {r.task}'s contract quotes its solution"


@pytest.fixture(scope="module")
def all_stubbed(tmp_path_factory):
    return release(tmp_path_factory.mktemp("handout") / "all", None)


@pytest.mark.slow
def test_every_task_fails_on_its_stub(all_stubbed):
    outcomes = run_tests(all_stubbed, "lessons")
    for tid in TASKS:
        results = outcomes.get(tid, [])
        assert results, f"no test of task {tid} ran in the handout"
        passing = [name for name, state in results if state == "passed"]
        assert not passing, f"task {tid}: these tests pass on the stub, so they grade nothing: {passing}"


def test_the_handout_holds_no_solution(all_stubbed):
    released = [p for p in all_stubbed.rglob("*.py")]
    for region in scan(all_stubbed):
        assert region.kind == "YOUR CODE", f"{region.path}: a SOLUTION region in the handout"
        assert region.in_docstring or "NotImplementedError" in region.body, f"task {region.task} is not a stub"
    assert not (all_stubbed / "lessons" / "meta").exists() and not (all_stubbed / "lessons" / "release.py").exists()
    assert released, "the handout has no code"


@pytest.mark.slow
@pytest.mark.parametrize("tid", sorted(OWN, key=lambda s: tuple(map(int, s.split(".")))))
def test_each_task_is_graded_on_its_own(tid, tmp_path):
    """With only this task stubbed, its tests fail and every other test of its assignment passes.

    A cumulative task (the capstone) has no region to stub: it fails in the all-stubbed handout
    and passes on the reference (the normal suite runs it), which is all there is to prove.
    """
    task = TASKS[tid]
    folder = release(tmp_path / "one", None, only={tid})
    outcomes = run_tests(folder, f"lessons/{task.assignment}")
    assert all(state == "failed" for _, state in outcomes.get(tid, [("none ran", "passed")])), (
        f"task {tid}: some of its tests pass without its code"
    )
    for other, results in outcomes.items():
        if other != tid:
            broken = [name for name, state in results if state == "failed"]
            assert not broken, f"task {other}'s tests fail when only task {tid} is missing: {broken}"


def test_cheating_is_detected(tmp_path):
    first = next(a for a in reversed(ASSIGNMENTS) if any(not t.cumulative for t in a.tasks.values()))
    tid = next(t for t in first.tasks if not first.tasks[t].cumulative)
    folder = release(tmp_path / "h", first.name)
    fill_with_reference(folder)
    region = next(r for r in scan(folder) if r.task == tid and not r.in_docstring)
    lines = region.path.read_text().splitlines()
    lines.insert(region.start + 1, region.indent + "import torch  # noqa")
    region.path.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(folder)}
    out = subprocess.run(
        [sys.executable, "-m", "lessons.grade", "--task", tid], cwd=folder, env=env, capture_output=True, text=True
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "your code is refused" in out.stdout and "imports torch" in out.stdout


def test_a_course_in_sequence_carries_the_students_code(tmp_path):
    if len(ASSIGNMENTS) < 2:
        pytest.skip("needs two assignments")
    first, second = ASSIGNMENTS[0], ASSIGNMENTS[1]
    previous = release(tmp_path / "first", first.name)
    fill_with_reference(previous)
    marker = "# the student's own line"
    region = next(r for r in scan(previous) if r.assignment == first.number and not r.in_docstring)
    lines = region.path.read_text().splitlines()
    lines.insert(region.start + 1, region.indent + marker)
    region.path.write_text("\n".join(lines) + "\n")
    nxt = release(tmp_path / "second", second.name, previous=previous)
    carried = [r for r in scan(nxt) if r.task == region.task and r.path == nxt / region.path.relative_to(previous)]
    carried = [r for r in carried if not r.in_docstring]
    assert carried and marker in carried[0].body
    assert all(marker not in r.body for r in carried[1:]), "the student's line went into another region of the task"
    with pytest.raises(ReleaseError, match="previous handout"):
        release(tmp_path / "third", second.name, previous=tmp_path / "nothing-here")


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not empty"):
        release(tmp_path / "x", None)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_the_handout_installs_and_grades_in_a_fresh_virtual_environment(tmp_path):
    """The student README's two commands, as written, in a new, empty venv (packages from the index)."""
    first = ASSIGNMENTS[0]
    folder = release(tmp_path / "h", first.name)
    readme = (folder / "README.md").read_text()
    assert "python -m pip install -e .\npython -m lessons.grade" in readme
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = subprocess.run(
        [py, "-m", "pip", "install", "-q", "-e", "."], cwd=folder, env=env, capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr[-2000:]
    graded = subprocess.run([py, "-m", "lessons.grade"], cwd=folder, env=env, capture_output=True, text=True)
    assert graded.returncode == 1, graded.stdout[-3000:] + graded.stderr[-2000:]  # stubs: every task fails
    assert "total" in graded.stdout and "0.0 /" in graded.stdout
    where = subprocess.run(
        [py, "-c", "import npgpt; print(npgpt.__file__)"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert where.stdout.startswith(str(folder)), f"the venv imports npgpt from {where.stdout}"


def test_hidden_tests_run_only_at_grading_time_and_answers_stay_behind(tmp_path):
    hidden = sorted(REPO.glob("lessons/a[0-9][0-9]_*/hidden/test_*.py"))
    assert hidden, "no assignment has instructor-only hidden tests"
    name = hidden[0].parents[1].name
    folder = release(tmp_path / "h", name)
    assert not list(folder.rglob("hidden")), "hidden tests were handed out"
    questions = folder / "lessons" / name / "questions.md"
    if (REPO / "lessons" / name / "questions.md").exists():
        assert "## Q" in questions.read_text() and "ANSWER" not in questions.read_text(), "rubric handed out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(folder)}
    grade = [sys.executable, "-m", "lessons.grade", "--assignment", name, "--hidden", str(REPO / "lessons")]
    hidden_names = {
        line.split("(")[0][4:] for line in hidden[0].read_text().splitlines() if line.startswith("def test_")
    }
    handed = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.py"))
    for solved in (False, True):
        if solved:
            fill_with_reference(folder)
        out = subprocess.run([*grade, "--results", "r.json"], cwd=folder, env=env, capture_output=True, text=True)
        assert out.returncode == (0 if solved else 1), out.stdout[-3000:] + out.stderr[-2000:]
        tests = json.loads((folder / "r.json").read_text())["tests"]
        ran = [t for t in tests if t["name"].endswith("(hidden tests)")]
        outputs = "\n".join(t["output"] for t in ran)
        assert all(h in outputs for h in hidden_names), f"hidden tests graded: {outputs}"
        assert all(t["visibility"] == "after_published" for t in ran)
        assert all((t["score"] == t["max_score"]) == solved for t in ran)
    assert not list(folder.rglob("_hidden")), "grading left the hidden tests in the handout"
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.py")) != handed
    assert not left and not list(folder.rglob("answers.py")), "grading left the reference rules in the handout"


def test_calling_a_forbidden_library_function_is_cheating(tmp_path):
    tid, task = next((tid, t) for tid, t in TASKS.items() if t.forbidden)
    folder = release(tmp_path / "h", task.assignment)
    fill_with_reference(folder)
    region = next(r for r in scan(folder) if r.task == tid and not r.in_docstring)
    lines = region.path.read_text().splitlines()
    lines.insert(region.start + 1, region.indent + f"_ = {task.forbidden[0]}(*[[], 0])")
    region.path.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(folder)}
    out = subprocess.run(
        [sys.executable, "-m", "lessons.grade", "--task", tid], cwd=folder, env=env, capture_output=True, text=True
    )
    assert out.returncode == 1, out.stdout + out.stderr
    name = task.forbidden[0].split(".")[0]
    assert "your code is refused" in out.stdout and f"uses {name}, which this task forbids" in out.stdout


def _cells(path):
    return [("".join(c["source"]), c["cell_type"]) for c in json.loads(path.read_text())["cells"]]


def test_the_handout_carries_its_notebooks_with_every_answer_taken_out(all_stubbed):
    """The README's notebook links resolve; each "your turn" cell is a stub whose check (a later
    cell calling it) fails until the student writes it; the folded answers are gone."""
    readme = (all_stubbed / "README.md").read_text()
    for a in ASSIGNMENTS:
        path = all_stubbed / "notebooks" / f"{a.notebook}.ipynb"
        assert path.exists() and f"notebooks/{a.notebook}.ipynb" in readme, f"{a.name}: no notebook {path.name}"
    for path in sorted((all_stubbed / "notebooks").glob("*.ipynb")):
        cells = _cells(path)
        original = _cells(REPO / "notebooks" / path.name)
        assert not any("<summary>Answer</summary>" in src for src, _ in cells), f"{path.name}: a folded answer"
        exercises = [i for i, (src, kind) in enumerate(cells) if kind == "code" and "# your code here" in src]
        for i in exercises:
            src = cells[i][0]
            assert src.count("# your code here") == src.count("NotImplementedError("), f"{path.name}: {src}"
            kept = {line.strip() for line in src.splitlines()}
            leaked = [x for x in _answer_lines(original[i][0]) if x in kept]
            assert not leaked, f"{path.name}: the answer is still there: {leaked}"
            names = [line.split("(")[0][4:] for line in src.splitlines() if line.startswith("def ")]
            later = src.split("NotImplementedError(")[-1] + "\n".join(s for s, k in cells[i + 1 :] if k == "code")
            assert all(f"{n}(" in later for n in names), f"{path.name}: nothing checks {names}"


def _answer_lines(source):
    """The lines of the block after each ``# your code here`` of a repository notebook's cell."""
    found, block = [], None
    for line in source.splitlines():
        indent = len(line) - len(line.lstrip())
        if line.strip().startswith("# your code here"):
            block = indent
        elif block is not None and line.strip() and indent < block:
            block = None
        elif block is not None and line.strip():
            found.append(line.strip())
    return found


def test_the_instructor_guide_covers_every_assignment_and_is_current():
    words = tomllib.loads(guide.WORDS.read_text())
    for a in ASSIGNMENTS:
        entry = words.get(guide.topic(a), {})
        assert entry.get("objectives") and entry.get("hours"), f"{a.name}: no objectives or hours in guide.toml"
        unknown = set(entry.get("prerequisites", [])) - {guide.topic(b) for b in ASSIGNMENTS}
        assert not unknown, f"{a.name}: prerequisites name no assignment: {unknown}"
    assert guide.GUIDE.read_text() == guide.render(), "lessons/GUIDE.md is out of date: python -m lessons.guide"
