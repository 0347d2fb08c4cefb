"""Meta tests common to every assignment: layout, an unsolved handout, and the choice of implementation.

An assignment is a folder ``lessons/aNN_topic/`` with ``exercises.py``, ``solutions.py`` and
``test_aNN_topic.py``, plus ``lessons/meta/test_aNN_topic_meta.py`` (stub calls and planted bugs).
"""

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lessons.grading import ENV_VAR, LESSONS_DIR, assignments, chosen_impl, load_impl, stub_names

ASSIGNMENTS = [a.split(".")[1] for a in assignments()]
REPO = LESSONS_DIR.parent


def test_the_first_assignments_are_there():
    assert {"a01_autograd", "a02_gradient_checking", "a03_broadcasting_reductions_matmul"} <= set(ASSIGNMENTS)


def _public_api(path):
    """Top-level functions and classes (with their methods) defined in a file."""
    names = set()
    for node in ast.parse(Path(path).read_text()).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            names |= {f"{node.name}.{m.name}" for m in node.body if isinstance(m, ast.FunctionDef)}
    return names


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_assignment_layout(name):
    folder = LESSONS_DIR / name
    assert (folder / "__init__.py").exists(), f"{name}: needs __init__.py (tests import it as lessons.{name})"
    assert (folder / f"test_{name}.py").exists(), f"{name}: the grader must be test_{name}.py"
    assert (LESSONS_DIR / "meta" / f"test_{name}_meta.py").exists(), f"{name}: needs lessons/meta/test_{name}_meta.py"
    assert stub_names(folder / "exercises.py"), f"{name}: exercises.py has no NotImplementedError('TODO ...') stubs"
    if (folder / "solutions.py").exists():
        assert not stub_names(folder / "solutions.py"), f"{name}: solutions.py still has TODO stubs"
        assert _public_api(folder / "exercises.py") == _public_api(folder / "solutions.py"), (
            f"{name}: exercises.py and solutions.py must define the same functions, classes and methods"
        )


def test_option_beats_environment_beats_default(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert chosen_impl(None) == "solutions"
    monkeypatch.setenv(ENV_VAR, "exercises")
    assert chosen_impl(None) == "exercises"
    assert chosen_impl("solutions") == "solutions"
    monkeypatch.setenv(ENV_VAR, "answers")
    with pytest.raises(pytest.UsageError, match="exercises"):
        chosen_impl(None)


def test_missing_solutions_skip_with_a_hint():
    with pytest.raises(pytest.skip.Exception, match="--lesson-impl=exercises"):
        load_impl("lessons.meta", "solutions")  # a package without solutions.py, like a student handout


def _run_graders(tmp_path, folders, args=(), env_impl=None):
    """Run the graders in a fresh pytest process; return {test id: outcome} from its JUnit XML."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    if env_impl:
        env[ENV_VAR] = env_impl
    xml = tmp_path / "junit.xml"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *[f"lessons/{f}" for f in folders],
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={xml}",
        *args,
    ]
    proc = subprocess.run(cmd, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if not xml.exists():
        return proc, {}
    outcomes = {}
    for case in ET.parse(xml).iter("testcase"):
        kinds = {child.tag for child in case}
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (
            "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        )
    return proc, outcomes


@pytest.mark.slow  # one pytest process over every assignment: grows with them
def test_every_graded_test_fails_on_the_handout(tmp_path):
    # the stubs are unsolved: grading exercises.py fails every single test, and does so for the stubs
    proc, outcomes = _run_graders(tmp_path, ASSIGNMENTS, ["--lesson-impl=exercises"])
    assert outcomes, proc.stdout + proc.stderr
    assert proc.returncode == 1, proc.stdout[-3000:]
    not_failed = sorted(k for k, v in outcomes.items() if v != "failed")
    assert not not_failed, f"these graded tests do not fail on the unsolved handout: {not_failed}"
    assert "NotImplementedError: TODO" in proc.stdout
    for name in ASSIGNMENTS:
        assert any(name in k for k in outcomes), f"no graded test of {name} ran"


def test_environment_variable_selects_the_exercises(tmp_path):
    proc, outcomes = _run_graders(tmp_path, ["a02_gradient_checking"], env_impl="exercises")
    assert outcomes and set(outcomes.values()) == {"failed"}, proc.stdout[-3000:]
    assert "a02_gradient_checking/exercises.py" in proc.stdout and "NotImplementedError: TODO" in proc.stdout


def test_an_unknown_implementation_is_a_usage_error(tmp_path):
    proc, _ = _run_graders(tmp_path, ["a02_gradient_checking"], ["--lesson-impl=answers"])
    assert proc.returncode == 4 and "invalid choice" in proc.stderr, proc.stderr
    proc, _ = _run_graders(tmp_path, ["a02_gradient_checking"], env_impl="answers")
    assert proc.returncode == 4 and ENV_VAR in proc.stderr, proc.stdout + proc.stderr
