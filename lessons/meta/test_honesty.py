"""The syntax-tree honesty check (``lessons.honesty``), rule by rule, in milliseconds: each cheat
is refused with its line, the reference of every task passes, ordinary NumPy code passes."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from lessons.assignments import REPO, all_tasks
from lessons.honesty import check_file, check_region
from lessons.regions import Region, scan

FILE = "import numpy as np\nfrom npgpt.backend import get_array_module\n\n\nclass Op:\n    @staticmethod\n"
FILE += "    def backward(ctx, g):\n        pass\n\n\ndef forward(x):\n    pass\n"
BACKWARD, FORWARD = 7, 11  # 1-based lines of the two functions' BEGIN markers (stand-ins)

REFUSED = {
    "import": ("import torch", FORWARD, "imports torch"),
    "two imports in one": ("import numpy, torch", FORWARD, "imports numpy, torch"),
    "from import": ("from lessons.a07_attention.test_a07_attention import future", FORWARD, "imports"),
    "exec": ('exec("import tor" + "ch")', FORWARD, "uses exec"),
    "eval aliased": ("f = eval", FORWARD, "uses eval"),
    "__import__": ('m = __import__("torch")', FORWARD, "names __import__"),
    "getattr with a built name": ('f = getattr(x, "attention_" + "composed")', FORWARD, "computed attribute"),
    "getattr on a module": ('f = getattr(np, "add")', FORWARD, "on the module np"),
    "setattr": ("setattr(x, 'a', 1)", FORWARD, "uses setattr"),
    "globals": ("g = globals()", FORWARD, "uses globals"),
    "sys.modules": ("sys.modules['lessons.grading'].assert_close = None", FORWARD, "names the module sys"),
    "os._exit": ("os._exit(0)", FORWARD, "names the module os"),
    "a dunder": ("c = x.__class__", FORWARD, "dunder attribute"),
    "np.testing": ("np.testing.assert_allclose = None", FORWARD, "reaches .testing"),
    "a module attribute assigned": ("np.add = None", FORWARD, "assigns to an attribute of the module np"),
    "through an alias": ("m = np.linalg\nm.norm = None", FORWARD, "assigns to an attribute of the module m"),
    "a module passed to a local helper": ("def h(m):\n    m.add = 1\nh(np)", FORWARD, "passes the module np"),
    "a frame": ("f = (i for i in x).gi_frame", FORWARD, "frames"),
    "global": ("global np", FORWARD, "declares global"),
    "autograd in a backward": ("t = Tensor(g)\nt.backward(g)", BACKWARD, "npgpt's autograd"),
    ".grad in a backward": ("return (ctx.x.grad,)", BACKWARD, "npgpt's autograd (.grad)"),
    "a forbidden call": ("return attention_composed(x)", FORWARD, "forbids"),
    "a forbidden call aliased": ("f = attention_composed", FORWARD, "forbids"),
    "a forbidden method": ("return Softmax.backward(ctx, g)", FORWARD, "forbids"),
    "outside the indent": ("return 1\nx = 2", FORWARD, None),
    "an unclosed bracket": ("y = (x", FORWARD, "not complete Python statements"),
}

ALLOWED = [
    ("xp = get_array_module(x)\nreturn xp.exp(x - x.max(axis=-1, keepdims=True))", FORWARD),
    ('dims = getattr(x, "ndim", 0)\nreturn dims', FORWARD),
    ("y = helper(xp, x)\nreturn y if xp is np else None", FORWARD),
    ("(q,) = ctx.saved_tensors\nctx.scale = 2\nreturn (g * q * ctx.needs_input_grad[0],)", BACKWARD),
    ("for i in range(3):\n    x[i] += 1\nreturn x", FORWARD),
]


def _region(body: str, at: int) -> Region:
    lines = body.splitlines()
    if body == "return 1\nx = 2":  # the second line is written at the top level
        indented = ["        return 1", "x = 2"]
    else:
        indented = ["        " + line if line else "" for line in lines]
    return Region(Path("op.py"), "7.3", "YOUR CODE", at - 1, at + len(lines), "        ", False, "\n".join(indented))


FORBIDDEN = ("attention_composed", "Softmax.backward")


@pytest.mark.parametrize("name", list(REFUSED))
def test_each_cheat_is_refused_naming_its_line(name):
    body, at, words = REFUSED[name]
    found = check_region(_region(body, at), ast.parse(FILE), FORBIDDEN)
    assert found, f"{name}: not refused"
    assert found[0].startswith("line "), found
    if words:
        assert any(words in f for f in found), f"{name}: {found}"


@pytest.mark.parametrize("body, at", ALLOWED)
def test_ordinary_numpy_code_passes(body, at):
    assert check_region(_region(body, at), ast.parse(FILE), FORBIDDEN) == []


def test_the_reference_of_every_task_passes():
    forbidden = {tid: t.forbidden for tid, t in all_tasks().items()}
    by_file = defaultdict(list)
    for r in scan(REPO):
        by_file[r.path].append(r)
    refused = {}
    for path, regions in by_file.items():
        refused |= check_file(path, regions, forbidden, str(path.relative_to(REPO)))
    assert not refused, f"reference code refused by the honesty check: {refused}"
