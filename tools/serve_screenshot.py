"""Remake docs/serve.png, the README's picture of ``npgpt serve``, with the browser test's own code.

    python tools/serve_screenshot.py [--checkpoint runs/sft/checkpoint]

Runs tests/test_serve_browser.py with NPGPT_SERVE_SCREENSHOT=docs/serve.png and
NPGPT_SERVE_CHECKPOINT=<checkpoint> (a chat model, e.g. from ``npgpt sft``): the picture is what the
test saw after chatting, continuing from an alternative, and clicking a token.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="runs/sft/checkpoint", help="a chat model (default: %(default)s)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "serve.png"))
    args = ap.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NPGPT_SERVE_SCREENSHOT": str(Path(args.out).resolve()),
        "NPGPT_SERVE_CHECKPOINT": args.checkpoint,  # as given: the page header shows it
    }
    test = str(ROOT / "tests" / "test_serve_browser.py")
    cmd = [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"]
    sys.exit(subprocess.run(cmd, cwd=ROOT, env=env).returncode)


if __name__ == "__main__":
    main()
