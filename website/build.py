"""Build the course website: every lesson notebook executed, with its outputs and figures.

    python -m pip install -e '.[site]'
    python website/build.py                 # -> website/_build/html/index.html
    python website/build.py --out DIR       # elsewhere; --no-execute: render without running
    python website/build.py --executed DIR  # render notebooks executed before (DIR/NN_*.ipynb)

Stages ``website/`` (Sphinx config, index, CSS), README.md, lessons/README.md and notebooks/
(the ``NN_*.ipynb`` lessons and their README) into ``<out>/source``, then runs Sphinx with
MyST-NB, which executes each notebook; a cell that raises fails the build. ``--executed`` takes
each lesson from DIR instead, already executed with its outputs (the test suite runs each notebook
once and hands the results here), and renders them without running them again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def stage(src: Path, executed: Path | None = None) -> Path:
    """Copy the site's sources into ``src`` (a fresh folder) in the layout the toctree expects.

    The lessons come from notebooks/, or, with ``executed``, from that folder under the same names.
    """
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(HERE, src, ignore=shutil.ignore_patterns("_build", "build.py", "__pycache__"))
    shutil.copy(ROOT / "README.md", src / "readme.md")
    shutil.copytree(ROOT / "docs", src / "docs")  # the README's pictures (docs/serve.png)
    shutil.copy(ROOT / "lessons" / "README.md", src / "lessons.md")
    shutil.copy(ROOT / "lessons" / "GUIDE.md", src / "GUIDE.md")  # linked from lessons/README.md as GUIDE.md
    nb = src / "notebooks"
    nb.mkdir()
    shutil.copy(ROOT / "notebooks" / "README.md", nb / "index.md")
    for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        done = executed / p.name if executed else p
        if not done.is_file():
            raise SystemExit(f"website/build.py: {done} is missing (--executed needs every lesson)")
        shutil.copy(done, nb / p.name)
    return src


def build(out: Path, execute: bool = True, jobs: str = "1", executed: Path | None = None) -> Path:
    """Stage and build; returns the folder holding index.html. Raises SystemExit if Sphinx fails.

    ``executed``: a folder of lesson notebooks executed before, rendered as they are (no execution).
    """
    from sphinx.cmd.build import build_main

    out = out.resolve()
    src = stage(out / "source", executed)
    html = out / "html"
    if not execute or executed:
        os.environ["NPGPT_SITE_EXECUTE"] = "off"
    # the notebooks' kernels must import this checkout's npgpt, installed or not
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    # figures must reach the page: the inline backend, even where MPLBACKEND=Agg is set (as in CI)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    rc = build_main(["-b", "html", "-q", "-j", jobs, "-d", str(out / "doctrees"), str(src), str(html)])
    if rc:
        raise SystemExit(f"website/build.py: sphinx-build failed (exit {rc})")
    return html


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Build the npgpt course website (static HTML).")
    ap.add_argument("--out", type=Path, default=HERE / "_build", help="output folder (default website/_build)")
    ap.add_argument("--no-execute", action="store_true", help="render the notebooks without running them")
    ap.add_argument("--executed", type=Path, help="render the lessons executed before, found in this folder")
    ap.add_argument("-j", "--jobs", default="1", help="parallel Sphinx workers ('auto' = one per core)")
    args = ap.parse_args(argv)
    html = build(args.out, execute=not args.no_execute, jobs=args.jobs, executed=args.executed)
    print(f"website: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
