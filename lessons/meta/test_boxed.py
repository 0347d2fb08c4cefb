"""Each graded test in its own process with a time limit (``lessons.boxed``): code that exits the
interpreter, loops forever or crashes it costs its own test, and the table and results are still
written (issue 19: an ``os._exit(0)`` made ``python -m lessons.grade`` exit 0 with no table, a loop
hung it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lessons.meta.handouts import cheat_assignment, fill_with_reference, reference_lines, set_region
from lessons.release import release

ROOT = Path(__file__).resolve().parents[2]  # the repository: `lessons` imports from here in the child too

TESTS = """
import ctypes
import os

import pytest

STATE = []


@pytest.mark.task("1.1", points=1)
def test_exits():
    os._exit(0)


@pytest.mark.task("1.1", points=1)
def test_loops():
    while True:
        pass


@pytest.mark.task("1.2", points=1)
def test_crashes():
    ctypes.string_at(0)


@pytest.mark.task("1.2", points=1)
def test_changes_state():
    STATE.append(1)


@pytest.mark.task("1.3", points=1)
def test_sees_no_state_of_another_test():
    assert STATE == [], "a test's changes reached the next one"


@pytest.mark.task("1.3", points=1)
def test_fails():
    assert 1 == 2, "one is not two"
"""

RUN = """
import json, sys
import pytest
from lessons.boxed import Boxed
from lessons.grade import Scorer
scorer = Scorer()
pytest.main([sys.argv[1], "-q", "-p", "no:cacheprovider", "-W", "ignore"], plugins=[scorer, Boxed(3)])
json.dump(scorer.cases, open(sys.argv[2], "w"))
"""


def test_exit_loop_and_crash_each_cost_their_own_test_only(tmp_path):
    (tmp_path / "test_box.py").write_text(TESTS)
    out = tmp_path / "cases.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(tmp_path / "test_box.py"), str(out)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    cases = {nodeid.split("::")[-1]: (passed, message) for _, nodeid, _, passed, message in json.loads(out.read_text())}
    assert set(cases) == {"test_exits", "test_loops", "test_crashes", "test_changes_state"} | {
        "test_sees_no_state_of_another_test",
        "test_fails",
    }
    assert not cases["test_exits"][0] and "exited" in cases["test_exits"][1]
    assert not cases["test_loops"][0] and "stopped after 3 s" in cases["test_loops"][1]
    assert not cases["test_crashes"][0] and "killed by SIGSEGV" in cases["test_crashes"][1]
    assert cases["test_changes_state"][0] and cases["test_sees_no_state_of_another_test"][0]
    assert not cases["test_fails"][0] and "one is not two" in cases["test_fails"][1]


@pytest.mark.slow
def test_a_loop_in_a_handout_scores_zero_and_the_results_are_written(tmp_path):
    a, task = cheat_assignment()
    folder = release(tmp_path / "h", a.name)
    fill_with_reference(folder)
    # right in float64, loops forever in float32: the float32 test is stopped, the others pass
    set_region(folder, task, ["while g.dtype == np.float32:", "    pass", *reference_lines(task)])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(folder)}
    cmd = [sys.executable, "-m", "lessons.grade", "--task", task, "--time-limit", "3", "--results", "r.json"]
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "total" in done.stdout
    (entry,) = json.loads((folder / "r.json").read_text())["tests"]
    assert 0 < entry["score"] < entry["max_score"] and "stopped after 3 s" in entry["output"], entry
