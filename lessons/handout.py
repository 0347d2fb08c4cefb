"""The files a handout gets besides the code: its README, its pyproject.toml, its autograding workflow."""

from __future__ import annotations

from lessons.assignments import Assignment
from lessons.grade import collect_points

README = """\
# npgpt: {title}

You are rebuilding npgpt, a GPT written from scratch in NumPy, one graded task at a time. The
library in `npgpt/` is complete except for the tasks below: each is a region

```python
### BEGIN YOUR CODE 6.2
raise NotImplementedError("Task 6.2: what to write, its inputs, outputs and shapes")
### END YOUR CODE 6.2
```

Replace the `raise` line by your code, between the two markers (keep the markers: the grader and
the next assignment find your code by them). The lesson notebook named for each assignment (in
`notebooks/`) explains the ideas: its "your turn" exercises are yours to write, each followed by a
check that fails until you do; the contract in the message says what your code receives and returns.

## Set up and grade (two commands)

```bash
python -m pip install -e .
python -m lessons.grade
```

`python -m lessons.grade` runs every graded test and prints a table of your points per task.
`python -m lessons.grade --task 6.2` runs one task's tests; `python -m pytest lessons -x -q` runs
them with pytest's full output.

## Reading a failing test

A failing test ends with what it compared and where, for example

```
AssertionError:
Not equal to tolerance rtol=1e-06, atol=1e-08
dx for x of shape (4, 6)
Mismatched elements: 24 / 24 (100%)
Max absolute difference among violations: 0.83
Max relative difference among violations: 2.0
 ACTUAL: array([[ 0.41, ...      <- your result
 DESIRED: array([[-0.42, ...     <- the grader's
```

Backward passes are compared with central finite differences of the forward in float64, with a
random upstream gradient `g` (so a backward that is right only for `loss = y.sum()` fails).
Relative differences near 1e-8 are rounding; above 1e-3 the gradient is wrong. How to read the
pattern: ACTUAL = -DESIRED is a sign error; a constant factor (2, 1/n, C) is a missing or extra
mean or sum; all zeros is a gradient never written; wrong only along one axis is a missing sum over
broadcast axes or a `keepdims`. Each task is graded on its own: a later task's tests use the
reference for the earlier parts, so a mistake costs only its own task's points.
`python -m pytest lessons -x -q --task 6.2` stops at the first failure with the full message.

## Rules, and the grade that counts

Write your code with NumPy (take the array module from your arrays with
`xp = get_array_module(x)` so it also runs on CuPy), between the markers. Each region is read as a
syntax tree before it runs: a region may not import, call `exec`, `eval`, `compile`, `getattr` on
a module, touch `sys`, `os`, dunder attributes or the grader's modules, use npgpt's autograd
inside a backward, or call what its task forbids (a fast version that already does the task). A
refused region scores zero, with a message naming the line.

Your grade is given by your instructor's copy of the tests: only the code between your markers is
taken from your repository (a helper written outside them is not; put it inside the region). The
score `python -m lessons.grade` and the GitHub Classroom check show you here is advisory: the
tests in this repository are yours to read, run and even edit, but editing them changes nothing
in the grade. Each test has a time limit: code that loops forever or ends the interpreter scores
zero on that test.

## Tasks

{tasks}
{questions}"""


def student_readme(shown: list[Assignment], everything: list[Assignment]) -> str:
    title = shown[0].title if len(shown) == 1 else "the whole course"
    points = collect_points()
    rows = ["| task | what | points | notebook |", "|---|---|---|---|"]
    for a in shown:
        for t in a.tasks.values():
            rows.append(
                f"| {t.id} | {t.title} | {points.get(t.id, 0)} | [`notebooks/{a.notebook}.ipynb`](notebooks/{a.notebook}.ipynb) |"
            )
    questions = [f"- `lessons/{a.name}/questions.md`" for a in shown if (a.folder / "questions.md").exists()]
    q = (
        ("\n## Written questions\n\nAnswer in the files below, under each question.\n\n" + "\n".join(questions) + "\n")
        if questions
        else ""
    )
    return README.format(title=title, tasks="\n".join(rows) + "\n", questions=q)


def pyproject_toml(assignment: Assignment | None) -> str:
    name = f"npgpt-handout-{assignment.name.replace('_', '-')}" if assignment else "npgpt-handout"
    return f"""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["numpy>=1.26", "matplotlib>=3.7", "tqdm>=4.60", "safetensors>=0.4", "pytest>=7.4", "regex>=2023"]

[tool.setuptools.packages.find]
include = ["npgpt*", "lessons*"]

[tool.setuptools.package-data]
npgpt = ["data/*.txt", "data/*.md", "data/*.jsonl", "data/**/*"]

[tool.pytest.ini_options]
testpaths = ["lessons"]
addopts = "-ra"
markers = ["task(id, points): the task a graded test belongs to and the points it is worth", "slow: takes a while"]
"""


def classroom_workflow(shown: list[Assignment]) -> str:
    """GitHub Classroom autograding: one command grader per task, all-or-nothing on its tests."""
    points = collect_points()
    steps, runners, env = [], [], []
    for a in shown:
        for t in a.tasks.values():
            sid = "task-" + t.id.replace(".", "-")
            runners.append(sid)
            env.append(f'          {sid.upper()}_RESULTS: "${{{{steps.{sid}.outputs.result}}}}"')
            steps.append(
                f"""      - name: "Task {t.id}: {t.title}"
        id: {sid}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: "Task {t.id}: {t.title}"
          command: python -m lessons.grade --task {t.id} --quiet
          timeout: 15
          max-score: {points.get(t.id, 0)}
"""
            )
    return f"""\
# GitHub Classroom autograding: ADVISORY. Students can edit this file and the tests; the grade of
# record is the instructor's: python -m lessons.grade --submission THIS_REPOSITORY
name: Autograding
on: [push, workflow_dispatch, repository_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: python -m pip install -e .
{"".join(steps)}      - name: Autograding reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{chr(10).join(env)}
        with:
          runners: {",".join(runners)}
"""
