"""Gradescope's autograder zip for one assignment: ``python -m lessons.grade --gradescope a07 OUT.zip``.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once to build the image,
and for each submission runs ``/autograder/run_autograder`` with the student's files in
``/autograder/submission``; it reads ``/autograder/results/results.json``. The zip holds this
repository's ``npgpt`` and ``lessons`` (the graders and the hidden tests: Gradescope never shows
them to students), so the grade is the one ``--submission`` gives on the instructor's machine.
``AUTOGRADER_ROOT`` moves ``/autograder`` elsewhere (the meta test runs it in a temporary folder).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from lessons.assignments import REPO, Assignment

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder image.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv python3-pip
python3 -c 'import sys; assert sys.version_info >= (3, 11), "npgpt needs Python 3.11+: pick Ubuntu 24.04"'
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install "numpy>=1.26" "pytest>=7.4" "regex>=2023" "tqdm>=4.60" \\
    "safetensors>=0.4" "matplotlib>=3.7"
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: the student's files are in $ROOT/submission.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PY="${{PYTHON:-$ROOT/venv/bin/python}}"
[ -x "$PY" ] || PY=python3
mkdir -p "$ROOT/results"
cd "$ROOT/source" || exit 1
PYTHONPATH="$ROOT/source" "$PY" -m lessons.grade --submission "$ROOT/submission" --assignment {name} \\
    --results "$ROOT/results/results.json"
# Gradescope needs a results.json whatever happened; a score below full marks is not a failure
[ -s "$ROOT/results/results.json" ] || echo '{{"score": 0, "tests": [], "output": "The autograder failed to run: tell your instructor."}}' > "$ROOT/results/results.json"
exit 0
"""

SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", "meta", ".pytest_cache"}


def write_zip(a: Assignment, out: Path) -> Path:
    """The autograder zip of assignment ``a`` at ``out`` (a new file)."""
    out = Path(out)
    if out.exists():
        raise ValueError(f"{out} exists: give a new file name")
    files = []
    for folder in ("npgpt", "lessons"):
        for path in sorted((REPO / folder).rglob("*")):
            rel = path.relative_to(REPO)
            if path.is_file() and not SKIP_PARTS & set(rel.parts) and path.suffix not in (".pyc", ".ipynb"):
                files.append((path, str(rel)))
    tmp = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN.format(name=a.name))):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        for path, rel in files:
            z.write(path, rel)
    tmp.rename(out)
    return out
