"""The grade of record cannot be gamed: every cheat found on a handout scores zero or is refused
under ``python -m lessons.grade --submission``.

One roster run grades a folder of submissions of one small assignment (the first with a backward
task that lists forbidden names): the reference, one with a wrong task (a plant), and one per
cheat, each cheat aimed at one task ``T`` with every other task done right. Each cheat's test then
reads the roster and the student's feedback file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from lessons.assignments import REPO
from lessons.grade import questions_of
from lessons.meta.handouts import cheat_assignment, fill_with_reference, reference_lines, set_region, stub_of
from lessons.plants import load_plants, plant
from lessons.regions import scan
from lessons.release import release

A, T = cheat_assignment()
TIME_LIMIT = 10  # seconds per test in the roster run: the graders need well under one


def _grader(folder):
    return folder / "lessons" / A.name / f"test_{A.name}.py"


def _append(path, text):
    path.write_text(path.read_text() + "\n" + text + "\n")


def _stub(folder):
    set_region(folder, T, stub_of(T))


def conftest_marks_every_test_passed(folder):
    _stub(folder)
    (folder / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    report = outcome.get_result()\n    report.outcome = 'passed'\n"
    )


def init_patches_pytests_report(folder):
    _stub(folder)
    _append(
        folder / "npgpt" / "__init__.py",
        "import _pytest.reports as _r\n_r.TestReport.passed = property(lambda self: True)\n"
        "_r.TestReport.outcome = property(lambda self: 'passed', lambda self, v: None)",
    )


def edits_the_graders_asserts(folder):
    _stub(folder)
    path = _grader(folder)
    text = path.read_text().replace("def test_", "def _was_test_")
    path.write_text(text + "\n\n" + _passing_tests(T, points=1))


def widens_the_tolerance(folder):
    plant(folder, [load_plants()[T][0]])
    path = folder / "lessons" / "grading.py"
    text = path.read_text().replace("rtol=rtol, atol=atol", "rtol=1e9, atol=1e9")
    path.write_text(text.replace("assert actual.shape == expected.shape", "assert True"))


def deletes_the_failing_tests(folder):
    _stub(folder)
    path = _grader(folder)
    path.write_text(
        path.read_text().replace(f'@pytest.mark.task("{T}"', '@pytest.mark.skip("gone")\n@pytest.mark.task("x"')
    )


def adds_a_test_worth_100(folder):
    _stub(folder)
    _append(_grader(folder), _passing_tests(T, points=100))


def _passing_tests(task, points):
    return f'\n@pytest.mark.task("{task}", points={points})\ndef test_free_points():\n    assert True\n'


def _region_cheat(*lines):
    def cheat(folder):
        set_region(folder, T, list(lines) + stub_of(T))

    return cheat


CHEATS = {
    # name: (what it does to a reference-filled handout, refused by the syntax tree? or "as wrong":
    # scores what the same wrong code scores without the cheat, or "less": loses the tests it spoils)
    "root conftest marks every report passed": (conftest_marks_every_test_passed, False),
    "npgpt/__init__.py patches pytest's report": (init_patches_pytests_report, False),
    "the grader's asserts replaced": (edits_the_graders_asserts, False),
    "a tolerance widened in lessons/grading.py": (widens_the_tolerance, "as wrong"),
    "the failing tests deleted": (deletes_the_failing_tests, False),
    "a test worth 100 points added": (adds_a_test_worth_100, False),
    "assert_close replaced through sys.modules": (
        _region_cheat("import sys", "sys.modules['lessons.grading'].assert_close = lambda *a, **k: None"),
        True,
    ),
    "exec of a spelled-out import": (_region_cheat('exec("import tor" + "ch")'), True),
    "import numpy, torch": (_region_cheat("import numpy, torch"), True),
    "an import at module top used in the region": (None, True),
    "getattr with a built name": (_region_cheat('f = getattr(np, "attention_" + "composed")'), True),
    "an alias of a forbidden call": (None, True),
    "npgpt's autograd inside a backward": (_region_cheat("t = Tensor(g)", "t.backward(g)"), True),
    "the grader's own answers imported": (_region_cheat(f"from lessons.{A.name}.test_{A.name} import *"), True),
    "os._exit(0)": (_region_cheat("os._exit(0)"), True),
    # right in float64, loops in float32: only the float32 test runs into the time limit
    "an infinite loop": (None, "less"),
    "a crash of the interpreter": (
        _region_cheat("x = np.lib.stride_tricks.as_strided(np.zeros(1), (1 << 20,), (1 << 40,))", "x.sum()"),
        False,
    ),
}


def top_level_import(folder):
    region = next(r for r in scan(folder) if r.task == T and not r.in_docstring)
    region.path.write_text("import torch  # noqa\n" + region.path.read_text())
    set_region(folder, T, ["return torch.zeros(1)"])


def alias_of_a_forbidden_call(folder):
    name = next(n for n in A.tasks[T].forbidden if "." not in n)
    set_region(folder, T, [f"f = {name}", "return f(g)"])


def loops_in_float32(folder):
    set_region(folder, T, ["while g.dtype == np.float32:", "    pass", *reference_lines(T)])


CHEATS["an infinite loop"] = (loops_in_float32, "less")
CHEATS["an import at module top used in the region"] = (top_level_import, True)
CHEATS["an alias of a forbidden call"] = (alias_of_a_forbidden_call, True)


def _slug(name):
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def roster(tmp_path_factory):
    """Grade a folder of submissions at once: reference, wrong, and one per cheat."""
    tmp = tmp_path_factory.mktemp("roster")
    handout = release(tmp / "handout", A.name)
    fill_with_reference(handout, set(A.tasks))
    subs = tmp / "submissions"
    subs.mkdir()
    shutil.copytree(handout, subs / "reference")
    shutil.copytree(handout, subs / "wrong")
    plant(subs / "wrong", [load_plants()[T][0]])
    for name, (cheat, _) in CHEATS.items():
        shutil.copytree(handout, subs / _slug(name))
        cheat(subs / _slug(name))
    out = tmp / "grades"
    cmd = [sys.executable, "-m", "lessons.grade", "--submission", str(subs), "--assignment", A.name]
    done = subprocess.run(
        [*cmd, "--out", str(out), "--time-limit", str(TIME_LIMIT)], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (out / "roster.csv").open() as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return handout, out, rows


def test_the_roster_has_a_row_per_student_and_the_reference_scores_full_marks(roster):
    _, out, rows = roster
    assert set(rows) == {"reference", "wrong"} | {_slug(n) for n in CHEATS}
    ref = rows["reference"]
    assert float(ref["total"]) == float(ref["max"]) > 0, ref
    assert ref["failures"] == ""
    assert all((out / "feedback" / f"{s}.md").exists() for s in rows)
    wrong = rows["wrong"]
    assert float(wrong[T]) < float(ref[T]) and wrong["failures"] == T, wrong
    assert all(wrong[t] == ref[t] for t in A.tasks if t != T), "a plant in one task cost another task points"


@pytest.mark.parametrize("name", list(CHEATS))
def test_each_cheat_scores_zero_or_is_refused(roster, name):
    _, out, rows = roster
    row, ref = rows[_slug(name)], rows["reference"]
    feedback = (out / "feedback" / f"{_slug(name)}.md").read_text()
    expected = rows["wrong"][T] if CHEATS[name][1] == "as wrong" else "0"  # a widened tolerance gains nothing
    if CHEATS[name][1] == "less":
        assert 0 < float(row[T]) < float(ref[T]), f"{name}: task {T} scored {row[T]}\n{feedback[-3000:]}"
    else:
        assert float(row[T]) == float(expected), f"{name}: task {T} scored {row[T]}\n{feedback[-3000:]}"
    assert row["max"] == ref["max"], f"{name}: the maximum moved from {ref['max']} to {row['max']}"
    others = [t for t in A.tasks if t != T and row[t] != ref[t]]
    assert not others, f"{name}: tasks {others} lost points too\n{feedback[-3000:]}"
    if CHEATS[name][1] is True:
        assert "refused" in feedback and f"{T}: refused" in row["failures"], feedback[-3000:]
        assert ".py:" in feedback.split("refused", 1)[1], "the refusal names no file and line"


def test_a_loop_and_a_crash_say_why(roster):
    _, out, _ = roster
    loop = (out / "feedback" / f"{_slug('an infinite loop')}.md").read_text()
    assert f"stopped after {TIME_LIMIT} s" in loop, loop[-2000:]
    crash = (out / "feedback" / f"{_slug('a crash of the interpreter')}.md").read_text()
    assert "killed by SIG" in crash, crash[-2000:]


def test_an_honest_student_scores_what_the_reference_filled_in_by_hand_scores(roster, tmp_path):
    """--submission on the reference handout gives, task by task, what the handout's own grader
    gives (with the same hidden tests)."""
    handout, _, rows = roster
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(handout)}
    by_hand = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "lessons.grade", "--hidden", str(REPO / "lessons"), "--results", str(by_hand)]
    done = subprocess.run(cmd, cwd=handout, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    points = {}
    for test in json.loads(by_hand.read_text())["tests"]:
        if "number" in test:
            points[test["number"]] = points.get(test["number"], 0) + test["score"]
    assert {t: float(rows["reference"][t]) for t in A.tasks} == {t: float(p) for t, p in points.items()}


VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def test_the_gradescope_zip_runs_in_a_fresh_autograder_folder(roster, tmp_path):
    """Laid out as Gradescope lays it: source (the zip), submission, results."""
    handout, _, _ = roster
    zipped = tmp_path / "autograder.zip"
    done = subprocess.run(
        [sys.executable, "-m", "lessons.grade", "--gradescope", A.name, str(zipped)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zipped) as z:
        assert {"setup.sh", "run_autograder"} <= set(z.namelist())
        assert any(f"lessons/{A.name}/hidden/" in n for n in z.namelist()), "the hidden tests are not in the zip"
        z.extractall(root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    shutil.copytree(handout, root / "submission")
    assert subprocess.run(["bash", "-n", str(root / "source" / "setup.sh")]).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, cwd=tmp_path)
    results = json.loads((root / "results" / "results.json").read_text())
    assert isinstance(results["score"], (int, float)) and results["tests"], run.stdout + run.stderr
    for test in results["tests"]:
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert test["visibility"] in VISIBILITY
        assert test["max_score"] == int(test["max_score"]), f"{test['name']}: points not whole"
    tasks = [t for t in results["tests"] if "number" in t]
    assert {t["number"] for t in tasks} == set(A.tasks)
    assert all(t["score"] == t["max_score"] for t in tasks)
    assert any(t["visibility"] == "after_published" for t in tasks), "no hidden tests in the results"
    written = [t for t in results["tests"] if "number" not in t]
    assert len(written) == len(questions_of(A.folder)), "the written questions are not listed"
    assert results["score"] == sum(t["score"] for t in results["tests"])
