"""Every grader catches the typical mistakes planted in its task's reference (lessons/aNN_*/plants.toml).

A released tree with every region filled by the reference gets one plant per task (tasks are graded
on their own, so the plants do not interfere), and the graders run once per round in a subprocess.
A plant counts as caught only when one of its task's tests fails on an ASSERTION; a plant that makes
the code crash (NameError, recursion, a shape error) is a broken plant, not a caught one.
"""

from __future__ import annotations

import pytest

from lessons.assignments import REPO, all_tasks, load_assignments
from lessons.meta.handouts import run_junit
from lessons.plants import load_plants, plant
from lessons.regions import scan
from lessons.release import SKIP, release

TASKS = all_tasks()
PLANTS = load_plants()
CODED = {r.task for r in scan(REPO) if not r.in_docstring}  # tasks with code regions (a capstone has none)
ROUNDS = max((len(p) for p in PLANTS.values()), default=0)


def test_every_task_with_code_has_at_least_two_plants():
    thin = {tid: len(PLANTS.get(tid, [])) for tid in sorted(CODED) if len(PLANTS.get(tid, [])) < 2}
    assert not thin, f"tasks with fewer than two planted mistakes (lessons/aNN_*/plants.toml): {thin}"


def test_every_plant_finds_its_text_once_in_the_reference(tmp_path):
    # the same check plant() makes, on a copy of each region's file: no subprocess needed
    for tid, plants in PLANTS.items():
        bodies = "\n".join(r.body for r in scan(REPO) if r.task == tid and not r.in_docstring)
        for p in plants:
            assert bodies.count(p.find) == 1, f"plant {p.name!r}: {p.find!r} is not once in task {tid}'s reference"
            assert p.find != p.replace, f"plant {p.name!r} changes nothing"


def round_of(k: int):
    return [ps[k] for ps in PLANTS.values() if len(ps) > k]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(ROUNDS))
def test_planted_mistakes_are_caught_by_an_assertion(k, tmp_path):
    folder = release(tmp_path / "planted", None, only=set())  # every region holds the reference
    plants = round_of(k)
    plant(folder, plants)
    folders = sorted({f"lessons/{TASKS[p.task].assignment}" for p in plants})
    outcomes = run_junit(folder, *folders)
    by_task = {}
    for o in outcomes:
        by_task.setdefault(o.task, []).append(o)
    planted = {p.task: p for p in plants}
    problems = []
    for tid, results in sorted(by_task.items()):
        failed = [o for o in results if o.state == "failed"]
        if tid not in planted:
            problems += [f"task {tid} (no plant this round) fails: {o.name}: {o.message[:200]}" for o in failed]
            continue
        crashed = [o for o in failed if not o.assertion]
        if crashed:
            problems.append(
                f"broken plant {planted[tid].name!r}: it crashes {crashed[0].name}: {crashed[0].message[:200]}"
            )
        elif not failed:
            problems.append(f"plant {planted[tid].name!r} is not caught: every test of task {tid} passes")
    missing = set(planted) - set(by_task)
    problems += [f"no test of task {tid} ran" for tid in sorted(missing)]
    assert not problems, "\n".join(problems)


def test_plants_are_not_handed_out():
    assignments = [a for a in load_assignments() if (a.folder / "plants.toml").exists()]
    assert assignments, "no assignment has plants"
    assert "plants.toml" in SKIP(str(assignments[0].folder), ["plants.toml"])
