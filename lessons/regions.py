"""Solution regions: the one source from which every student handout is generated.

A task's reference code sits in the library (or, for a warm-up, in a module of the assignment's
folder) between two marker lines, in the convention of nbgrader::

    def backward(ctx, g):
        ### BEGIN SOLUTION 6.2
        xhat, rstd, gamma = ctx.saved_tensors
        ...
        ### END SOLUTION 6.2

The same markers may stand inside a docstring, around the lines that would give the answer away
(a derivation, a formula). The release tool (``python -m lessons.release``) turns each region of a
task being handed out into

    ### BEGIN YOUR CODE 6.2
    raise NotImplementedError("Task 6.2: <the task's contract from lessons/aNN_*/tasks.toml>")
    ### END YOUR CODE 6.2

(for a region in a docstring, one line that says the derivation is the student's to do), fills the
regions of earlier tasks with the reference, or with a student's own earlier work, and keeps the
markers so that a student's code can be found again: by the grader (which checks it with ``lessons.honesty``) and by the next release of a course that runs in sequence.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN (?P<kind>SOLUTION|YOUR CODE) (?P<task>\d+\.\d+)\s*$")
END = re.compile(r"^[ \t]*### END (?P<kind>SOLUTION|YOUR CODE) (?P<task>\d+\.\d+)\s*$")

# the classroom tools themselves quote the markers; they hold no regions
TOOLS = {
    "regions.py",
    "handout.py",
    "release.py",
    "grade.py",
    "assignments.py",
    "conftest.py",
    "grading.py",
    "finite_differences.py",
    "plants.py",
    "boxed.py",
    "honesty.py",
    "instructor.py",
    "gradescope.py",
    "sequence.py",
    "student_notebooks.py",
    "guide.py",
}


class RegionError(ValueError):
    """A marker out of place: an END without its BEGIN, a region left open, a task id mismatch."""


@dataclass(frozen=True)
class Region:
    """One marked region of a file: lines ``start`` (the BEGIN marker) to ``end`` (the END marker), 0-based."""

    path: Path
    task: str
    kind: str  # "SOLUTION" (the reference) or "YOUR CODE" (a handout)
    start: int
    end: int
    indent: str
    in_docstring: bool
    body: str  # the lines between the markers

    @property
    def assignment(self) -> int:
        return int(self.task.split(".")[0])


def _string_lines(source: str) -> set[int]:
    """0-based numbers of the lines that lie inside a multi-line string (a docstring, usually)."""
    inside = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
            inside.update(range(tok.start[0], tok.end[0] - 1))  # tokenize counts from 1
    return inside


def find_regions(path: Path, source: str | None = None) -> list[Region]:
    """Every region of one file, in order; markers must pair up with the same task id."""
    source = Path(path).read_text() if source is None else source
    if "### BEGIN " not in source:
        return []
    lines = source.splitlines()
    strings = _string_lines(source)
    regions, open_ = [], None
    for i, line in enumerate(lines):
        if m := BEGIN.match(line):
            if open_ is not None:
                raise RegionError(f"{path}:{i + 1}: BEGIN {m['task']} inside the open region {open_[1]['task']}")
            open_ = (i, m)
        elif m := END.match(line):
            if open_ is None or open_[1]["task"] != m["task"] or open_[1]["kind"] != m["kind"]:
                raise RegionError(f"{path}:{i + 1}: END {m['kind']} {m['task']} without a matching BEGIN")
            s, b = open_
            body = "\n".join(lines[s + 1 : i])
            regions.append(Region(Path(path), b["task"], b["kind"], s, i, b["indent"], s in strings, body))
            open_ = None
    if open_ is not None:
        raise RegionError(f"{path}:{open_[0] + 1}: region {open_[1]['task']} is never closed")
    return regions


def scan(root: Path, folders=("npgpt", "lessons")) -> list[Region]:
    """Every region under ``root``'s source folders (tests and tools excluded)."""
    found = []
    for folder in folders:
        for path in sorted((Path(root) / folder).rglob("*.py")):
            if "meta" in path.parts or path.name.startswith("test_") or (folder == "lessons" and path.name in TOOLS):
                continue
            found += find_regions(path)
    return found


def stub_lines(region: Region, contract: str) -> list[str]:
    """What replaces a stubbed region's body in a handout."""
    if region.in_docstring:
        return [f"{region.indent}(Task {region.task}: this part is yours to derive; the notebook shows how.)"]
    words = f"Task {region.task}: {contract}".replace("\\", "\\\\").replace('"', '\\"').split()
    chunks, line = [], ""
    for w in words:  # one string literal per ~88 characters, so the handout reads well
        if line and len(line) + len(w) > 88:
            chunks.append(line + " ")
            line = ""
        line += (" " if line else "") + w
    chunks.append(line)
    pad = region.indent + "    "
    return [f"{region.indent}raise NotImplementedError("] + [f'{pad}"{c}"' for c in chunks] + [f"{region.indent})"]


def rewrite(path: Path, source: str, replace) -> str:
    """``source`` with each region's body swapped for ``replace(region) -> (kind, body_lines)``.

    ``replace`` returns None to keep a region as it is. The markers stay (with the new kind), so
    the result can be rewritten again.
    """
    lines = source.splitlines()
    out, last = [], 0
    for r in find_regions(path, source):
        new = replace(r)
        if new is None:
            continue
        kind, body = new
        out += lines[last : r.start]
        out.append(f"{r.indent}### BEGIN {kind} {r.task}")
        out += body
        out.append(f"{r.indent}### END {kind} {r.task}")
        last = r.end + 1
    out += lines[last:]
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def strip_markers(source: str) -> str:
    """``source`` without the marker lines (what a reader of the library would see)."""
    return "\n".join(line for line in source.splitlines() if not (BEGIN.match(line) or END.match(line))) + "\n"
