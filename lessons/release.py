"""Write a student handout: a self-contained, history-free repository with the solutions taken out.

    python -m lessons.release --assignment a06 OUT          # hand out assignment 6
    python -m lessons.release --all OUT                     # every assignment at once
    python -m lessons.release --assignment a08 OUT --from STUDENT_REPO   # a course in sequence

What OUT holds: ``npgpt/`` (the library) with the regions of the assignment's tasks, and of every
later assignment's, replaced by stubs that raise ``NotImplementedError("Task 6.2: <contract>")``;
the regions of earlier assignments filled with the reference (or, with ``--from``, with the
student's own code from their previous handout); ``lessons/`` with the graders of the assignment
(their points in ``@pytest.mark.task``), the grading tools and the written questions without their
answers; ``notebooks/`` with the lesson notebook of the assignment, its exercises stubbed and its
folded answers removed (``lessons.student_notebooks``); a README for students; a
``pyproject.toml`` whose install and test commands work on a
fresh machine; and a GitHub Classroom autograding workflow. Instructor-only material (the meta
tests, hidden tests, the graders' reference rules in ``answers.py`` (the handout's graders read what they give on
the public cases from ``expected.npz``), the rubrics, this tool) stays behind. Before it returns, the tool
checks that no line of a stubbed solution is left anywhere in OUT.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from lessons.assignments import REPO, Assignment, find_assignment, load_assignments
from lessons.handout import classroom_workflow, pyproject_toml, student_readme
from lessons.regions import TOOLS, Region, RegionError, find_regions, rewrite, scan, stub_lines
from lessons.sequence import dropped, failing, stubs
from lessons.student_notebooks import copy_notebooks

LESSON_FILES = [
    "__init__.py",
    "conftest.py",
    "grading.py",
    "grade.py",
    "regions.py",
    "assignments.py",
    "handout.py",
    "boxed.py",
    "honesty.py",
    "expected.py",
]
# central differences, the answer of task 2.1: handed out only where 2.1 is no stub or a grader needs them
FINITE_DIFFERENCES, FINITE_DIFFERENCES_TASK = "finite_differences.py", "2.1"
ANSWER = re.compile(r"<!-- BEGIN ANSWER -->.*?<!-- END ANSWER -->\n?", re.S)
# answers.py: the reference rules the graders compare with (a handout's graders read their values
# on the public cases from expected.npz instead; see lessons.expected)
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "hidden", "answers.py", "plants.toml", ".ipynb_checkpoints")
# npgpt/reference is a PyTorch GPT: a complete answer to the block, attention and loss tasks
LIBRARY_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "reference")


class ReleaseError(RuntimeError):
    pass


def handed_out(assignment: Assignment | None, assignments: list[Assignment]) -> set[str]:
    """Task ids that become stubs: the assignment's and every later one's (all of them for --all)."""
    first = assignment.number if assignment else 0
    return {tid for a in assignments if a.number >= first for tid in a.tasks}


def numbered(rel: str):
    """``key(region) -> (rel, task, k)`` for the regions of one file met in order: the k-th region of
    that task in the file (a task may have several there: a docstring and its code, or two ops)."""
    seen = Counter()

    def key(region: Region) -> tuple[str, str, int]:
        seen[region.task] += 1
        return rel, region.task, seen[region.task] - 1

    return key


def region_bodies(folder: Path, kind: str) -> dict[tuple[str, str, int], str]:
    """(relative path, task, k) -> the body of each ``kind`` region under ``folder``: the student's
    code of a previous handout ("YOUR CODE"), or the reference in the repository ("SOLUTION")."""
    found, keys = {}, {}
    for r in scan(folder):
        rel = str(r.path.relative_to(folder))
        key = keys.setdefault(rel, numbered(rel))(r)  # every region counts, whatever its kind
        if r.kind == kind:
            found[key] = r.body
    return found


def fill(region: Region, key, stubbed: set[str], contracts: dict[str, str], carried) -> tuple[str, list[str]]:
    rel = key[0]
    if region.task not in contracts:
        raise ReleaseError(f"{rel}: region {region.task} belongs to no task of any lessons/aNN_*/tasks.toml")
    if region.task in stubbed:
        return "YOUR CODE", stub_lines(region, contracts[region.task])
    if carried is None:
        return "YOUR CODE", region.body.splitlines()
    if key not in carried:
        raise ReleaseError(f"--from: no YOUR CODE region {region.task} in {rel} of the previous handout")
    return "YOUR CODE", carried[key].splitlines()


def copy_sources(out: Path, assignment: Assignment | None, assignments: list[Assignment], carried, stubbed) -> None:
    contracts = {tid: t.contract for a in assignments for tid, t in a.tasks.items()}
    shutil.copytree(REPO / "npgpt", out / "npgpt", ignore=LIBRARY_SKIP)
    (out / "lessons").mkdir()
    for name in LESSON_FILES:
        shutil.copy2(REPO / "lessons" / name, out / "lessons" / name)
    for a in assignments:
        if assignment is None or a.number == assignment.number:
            shutil.copytree(a.folder, out / "lessons" / a.name, ignore=SKIP)
    graders = (p.read_text() for p in (out / "lessons").glob("a[0-9][0-9]_*/**/*.py"))
    if FINITE_DIFFERENCES_TASK not in stubbed or any("lessons.finite_differences" in text for text in graders):
        shutil.copy2(REPO / "lessons" / FINITE_DIFFERENCES, out / "lessons" / FINITE_DIFFERENCES)
    for path in sorted(out.rglob("*.py")):
        rel = str(path.relative_to(out))
        if rel.startswith("lessons/") and path.name in TOOLS:
            continue
        source = path.read_text()
        key = numbered(rel)
        path.write_text(rewrite(path, source, lambda r, key=key: fill(r, key(r), stubbed, contracts, carried)))
    for path in out.glob("lessons/a*/questions.md"):
        path.write_text(ANSWER.sub("", path.read_text()))


def leaks(out: Path, regions: list[Region], stubbed: set[str]) -> list[str]:
    """Lines of stubbed reference solutions that are still somewhere in ``out``.

    A line counts when it is long enough to be telling and appears nowhere in the library outside
    the regions (a line like ``xp = get_array_module(g)`` gives nothing away, nor one that any
    other module of npgpt holds anyway).
    """
    library = [p for p in sorted((REPO / "npgpt").rglob("*.py")) if "reference" not in p.parts]
    outside = "\n".join(_outside_regions(p) for p in library)
    released = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and p.suffix != ".txt")
    found = []
    for r in regions:
        if r.task not in stubbed or r.kind != "SOLUTION":
            continue
        for line in (s.strip() for s in r.body.splitlines()):
            if len(line) >= 24 and line not in outside and line in released:
                found.append(f"task {r.task} ({r.path.name}): {line}")
    return found


def _outside_regions(path: Path) -> str:
    lines = path.read_text().splitlines()
    inside = {i for r in find_regions(path) for i in range(r.start, r.end + 1)}
    return "\n".join(line.strip() for i, line in enumerate(lines) if i not in inside)


def release(
    out: Path,
    assignment: str | None = None,
    previous: Path | None = None,
    only: set[str] | None = None,
    warn=None,
    fill_missing: bool = False,
) -> Path:
    """Write the handout for ``assignment`` (None: all of them) into the new folder ``out``.

    ``only`` (for the meta tests and ``--submission``) stubs just these tasks and fills every other
    region. With ``previous`` (``--from``), ``warn(message)`` is told per task what the carried code
    will not do (``lessons.sequence``); ``fill_missing`` gives those tasks the reference instead.
    A capstone (graded on every earlier task) needs ``previous``: with the reference in the earlier
    regions it would be a handout that scores full marks with no work.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} is not empty: give a new folder")
    assignments = load_assignments()
    chosen = find_assignment(assignment) if assignment else None
    if chosen and any(t.cumulative for t in chosen.tasks.values()) and previous is None and only is None:
        raise ReleaseError(
            f"{chosen.name} grades the student's own code of every earlier assignment: give --from "
            "THEIR_PREVIOUS_HANDOUT (with the reference in those regions it scores full marks with no work)"
        )
    carried = region_bodies(Path(previous), "YOUR CODE") if previous else None
    if carried is not None and (warn or fill_missing):
        carried = _check_carried(Path(previous), carried, warn or (lambda _: None), fill_missing)
    regions = scan(REPO)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    stubbed = handed_out(chosen, assignments) if only is None else set(only)
    copy_sources(tmp, chosen, assignments, carried, stubbed)
    shown = [a for a in assignments if chosen is None or a.number == chosen.number]
    copy_notebooks([a.notebook for a in shown], REPO / "notebooks", tmp / "notebooks")
    (tmp / "README.md").write_text(student_readme(shown, assignments))
    (tmp / "pyproject.toml").write_text(pyproject_toml(chosen))
    (tmp / ".github" / "workflows").mkdir(parents=True)
    (tmp / ".github" / "workflows" / "classroom.yml").write_text(classroom_workflow(shown))
    if found := leaks(tmp, regions, stubbed):
        shutil.rmtree(tmp)
        raise ReleaseError("solution text would be handed out:\n  " + "\n  ".join(found[:10]))
    if previous and warn:
        for message in dropped(Path(previous), tmp):
            warn(message)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out


def _check_carried(previous: Path, carried: dict, warn, fill_missing: bool) -> dict:
    """Warn per task about stubs and failing code carried from ``previous``; fill them if asked."""
    problems = failing(previous) | stubs(carried)
    reference = region_bodies(REPO, "SOLUTION") if fill_missing else {}
    for task in sorted(problems, key=lambda t: tuple(map(int, t.split(".")))):
        warn(problems[task] + ("; filled with the reference" if fill_missing else ""))
    if not fill_missing:
        return carried
    return {k: (reference.get(k, body) if k[1] in problems else body) for k, body in carried.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lessons.release", description=__doc__.split("\n\n")[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--assignment", help="the assignment to hand out: a06, 6 or a06_layernorm")
    which.add_argument("--all", action="store_true", help="every assignment, every task a stub")
    p.add_argument("out", type=Path, help="a new folder for the handout")
    p.add_argument("--from", dest="previous", type=Path, help="a student's previous handout: carry their code over")
    p.add_argument(
        "--fill-missing",
        choices=["reference"],
        help="with --from: give the tasks carried as a stub or failing their grader the reference",
    )
    args = p.parse_args(argv)
    if args.fill_missing and not args.previous:
        p.error("--fill-missing goes with --from")
    try:
        out = release(
            args.out,
            None if args.all else args.assignment,
            args.previous,
            warn=lambda m: print(f"warning: {m}", file=sys.stderr),
            fill_missing=bool(args.fill_missing),
        )
    except (ReleaseError, RegionError, ValueError, OSError) as e:
        print(f"lessons.release: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}: cd {out} && python -m pip install -e . && python -m lessons.grade")
    return 0


if __name__ == "__main__":
    sys.exit(main())
