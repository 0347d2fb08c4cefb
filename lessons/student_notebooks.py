"""The lesson notebooks as a handout carries them: every "your turn" answer taken out.

The repository's notebooks run top to bottom (CI executes them, self-learners read them), so each
exercise's code cell holds the answer after a ``# your code here`` comment, and the markdown above
it folds the answer into ``<details><summary>Answer</summary> ... </details>``. A student's copy
keeps the hints and the checks, drops the folded answers, and replaces the code after each
``# your code here`` (the rest of that block) with

    # your code here
    raise NotImplementedError("your turn: ...")

so the check cell that follows fails until the student writes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ANSWER = re.compile(r"<details><summary>Answer</summary>.*?</details>\n?", re.S)
YOUR_CODE = re.compile(r"^(?P<indent>[ \t]*)# your code here\b.*$")
STUB = 'raise NotImplementedError("your turn: write this, then run the check in the next cell")'


def stub_code(source: str) -> str:
    """A code cell's source with the block after each ``# your code here`` replaced by a stub."""
    lines, out, i = source.split("\n"), [], 0
    while i < len(lines):
        m = YOUR_CODE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent, start = m["indent"], i + 1
        out += [f"{indent}# your code here", f"{indent}{STUB}"]
        i = start
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) >= len(indent)):
            i += 1  # the answer: the rest of the block (at the top level of a cell, the rest of the cell)
        while i > start and not lines[i - 1].strip():
            i -= 1  # the blank lines after it stay
    return "\n".join(out)


def student_version(notebook: dict) -> dict:
    """The notebook (nbformat JSON) with its answers taken out and its outputs cleared."""
    cells = []
    for cell in notebook["cells"]:
        cell = dict(cell)
        source = "".join(cell.get("source", []))
        if cell["cell_type"] == "markdown":
            source = ANSWER.sub("", source)
        elif cell["cell_type"] == "code":
            source = stub_code(source)
            cell["outputs"], cell["execution_count"] = [], None
        cell["source"] = source.splitlines(keepends=True)
        cells.append(cell)
    return {**notebook, "cells": cells}


def copy_notebooks(names: list[str], notebooks: Path, out: Path) -> list[Path]:
    """Write the student versions of ``notebooks/<name>.ipynb`` into ``out``; returns the paths."""
    written = []
    for name in dict.fromkeys(n for n in names if n):
        source = Path(notebooks) / f"{name}.ipynb"
        if not source.exists():
            continue
        out.mkdir(parents=True, exist_ok=True)
        target = out / source.name
        target.write_text(json.dumps(student_version(json.loads(source.read_text())), indent=1) + "\n")
        written.append(target)
    return written
