"""A course in sequence, safely: what ``--from`` carries from a student's previous handout.

``python -m lessons.release --assignment a08 OUT --from PREVIOUS`` carries the student's regions
into the next handout. Before it does, this module says, per task, what will not work there:

- a region that is still the stub (the student skipped the task): the next assignment's code that
  runs through it fails for a reason that is not the student's new work;
- code that fails its own grader (graded as the instructor grades, ``--submission``);
- lines the student wrote outside the markers (a helper function, an import): only region bodies
  are carried, so these are dropped and the carried code may call what is gone.

With ``--fill-missing reference`` the stubbed and failing tasks get the reference instead, so the
next assignment is workable; the warnings still say which.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lessons.assignments import REPO
from lessons.regions import RegionError, find_regions


def stubs(carried: dict[tuple[str, str, int], str]) -> dict[str, str]:
    """Task -> warning, for the carried code regions that are still the stub."""
    found = {}
    for (rel, task, _), body in carried.items():
        if "NotImplementedError(" in body and f"Task {task}:" in body:
            found[task] = f"task {task}: {rel} still holds the stub: the task was never done"
    return found


def failing(previous: Path) -> dict[str, str]:
    """Task -> warning, for the tasks of the previous handout's own assignment whose code fails
    its grader (run as ``python -m lessons.grade --submission``; no hidden tests)."""
    names = sorted({p.parent.name for p in Path(previous).glob("lessons/a[0-9][0-9]_*/tasks.toml")})
    if len(names) != 1:
        return {}
    with tempfile.TemporaryDirectory(prefix="npgpt-carry-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "lessons.grade", "--submission", str(Path(previous).resolve())]
        cmd += ["--assignment", names[0], "--out", tmp, "--no-hidden"]
        subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        results = list(Path(tmp).glob("results/*.json"))
        if not results:
            return {}
        tests = json.loads(results[0].read_text())["tests"]
    return {
        t["number"]: f"task {t['number']}: the code fails its grader ({t['score']} of {t['max_score']} points)"
        for t in tests
        if "number" in t and t["score"] < t["max_score"]
    }


def dropped(previous: Path, out: Path) -> list[str]:
    """Warnings for lines written outside the markers in ``previous`` that ``out`` does not have."""
    found = []
    for path in sorted(Path(previous).glob("npgpt/**/*.py")) + sorted(Path(previous).glob("lessons/a*/*.py")):
        rel = path.relative_to(previous)
        if not (Path(out) / rel).is_file() or path.name.startswith("test_"):
            continue
        mine, theirs = _outside(path), set(_outside(Path(out) / rel))
        extra = [line for line in mine if line not in theirs]
        if extra:
            shown = "; ".join(extra[:3]) + (" ..." if len(extra) > 3 else "")
            found.append(f"{rel}: {len(extra)} lines outside the markers are not carried ({shown})")
    return found


def _outside(path: Path) -> list[str]:
    """The non-blank, non-comment lines of a file outside its regions, stripped."""
    try:
        lines = path.read_text().splitlines()
        inside = {i for r in find_regions(path) for i in range(r.start, r.end + 1)}
    except (RegionError, UnicodeDecodeError):
        return []
    return [s for i, line in enumerate(lines) if i not in inside and (s := line.strip()) and not s.startswith("#")]
