"""The student commands of lessons/README.md work exactly as written.

The install command must bring pytest (``pip install -e .`` alone does not), and the grading commands
must run on a machine where nbmake is absent: they once failed with "unrecognized arguments:
--nbmake" because pyproject's ``addopts`` asked for it. A fresh virtual environment would need the
network (pip), so the grading commands run here, in this environment, with nbmake blocked
(``-p no:nbmake``), which is what pytest sees where nbmake is not installed.
"""

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "lessons" / "README.md").read_text(encoding="utf-8")


SECTION = README.split("## For students", 1)[1].split("\n## ", 1)[0]


def _student_commands():
    """The command lines of the section's bash blocks (comments stripped), then its inline `pip install`s."""
    lines = [line for block in re.findall(r"```bash\n(.*?)```", SECTION, flags=re.S) for line in block.splitlines()]
    commands = [re.split(r"\s{2,}#", line)[0].strip() for line in lines if line.strip() and not line.startswith("#")]
    prose = re.sub(r"```.*?```", "", SECTION, flags=re.S)
    return commands + [c for c in re.findall(r"`(pip install [^`]*)`", prose) if c not in commands]


COMMANDS = _student_commands()
INSTALLS = [c for c in COMMANDS if c.startswith("pip install")]
GRADING = [c for c in COMMANDS if c.split()[0] == "pytest" or " pytest " in c]


def _requirement_names(requirements):
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].strip().lower() for r in requirements}


def test_the_student_section_has_an_install_and_grading_commands():
    assert len(INSTALLS) == 1, f"expected one pip install command for students, found {INSTALLS}"
    assert GRADING, "expected pytest commands for students"


def test_the_install_command_brings_pytest():
    args = shlex.split(INSTALLS[0])
    target = args[args.index("-e") + 1] if "-e" in args else args[-1]
    extras = re.fullmatch(r"\.(?:\[(.*)\])?", target)
    assert extras, f"the install command should install the repository ('.' or '.[extras]'): {INSTALLS[0]}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in filter(None, (extras.group(1) or "").split(",")):
        requirements += project["optional-dependencies"][extra.strip()]
    assert "pytest" in _requirement_names(requirements), (
        f"`{INSTALLS[0]}` does not install pytest, so the grading commands that follow it cannot run"
    )


def _run(command):
    """Run a README command line (``VAR=value ... pytest args``) with this interpreter's pytest."""
    words = shlex.split(command)
    env = {k: v for k, v in os.environ.items() if k not in ("NPGPT_LESSON_IMPL", "PYTEST_ADDOPTS")}
    while "=" in words[0] and not words[0].startswith("-"):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert words[0] == "pytest", f"expected a pytest command: {command}"
    env["PYTEST_ADDOPTS"] = "-p no:nbmake -p no:cacheprovider"  # as on a machine without nbmake
    return subprocess.run(
        [sys.executable, "-m", "pytest", *words[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", GRADING)
def test_grading_command_runs_as_written_without_nbmake(command):
    result = _run(command)
    output = result.stdout + result.stderr
    assert "unrecognized arguments" not in output and result.returncode in (0, 1), (
        f"`{command}` did not run its tests (exit status {result.returncode}):\n{output[-3000:]}"
    )
    # the handout is unsolved: grading it runs the tests, which fail on the stubs
    assert "NotImplementedError" in output and " failed" in output, output[-3000:]
