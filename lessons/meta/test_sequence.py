"""A course in sequence, safely: ``--from`` warns per task about what it carries (a stub, code that
fails its grader, a helper outside the markers), ``--fill-missing reference`` makes the next
assignment workable, and a capstone is never handed out with the reference in its regions."""

from __future__ import annotations

import pytest

from lessons.assignments import load_assignments
from lessons.meta.handouts import cheat_assignment, fill_with_reference, reference_lines, set_region, stub_of
from lessons.plants import load_plants, plant
from lessons.regions import scan
from lessons.release import ReleaseError, release

ASSIGNMENTS = load_assignments()
CAPSTONES = [a for a in ASSIGNMENTS if any(t.cumulative for t in a.tasks.values())]


@pytest.mark.parametrize("capstone", [a.name for a in CAPSTONES])
def test_a_capstone_is_not_released_with_the_reference_in_its_regions(capstone, tmp_path):
    with pytest.raises(ReleaseError, match="--from"):
        release(tmp_path / "alone", capstone)
    assert not (tmp_path / "alone").exists()
    previous = release(tmp_path / "all", None)  # a student who did nothing
    folder = release(tmp_path / "capstone", capstone, previous=previous)
    regions = [r for r in scan(folder) if not r.in_docstring]
    assert regions and all("NotImplementedError" in r.body for r in regions), "a region of the capstone is solved"


@pytest.mark.slow
def test_from_warns_per_task_and_fill_missing_gives_the_reference(tmp_path):
    a, _ = cheat_assignment()
    nxt = next(b for b in ASSIGNMENTS if b.number > a.number)
    skipped, wrong = sorted(a.tasks)[:2]
    previous = release(tmp_path / "previous", a.name)
    fill_with_reference(previous)
    set_region(previous, skipped, stub_of(skipped))
    plant(previous, [load_plants()[wrong][0]])
    helper_file = next(r.path for r in scan(previous) if r.task == wrong)
    helper_file.write_text(helper_file.read_text() + "\n\ndef my_helper(x):\n    return x\n")

    warnings = []
    carried = release(tmp_path / "next", nxt.name, previous=previous, warn=warnings.append)
    said = "\n".join(warnings)
    assert f"task {skipped}:" in said and "stub" in said, said
    assert f"task {wrong}: the code fails its grader" in said, said
    assert "def my_helper(x):" in said and "not carried" in said, said
    done_right = [t for t in a.tasks if t not in (skipped, wrong)]
    assert not any(f"task {t}:" in said for t in done_right), f"a task done right was warned about:\n{said}"
    region = next(r for r in scan(carried) if r.task == skipped and not r.in_docstring)
    assert "NotImplementedError" in region.body, "without --fill-missing the stub is carried as it is"

    warnings.clear()
    filled = release(tmp_path / "filled", nxt.name, previous=previous, warn=warnings.append, fill_missing=True)
    assert any("filled with the reference" in w for w in warnings)
    for task in (skipped, wrong):
        region = next(r for r in scan(filled) if r.task == task and not r.in_docstring)
        body = [line[len(region.indent) :] for line in region.body.splitlines()]
        assert body == reference_lines(task), f"task {task} was not filled with the reference"
