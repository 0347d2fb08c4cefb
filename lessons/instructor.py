"""The grade of record, on the instructor's side: a student's code in the instructor's tree.

    python -m lessons.grade --submission STUDENT_REPO --assignment a07 [--results results.json]
    python -m lessons.grade --submission FOLDER_OF_REPOS --assignment a07 --out grades/
    python -m lessons.grade --gradescope a07 autograder.zip

Nothing the student can edit decides the score. The assignment is released afresh from this
repository (its tests, graders, conftest, ``pyproject.toml`` and every line outside the regions
are the instructor's); only the bodies of the student's ``### BEGIN YOUR CODE`` regions are taken
from the submission, each one first read by ``lessons.honesty`` (a refused region stays a stub and
its task scores zero, with a message naming the line). The expected tests and their points are
collected from that fresh copy before any student code is in it: a test that does not run counts
zero, a test the student added does not exist. The tests then run in a subprocess with a scrubbed
environment, no plugin autoloading, the instructor's config (``-c``, ``--rootdir``), and each test
in its own forked process with a time limit (``lessons.boxed``). For a capstone (a cumulative
task: every earlier region is the student's) that misses its bound, the earlier graders run too and
the feedback says which of the student's earlier tasks they now fail.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lessons import grade
from lessons.assignments import LESSONS_DIR, Assignment, find_assignment, load_assignments
from lessons.gradescope import write_zip
from lessons.honesty import check_region
from lessons.regions import Region, RegionError, find_regions, rewrite, scan
from lessons.release import FINITE_DIFFERENCES, SKIP, handed_out, release

CAPSTONE_TIME_LIMIT = 900.0  # the capstone trains a model: minutes on a laptop
SESSION = {"start_new_session": True} if hasattr(os, "killpg") else {}


@dataclass
class Graded:
    """One student's grade: every expected case, refusals per task, and notes on the submission."""

    name: str
    cases: list = field(default_factory=list)  # (task, test id, points, passed, message)
    refused: dict = field(default_factory=dict)  # task -> [messages]
    notes: list = field(default_factory=list)
    hidden: set = field(default_factory=set)

    def points(self) -> dict[str, tuple[float, float]]:
        got = defaultdict(lambda: [0.0, 0.0])
        for task, _, share, passed, _ in self.cases:
            got[task][0] += share * passed
            got[task][1] += share
        return {t: (g, m) for t, (g, m) in got.items()}


def is_capstone(a: Assignment) -> bool:
    return any(t.cumulative for t in a.tasks.values())


def graded_tasks(a: Assignment, assignments: list[Assignment]) -> set[str]:
    """The tasks whose regions are taken from the student: the assignment's own, or for a capstone
    every task of every earlier assignment."""
    if is_capstone(a):
        return {tid for b in assignments if b.number < a.number for tid in b.tasks}
    return set(a.tasks)


def build_base(a: Assignment, work: Path, hidden: bool) -> tuple[Path, list]:
    """The instructor's fresh copy with every graded region a stub, and the expected cases."""
    assignments = load_assignments()
    stubbed = graded_tasks(a, assignments) | handed_out(a, assignments)
    base = release(work / "base", a.name, only=stubbed)
    for b in assignments:  # a capstone's diagnosis runs the earlier graders
        if is_capstone(a) and b.number < a.number and not (base / "lessons" / b.name).exists():
            shutil.copytree(b.folder, base / "lessons" / b.name, ignore=SKIP)
    for b in assignments:  # the reference rules: the hidden tests compute with them
        if (b.folder / "answers.py").exists() and (base / "lessons" / b.name).exists():
            shutil.copy2(b.folder / "answers.py", base / "lessons" / b.name / "answers.py")
    # the earlier graders and the reference rules may check with central differences (instructor-side copy)
    if not (base / "lessons" / FINITE_DIFFERENCES).exists():
        shutil.copy2(LESSONS_DIR / FINITE_DIFFERENCES, base / "lessons" / FINITE_DIFFERENCES)
    hidden_tests = sorted((a.folder / "hidden").glob("test_*.py")) if hidden else []
    if hidden_tests:
        target = base / "lessons" / a.name / "_hidden"
        target.mkdir()
        (target / "__init__.py").touch()
        for test in hidden_tests:
            shutil.copy2(test, target / test.name)
    report = run_inner(base, [a.name], work / "expected.json", 60.0, ["--collect-only"], timeout=600)
    if not report or not report["collected"]:
        raise RuntimeError(f"no graded test of {a.name} could be collected in the instructor's copy")
    return base, report["collected"]


def run_inner(copy: Path, names: list[str], report: Path, time_limit: float, extra=(), timeout=None) -> dict | None:
    """``python -m lessons.grade`` inside ``copy`` with a scrubbed environment; its JSON report."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT") if k in os.environ}
    env |= {
        "PYTHONPATH": str(copy),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
    }
    cmd = [sys.executable, "-m", "lessons.grade", "--assignment", ",".join(names), "--quiet"]
    cmd += ["--report", str(report), "--time-limit", str(time_limit)]
    cmd += ["-c", str(copy / "pyproject.toml"), "--rootdir", str(copy), "-p", "no:cacheprovider", *extra]
    report.unlink(missing_ok=True)
    # its own session, so that a run past ``timeout`` is ended with every test process it forked
    proc = subprocess.Popen(cmd, cwd=copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **SESSION)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if SESSION:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()
    return json.loads(report.read_text()) if report.exists() else None


def student_bodies(student: Path, notes: list) -> dict[tuple[str, str, int], Region]:
    """(relative path, task, k) -> the student's k-th code region of that task in that file."""
    found = {}
    for folder in ("npgpt", "lessons"):
        for path in sorted((student / folder).rglob("*.py")):
            if path.is_symlink() or not path.is_file():
                continue
            rel = str(path.relative_to(student))
            try:
                regions = find_regions(path)
            except (RegionError, UnicodeDecodeError, SyntaxError) as e:
                notes.append(f"{rel}: its markers cannot be read ({e}); its regions count as missing")
                continue
            seen = defaultdict(int)
            for r in regions:
                if not r.in_docstring:
                    found[(rel, r.task, seen[r.task])] = r
                    seen[r.task] += 1
    return found


def handed_out_files(copy: Path, a: Assignment) -> list[Path]:
    """The files of the copy whose regions the student's handout had: the library and the
    assignment's own folder (not the earlier graders a capstone's diagnosis brings along)."""
    own = copy / "lessons" / a.name
    return sorted({r.path for r in scan(copy) if r.path.is_relative_to(copy / "npgpt") or r.path.is_relative_to(own)})


def insert(student: Path, copy: Path, a: Assignment, tasks: set[str], forbidden: dict, notes: list) -> dict:
    """Put the student's region bodies of ``tasks`` into ``copy``; returns task -> refusals."""
    theirs = student_bodies(student, notes)
    refused = defaultdict(list)
    for path in handed_out_files(copy, a):
        rel = str(path.relative_to(copy))
        seen, chosen = defaultdict(int), {}
        for r in find_regions(path):
            if r.in_docstring or r.task not in tasks:
                continue
            key = (rel, r.task, seen[r.task])
            seen[r.task] += 1
            mine = theirs.get(key)
            if mine is None:
                refused[r.task].append(f"{rel}: your region {r.task} is missing (its markers were removed?)")
                continue
            why = check_region(mine, ast.parse(path.read_text()), forbidden.get(r.task, ()), context=r.start + 1)
            if why:
                refused[r.task] += [f"{rel}:{w.removeprefix('line ')}" for w in why]
                continue
            body = [line[len(mine.indent) :] for line in mine.body.splitlines()]
            chosen[r.start] = [(r.indent + line) if line.strip() else "" for line in body]
        path.write_text(rewrite(path, path.read_text(), lambda r, c=chosen: _swap(r, c)))
    return dict(refused)


def _swap(r: Region, chosen: dict):
    return ("YOUR CODE", chosen[r.start]) if r.start in chosen else None


def grade_one(student: Path, name: str, a: Assignment, base: Path, expected: list, work: Path, time_limit) -> Graded:
    """Grade one student's repository in a copy of ``base``."""
    g = Graded(name)
    assignments = load_assignments()
    tasks = graded_tasks(a, assignments)
    forbidden = {tid: t.forbidden for b in assignments for tid, t in b.tasks.items()}
    copy = work / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(base, copy, symlinks=True)
    refused = insert(student, copy, a, tasks, forbidden, g.notes)
    limit = time_limit or (CAPSTONE_TIME_LIMIT if is_capstone(a) else grade.TIME_LIMIT)
    report = run_inner(copy, [a.name], work / "report.json", limit, timeout=limit * len(expected) + 300)
    ran = {c[1]: c for c in (report or {}).get("cases", [])}
    outside = [w for t, ws in refused.items() if t not in a.tasks for w in ws]  # a capstone's earlier regions
    for task, nodeid, share in expected:
        why = refused.get(task) or outside
        if why:
            msg = "Your code is refused; this task scores zero:\n" + "\n".join(why)
            g.cases.append((task, nodeid, share, False, msg))
        elif nodeid in ran:
            g.cases.append((task, nodeid, share, bool(ran[nodeid][3]), ran[nodeid][4]))
        else:
            g.cases.append((task, nodeid, share, False, "this test did not run: its module failed to import"))
        if "/_hidden/" in nodeid:
            g.hidden.add(nodeid)
    g.refused = refused
    if is_capstone(a) and any(not c[3] for c in g.cases):
        g.notes += diagnose(copy, a, assignments, work, limit)
    shutil.rmtree(copy, ignore_errors=True)
    return g


def diagnose(copy: Path, a: Assignment, assignments: list[Assignment], work: Path, limit: float) -> list[str]:
    """Which earlier task's grader the student's code (now in ``copy``) fails."""
    in_library = {r.task for path in handed_out_files(copy, a) for r in find_regions(path)}
    earlier = [b.name for b in assignments if b.number < a.number and set(b.tasks) & in_library]
    report = run_inner(copy, earlier, work / "earlier.json", min(limit, grade.TIME_LIMIT), timeout=3600)
    failing = defaultdict(lambda: [0, 0])
    for task, _, _, passed, _ in (report or {}).get("cases", []):
        failing[task][1] += 1
        failing[task][0] += not passed
    order = sorted(failing.items(), key=lambda kv: grade.task_key(kv[0]))
    bad = [f"{t} ({f}/{n} of its tests fail)" for t, (f, n) in order if f]
    if not bad:
        return ["The earlier graders all pass on your code: the model trains, but not well enough."]
    return ["Your code of earlier tasks now fails their graders: " + ", ".join(bad) + ". Fix those first."]


def feedback(g: Graded, a: Assignment) -> str:
    """A student's feedback file: the table, each failure's message, the notes."""
    visible = [c for c in g.cases if c[1] not in g.hidden]
    lines = [f"# {a.name}: feedback for {g.name}", "", "```", grade.table(g.cases, a.tasks), "```", ""]
    if len(visible) < len(g.cases):
        lines.append("(the table includes the instructor's hidden tests)\n")
    for task, nodeid, _, passed, message in g.cases:
        if not passed:
            lines += [f"## FAIL task {task}: {nodeid}", "", "```", message.strip(), "```", ""]
    lines += [f"- {n}" for n in g.notes]
    return "\n".join(lines) + "\n"


def roster(graded: list[Graded], a: Assignment, path: Path) -> None:
    """One row per student: points per task, total, the failing tasks."""
    tasks = sorted(a.tasks, key=grade.task_key)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["student", *tasks, "total", "max", "failures"])
        for g in graded:
            pts = g.points()
            row = [grade._points(pts.get(t, (0, 0))[0]) for t in tasks]
            total, top = sum(p[0] for p in pts.values()), sum(p[1] for p in pts.values())
            failed = sorted({t for t, _, _, ok, _ in g.cases if not ok}, key=grade.task_key)
            why = "; ".join(f"{t}: refused" if t in g.refused else t for t in failed)
            out.writerow([g.name, *row, grade._points(total), grade._points(top), why])


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """(name, repository) pairs: ``folder`` itself if it is a repository, else each subfolder that is."""
    if (folder / "npgpt").is_dir() or (folder / "lessons").is_dir():
        return [(folder.name, folder)]
    return [(p.name, p) for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def guess_assignment(folder: Path) -> Assignment:
    names = sorted({p.parent.name for p in folder.glob("lessons/a[0-9][0-9]_*/tasks.toml")})
    if len(names) != 1:
        raise ValueError(f"{folder}: say which assignment to grade with --assignment (found {names or 'none'})")
    return find_assignment(names[0])


def main(args) -> int:
    try:
        if args.gradescope:
            print(f"wrote {write_zip(find_assignment(args.gradescope[0]), Path(args.gradescope[1]))}")
            return 0
        if not args.submission.is_dir():
            raise ValueError(f"{args.submission} is not a folder (a student's repository, or a folder of them)")
        repos = submissions(args.submission)
        if not repos:
            raise ValueError(f"{args.submission}: no submission in it")
        a = find_assignment(args.assignment) if args.assignment else guess_assignment(repos[0][1])
        return grade_all(args, a, repos)
    except (ValueError, OSError, RuntimeError, RegionError) as e:
        print(f"lessons.grade: {e}", file=sys.stderr)
        if args.results:  # Gradescope must always get a results.json
            try:
                args.results.write_text(json.dumps({"score": 0, "output": f"grading failed: {e}", "tests": []}))
            except OSError:
                pass
        return 2


def grade_all(args, a: Assignment, repos: list[tuple[str, Path]]) -> int:
    hidden = not args.no_hidden
    with tempfile.TemporaryDirectory(prefix="npgpt-grade-") as tmp:
        work = Path(tmp)
        base, expected = build_base(a, work, hidden)
        questions = grade.questions_of(a.folder)
        graded = [grade_one(repo, name, a, base, expected, work, args.time_limit) for name, repo in repos]
    if len(repos) == 1 and not args.out:
        g = graded[0]
        print(grade.table(g.cases, a.tasks))
        for n in g.notes + [f"task {t} refused: {w}" for t, ws in g.refused.items() for w in ws]:
            print(n)
        if args.results:
            args.results.write_text(json.dumps(grade.gradescope(g.cases, a.tasks, g.hidden, questions), indent=1))
        return 0 if all(c[3] for c in g.cases) else 1
    out = args.out or Path("grades")
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(exist_ok=True)
    for g in graded:
        (out / "feedback" / f"{g.name}.md").write_text(feedback(g, a))
        results = grade.gradescope(g.cases, a.tasks, g.hidden, questions)
        (out / "results" / f"{g.name}.json").write_text(json.dumps(results, indent=1))
    roster(graded, a, out / "roster.csv")
    print(f"graded {len(graded)} submissions of {a.name}: {out / 'roster.csv'}, {out / 'feedback'}/")
    return 0
