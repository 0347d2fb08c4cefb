"""The instructor commands of lessons/README.md work exactly as written.

The release commands of its "Release, hand out, grade" section run in order in an empty folder
(the ``--from`` example carries the handout the first one wrote), the command of its "For
students" section writes and shows a handout README, and grading a fresh handout runs its tests,
which fail on the stubs.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "lessons" / "README.md").read_text(encoding="utf-8")


def _section(title):
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _commands(section):
    """The command lines of a section's bash blocks, comments stripped."""
    lines = [line for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S) for line in block.splitlines()]
    return [re.split(r"\s{2,}#", line)[0].strip() for line in lines if line.strip() and not line.startswith("#")]


RELEASES = [c for c in _commands(_section("Release, hand out, grade")) if c.startswith("python -m lessons.release")]
STUDENTS = _commands(_section("For students"))


def _run(command, cwd, tmp):
    """A README command line, with this interpreter, this repository on the path, /tmp moved to ``tmp``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
    command = command.replace("/tmp/", f"{tmp}/").replace("python -m", f"{shlex.quote(sys.executable)} -m")
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_readme_gives_the_release_commands():
    assert any("--assignment" in c for c in RELEASES) and any("--all" in c for c in RELEASES)
    assert any("--from" in c for c in RELEASES), "the README shows no course in sequence"
    assert STUDENTS, "the For students section shows no command"


@pytest.mark.slow
def test_the_release_commands_run_as_written_and_the_handout_grades(tmp_path):
    for command in RELEASES:
        out = _run(command, tmp_path, tmp_path)
        assert out.returncode == 0, f"`{command}` failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}"
    first = tmp_path / shlex.split(RELEASES[0])[-1]
    assert (first / "README.md").exists() and (first / "npgpt").is_dir()
    graded = subprocess.run(
        [sys.executable, "-m", "lessons.grade"],
        cwd=first,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(first)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert graded.returncode == 1 and "total" in graded.stdout, graded.stdout[-3000:] + graded.stderr[-2000:]
    assert "NotImplementedError" in graded.stdout or "Task " in graded.stdout, graded.stdout[-3000:]


def test_the_students_command_shows_a_handout_readme(tmp_path):
    for command in STUDENTS:
        out = _run(command, tmp_path, tmp_path)
        assert out.returncode == 0, f"`{command}` failed:\n{out.stderr[-2000:]}"
        assert "python -m pip install -e .\npython -m lessons.grade" in out.stdout
