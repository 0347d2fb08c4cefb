"""Loopholes found in handouts, pinned so they stay closed.

- An a08 handout spelled RoPE out (a docstring, the torch reference of ``npgpt.gradcheck_cases``);
  an a09 handout spelled the pre-LN block out (the docstrings of ``npgpt/nn/block.py``, config.py).
- Task 9.1 was graded through the student's own LayerNorm and attention in a course in sequence
  (``--from``), and through the stubbed KV cache (task 11.4) in a plain a09 handout, where a right
  block could not pass: every handout, its tasks done, must score full marks.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lessons.assignments import find_assignment, load_assignments
from lessons.meta.handouts import fill_with_reference
from lessons.plants import load_plants, plant
from lessons.release import release

GIVEAWAYS = {
    "a08": ["x * cos + rotate_half(x) * sin", "* cos + t.cat([-x[..., h:]", "rotate_half(g * sin)", "10000^(2i/C)"],
    "a09": ["x + attn(ln_1(x))", "x + mlp(ln_2(x))", "x + sublayer(LN(x))"],
}


@pytest.mark.parametrize("name", sorted(GIVEAWAYS))
def test_the_handout_does_not_spell_the_answer_out(name, tmp_path):
    folder = release(tmp_path / "h", name)
    for path in sorted((folder / "npgpt").rglob("*.py")):
        if "viz" in path.parts:  # the notebooks' figures (the block diagram) teach, as the notebooks do
            continue
        text = path.read_text()
        found = [g for g in GIVEAWAYS[name] if g in text]
        assert not found, f"{path.relative_to(folder)} of an {name} handout holds {found}"


@pytest.mark.slow
def test_9_1_is_graded_on_its_own_in_a_course_in_sequence(tmp_path):
    # the student's a08 handout: positions done, but a wrong attention mask and a LayerNorm without the mean
    previous = release(tmp_path / "a08", "a08")
    fill_with_reference(previous, {"8.1", "8.2", "8.3", "8.4"})
    plants = load_plants()
    plant(previous, [plants["6.1"][0], plants["7.1"][0]])
    nxt = release(tmp_path / "a09", "a09", previous=previous)
    fill_with_reference(nxt, {"9.1"})
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(nxt)}
    out = subprocess.run(
        [sys.executable, "-m", "lessons.grade", "--task", "9.1", "--quiet"],
        cwd=nxt,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, f"9.1 fails on a right block because of earlier tasks:\n{out.stdout[-3000:]}"


@pytest.mark.slow
# a capstone (every task cumulative) trains a model on the reference: the normal suite runs it
@pytest.mark.parametrize(
    "name", [a.name for a in load_assignments() if any(not t.cumulative for t in a.tasks.values())]
)
def test_a_handout_with_its_tasks_done_scores_full_marks(name, tmp_path):
    """In a real handout every LATER assignment's regions are stubs: a grader that passes through
    one of them (9.1 went through the KV cache, task 11.4) can never be passed."""
    folder = release(tmp_path / "h", name)
    fill_with_reference(folder, set(find_assignment(name).tasks))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(folder)}
    out = subprocess.run(
        [sys.executable, "-m", "lessons.grade", "--quiet"], cwd=folder, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, (
        f"{name} done right does not score full marks:\n{out.stdout[-3000:]}{out.stderr[-2000:]}"
    )
