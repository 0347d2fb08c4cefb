"""Every lesson notebook has what the course promises a learner (read from the ``.py`` sources).

- at least one "your turn" exercise (``tests/test_notebook_exercises.py`` checks that its check
  can fail), whose reference answer is folded in ``<details>``, so the hint above it gives a
  direction and not the code;
- at least one "Predict, then run" prompt before a result worth guessing;
- "Check yourself" questions, each with a folded hint;
- a "Papers" (or "References") section that links to its sources.
The figures are checked on the built website (``tests/test_website.py``), where they must render.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
FENCE = "```"


def markdown_cells(path):
    return [c.source for c in jupytext.read(path).cells if c.cell_type == "markdown"]


def sections(path, heading):
    """The markdown under each heading that starts with ``heading``, up to the next heading as high."""
    level = heading.split(" ")[0]
    stop = re.compile(rf"^#{{1,{len(level)}}} ", re.M)
    found = []
    for m in markdown_cells(path):
        for start in re.finditer(rf"^{re.escape(heading)}", m, re.M):
            rest = m[start.end() :]
            end = stop.search(rest)
            found.append(m[start.start() : start.end() + (end.start() if end else len(rest))])
    return found


def outside_details(text):
    """The text with every <details>...</details> block cut out."""
    return re.sub(r"<details>.*?</details>", "", text, flags=re.S)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_has_an_exercise_with_its_answer_folded(path):
    turns = sections(path, "### Your turn")
    assert turns, f"{path.name}: no '### Your turn' exercise"
    for m in turns:
        title = m.splitlines()[0]
        assert "<details>" in m, f"{path.name}: '{title}' has no folded answer"
        assert FENCE not in outside_details(m), f"{path.name}: '{title}' shows code outside <details>"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_asks_to_predict_before_running(path):
    assert any("**Predict, then run.**" in m for m in markdown_cells(path)), f"{path.name}: no 'Predict, then run'"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_check_yourself_question_has_a_folded_hint(path):
    cells = sections(path, "## Check yourself")
    assert len(cells) == 1, f"{path.name}: expected one '## Check yourself' cell, found {len(cells)}"
    questions = re.findall(r"(?m)^\d+\. ", cells[0])
    hints = cells[0].count("<details>")
    assert questions and hints == len(questions), f"{path.name}: {len(questions)} questions, {hints} folded hints"
    assert cells[0].count("</details>") == hints, f"{path.name}: a <details> is not closed"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_links_its_papers(path):
    papers = sections(path, "## Papers") + sections(path, "## References")
    assert papers, f"{path.name}: no '## Papers' section"
    links = re.findall(r"<https?://[^>\s]+>", "\n".join(papers))
    assert len(links) >= 2, f"{path.name}: its papers section has {len(links)} links, expected at least 2"
