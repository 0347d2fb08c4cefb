"""The instructor guide, ``lessons/GUIDE.md``, written from the course's own files.

    python -m lessons.guide            # rewrite lessons/GUIDE.md
    python -m lessons.guide --check    # exit 1 if it is out of date (a meta test runs this)

Per assignment: what a student learns, how long it takes, what it builds on (``objectives``,
``hours`` and ``prerequisites`` in ``lessons/guide.toml``, keyed by the assignment's topic so that
a renumbering leaves it alone), its tasks and points, the common mistakes
(every plant of ``plants.toml``: the graders are proven to catch each), what the hidden tests add
to each task's total, and the written questions with their points.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

from lessons.assignments import LESSONS_DIR, Assignment, load_assignments
from lessons.grade import _task_mark, collect_points, questions_of, task_key
from lessons.plants import load_plants

GUIDE = LESSONS_DIR / "GUIDE.md"
WORDS = LESSONS_DIR / "guide.toml"

HEAD = """\
# Instructor guide

Written by `python -m lessons.guide` from `guide.toml` (objectives, hours, prerequisites),
each assignment's `tasks.toml`, `plants.toml` (the common mistakes: each is a planted bug its grader is proven to
catch), the graders' and hidden tests' points, and `questions.md`. Edit those, then rerun it.

**Totals with hidden tests.** A student's own `python -m lessons.grade` runs the public tests
only; the grade of record (`python -m lessons.grade --submission`, and the Gradescope zip) adds
the instructor's hidden tests of `lessons/aNN_*/hidden/`, whose points add to their task's total.
So the maximum a student sees locally is lower than the maximum in the roster and on Gradescope
by the hidden points listed below; a student who hard-coded the public cases loses exactly those.
Written questions are graded by hand, on top of both.
"""


def hidden_points(a: Assignment) -> dict[str, float]:
    points = defaultdict(float)
    for path in sorted((a.folder / "hidden").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for tid, p in filter(None, map(_task_mark, node.decorator_list)):
                    points[tid] += p
    return dict(points)


def _num(x: float) -> str:
    return f"{x:g}"


def topic(a: Assignment) -> str:
    return a.name[4:]


def section(a: Assignment, points: dict, plants: dict, words: dict, names: dict) -> str:
    meta = words.get(topic(a), {})
    hidden = hidden_points(a)
    lines = [f"## `{a.name}`: {a.title}", ""]
    lines.append(f"Notebook `notebooks/{a.notebook}`. About {meta.get('hours', '?')} hours of a student's time.")
    before = ", ".join(f"`{names.get(t, t)}`" for t in meta.get("prerequisites", [])) or "nothing but Python and NumPy"
    lines.append(f"Builds on: {before}.")
    lines += ["", "Learning objectives:", ""] + [f"- {o}" for o in meta.get("objectives", ["(not stated)"])]
    lines += ["", "| task | what | points | hidden | total graded |", "|---|---|---|---|---|"]
    for tid in sorted(a.tasks, key=task_key):
        p, h = points.get(tid, 0), hidden.get(tid, 0)
        lines.append(f"| {tid} | {a.tasks[tid].title} | {_num(p)} | {_num(h) if h else '-'} | {_num(p + h)} |")
    total, extra = sum(points.get(t, 0) for t in a.tasks), sum(hidden.values())
    lines += ["", f"Public points {_num(total)}; with the hidden tests {_num(total + extra)}."]
    questions = questions_of(a.folder)
    if questions:
        q = ", ".join(f"{name} ({p})" for name, p in questions)
        lines.append(f"Written questions, graded by hand: {q}; {sum(p for _, p in questions)} points.")
    mistakes = [(tid, p.why) for tid in sorted(a.tasks, key=task_key) for p in plants.get(tid, [])]
    if mistakes:
        lines += ["", "Common mistakes (each one's grader is proven to catch it):", ""]
        lines += [f"- {tid}: {why}" for tid, why in mistakes]
    return "\n".join(lines) + "\n"


def render() -> str:
    points, plants, words = collect_points(), load_plants(), tomllib.loads(WORDS.read_text())
    names = {topic(a): a.name for a in load_assignments()}
    return HEAD + "".join("\n" + section(a, points, plants, words, names) for a in load_assignments())


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        if not GUIDE.exists() or GUIDE.read_text() != text:
            print("lessons/GUIDE.md is out of date: run python -m lessons.guide", file=sys.stderr)
            return 1
        return 0
    Path(GUIDE).write_text(text)
    print(f"wrote {GUIDE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
