"""Graders ship expected values, never the rules they grade (nbgrader's and Gradescope's way).

The reference rules a grader compares with live in ``lessons/aNN_topic/answers.py``, instructor-only;
a handout's grader reads what they give on the public cases from ``expected.npz`` (``lessons.expected``).
Every handout is released here and searched: no ``answers.py``, no function of one defined, named
or copied (same body, or one of its telling lines) in any Python file, and each record present and
current. That the handouts still grade (every task fails on its stub, full marks on the reference,
every plant caught) is proven by test_release.py, test_grading.py and test_plants.py, whose handouts
read the same records.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lessons import expected
from lessons.assignments import LESSONS_DIR, REPO, load_assignments
from lessons.release import _outside_regions, handed_out, release

ANSWERED = expected.with_answers(LESSONS_DIR)
ASSIGNMENTS = load_assignments()


def _has_docstring(fn: ast.FunctionDef) -> bool:
    return bool(fn.body) and isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant)


def _body(fn: ast.FunctionDef) -> str:
    return "\n".join(ast.dump(s) for s in (fn.body[1:] if _has_docstring(fn) else fn.body))


def reference_functions() -> dict[str, tuple[str, str, list[str]]]:
    """name -> (assignment, its body as a syntax tree dump, its telling source lines: long, and not
    anywhere in the library outside the regions, like ``rng = np.random.default_rng(seed)``)."""
    found = {}
    for folder in ANSWERED:
        found |= functions_in(folder / "answers.py", folder.name)
    return found


def functions_in(path: Path, assignment: str) -> dict[str, tuple[str, str, list[str]]]:
    library = [p for p in sorted((REPO / "npgpt").rglob("*.py")) if "reference" not in p.parts]
    common = "\n".join(_outside_regions(p) for p in library)
    found = {}
    source = path.read_text()
    for node in ast.parse(source).body:  # the top-level functions (a nested one is part of its body)
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if _has_docstring(node) else node.body
            lines = [line for stmt in body for line in ast.get_source_segment(source, stmt).splitlines()]
            telling = [s.strip() for s in lines if len(s.strip()) >= 30 and not s.strip().startswith(("#", '"'))]
            telling = [line for line in telling if line not in common]
            found[node.name] = (assignment, _body(node), telling)
    return found


REFERENCES = reference_functions()
# what a grader once swapped in while a later task was graded, and was an earlier task's answer:
# the grader's central differences (task 2.1's answer, in lessons/finite_differences.py: a02's
# graders do not need them), its relative error (2.2's), its flat layout (17.1's)
STAND_INS = {
    "a02_gradient_checking": {"numerical_vjp", "_central", "rel_by_hand", "finite_differences"},
    "a17_data_parallel": {"GraderLayout"},
}
CENTRAL_DIFFERENCES = functions_in(LESSONS_DIR / "finite_differences.py", "a02_gradient_checking")
# the handouts released alone where task 2.1 is a stub: none may carry central differences (the
# --all handout still does: a07's grader differences softmax at the P and dP the student's 7.3 gives)
STUBS_2_1 = {"a01_autograd", "a02_gradient_checking"}


def test_the_reference_rules_are_found():
    assert ANSWERED, "no lessons/aNN_*/answers.py: where do the graders' reference rules live?"
    assert len(REFERENCES) >= len(ANSWERED), "an answers.py defines no function"
    for name in REFERENCES:
        assert name.endswith(("_rule", "_reference", "_by_jacobian", "_by_hand")), (
            f"answers function {name}: give it a name no library function has (…_reference), so a search finds it"
        )


def test_every_record_is_there_and_readable():
    for folder in ANSWERED:
        path = folder / expected.FILE
        assert path.exists(), f"{path} is missing: run python -m lessons.expected {folder.name[:3]}"
        table = expected.load(path)
        assert table, f"{path} records nothing"


def search(handout: Path, first: int = 0, stand_ins=(), extra=None) -> list[str]:
    """What in ``handout`` holds a reference rule of assignment ``first`` or later (the earlier ones'
    regions are filled in a handout: with the student's own code, or the reference), one of the
    ``extra`` functions, or names one of ``stand_ins``."""
    references = {k: v for k, v in (REFERENCES | (extra or {})).items() if int(v[0][1:3]) >= first}
    stand_ins = set(stand_ins)
    problems = [f"{p.relative_to(handout)} is handed out" for p in handout.rglob("answers.py")]
    for path in sorted(handout.rglob("*.py")):
        rel = path.relative_to(handout)
        source = path.read_text()
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in references:
                problems.append(f"{rel}:{node.lineno} defines {node.name}, a reference rule")
            elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in stand_ins:
                problems.append(f"{rel}:{node.lineno} defines {node.name}, a stand-in that answers a task")
            elif (
                isinstance(node, ast.Name | ast.Attribute | ast.alias)
                and (getattr(node, "id", None) or getattr(node, "attr", None) or node.name).rpartition(".")[2]
                in stand_ins
            ):
                problems.append(f"{rel}:{node.lineno} names a stand-in that answers a task")
            elif (
                isinstance(node, ast.FunctionDef)
                and node.body
                and _body(node) in {b for _, b, _ in references.values()}
            ):
                problems.append(f"{rel}:{node.lineno} {node.name} has the body of a reference rule")
            elif (
                isinstance(node, ast.Name)
                and node.id in references
                or isinstance(node, ast.Attribute)
                and node.attr in references
            ):
                problems.append(f"{rel}:{node.lineno} names {getattr(node, 'id', None) or node.attr}, a reference rule")
        for name, (_, _, telling) in references.items():
            problems += [f"{rel} holds a line of {name}: {line}" for line in telling if line in source]
    return problems


@pytest.mark.parametrize("name", [None] + [a.name for a in ASSIGNMENTS], ids=lambda n: n or "all")
def test_no_handout_holds_a_reference_rule(name, tmp_path):
    chosen = next((a for a in ASSIGNMENTS if a.name == name), None)
    capstone = chosen is not None and any(t.cumulative for t in chosen.tasks.values())
    # a capstone is released with --from: stubs from it on, the earlier regions the student's (here the reference)
    handout = release(tmp_path / "h", name, only=handed_out(chosen, ASSIGNMENTS) if capstone else None)
    stand_ins = STAND_INS.get(name, ())
    extra = CENTRAL_DIFFERENCES if name in STUBS_2_1 else None
    problems = search(handout, chosen.number if chosen else 0, stand_ins, extra)
    problems += [f"{p.relative_to(handout)} is handed out" for p in handout.rglob("finite_differences.py") if extra]
    assert not problems, "\n".join(problems[:20])
    for folder in ANSWERED:
        if name is None or folder.name == name:
            assert (handout / "lessons" / folder.name / expected.FILE).exists(), f"{folder.name}: no expected.npz"


def test_the_search_finds_a_reference_rule_copied_into_a_handout(tmp_path):
    """The search can fail: a grader that defines a reference rule again, under another name, is caught."""
    handout = release(tmp_path / "h", ANSWERED[0].name)
    grader = next((handout / "lessons" / ANSWERED[0].name).glob("test_*.py"))
    source = (ANSWERED[0] / "answers.py").read_text()
    fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
    copy = ast.get_source_segment(source, fn).replace(f"def {fn.name}(", "def renamed(", 1)
    grader.write_text(grader.read_text() + "\n\n" + copy + "\n")
    assert any("renamed" in p for p in search(handout)), "a copied reference rule went unnoticed"


def test_the_search_finds_the_graders_central_differences_in_the_a02_handout(tmp_path):
    """Central differences are 2.1's answer: the a02 handout's search finds them, pasted under another name."""
    handout = release(tmp_path / "h", "a02_gradient_checking")
    assert not (handout / "lessons" / "finite_differences.py").exists(), "a02's handout carries central differences"
    grader = next((handout / "lessons" / "a02_gradient_checking").glob("test_*.py"))
    source = (LESSONS_DIR / "finite_differences.py").read_text()
    grader.write_text(grader.read_text() + "\n\n" + source.replace("def numerical_vjp(", "def renamed(") + "\n")
    problems = search(handout, 2, STAND_INS["a02_gradient_checking"], CENTRAL_DIFFERENCES)
    assert any("renamed" in p for p in problems), "pasted central differences went unnoticed"


def test_a_stale_record_fails_the_instructors_tests(tmp_path):
    """Change what a reference gives: the assignment's public tests in this repository say the record is stale."""
    folder = ANSWERED[0]
    work = tmp_path / "repo"
    (work / "lessons").mkdir(parents=True)
    os.symlink(REPO / "npgpt", work / "npgpt")
    for name in (
        "__init__.py",
        "conftest.py",
        "grading.py",
        "finite_differences.py",
        "expected.py",
        "assignments.py",
        "regions.py",
        "honesty.py",
    ):
        (work / "lessons" / name).write_text((LESSONS_DIR / name).read_text())
    copy = work / "lessons" / folder.name
    copy.mkdir()
    for path in folder.iterdir():
        if path.is_file():
            copy.joinpath(path.name).write_bytes(path.read_bytes())
    table = expected.load(copy / expected.FILE)
    key = sorted(table)[0]
    table[key] = "changed"
    expected.save(copy / expected.FILE, table)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(work)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"lessons/{folder.name}"]
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1 and "it is stale; run python -m lessons.expected" in done.stdout, done.stdout[-3000:]
