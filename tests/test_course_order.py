"""The course in order: no notebook uses an npgpt API before the notebook that teaches it.

Each lesson notebook's jupytext source (``notebooks/NN_topic.py``) is read as Python: its npgpt
imports (``from npgpt.nn import GPT``, ``import npgpt.functional as F``) and the attribute chains
rooted at them (``npgpt.nn.GPT``, ``F.softmax``, ``GPT.from_hf``). Each use is looked up in
``notebooks/taught_in.toml`` (API -> the number of the notebook that teaches it); a use in a
notebook numbered before that one fails, and so does a use the table does not name. A number may
name a notebook that is not written yet: the rule is only that nothing before it uses the API.
What the test cannot see: methods called on objects (``model.generate``), and prose.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import tomllib
from pathlib import Path

import pytest

from lessons.assignments import load_assignments

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TABLE = NOTEBOOKS / "taught_in.toml"
_MISSING = object()


def notebook_sources(folder: Path = NOTEBOOKS) -> dict[int, tuple[str, str]]:
    """{number: (file name, source)} of the lesson notebooks ``NN_topic.py``."""
    return {int(p.name[:2]): (p.name, p.read_text()) for p in sorted(folder.glob("[0-9][0-9]_*.py"))}


def npgpt_uses(source: str) -> dict[str, int]:
    """{dotted path under npgpt: first line} of every npgpt name a source imports or reaches by attributes."""
    tree = ast.parse(source)
    alias, uses = {}, {}

    def use(path, line):
        uses[path] = min(line, uses.get(path, line))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "npgpt":
                    alias[a.asname or "npgpt"] = a.name if a.asname else "npgpt"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "npgpt":
            for a in node.names:
                alias[a.asname or a.name] = f"{node.module}.{a.name}"
                use(f"{node.module}.{a.name}", node.lineno)
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:  # a whole chain a.b.c, once
            chain, root = [], node
            while isinstance(root, ast.Attribute):
                chain.append(root.attr)
                root = root.value
            if isinstance(root, ast.Name) and root.id in alias:
                use(".".join([alias[root.id], *reversed(chain)]), node.lineno)
    return uses


def resolve(path: str):
    """The object a dotted ``npgpt...`` path names: attributes first, else a submodule of that name."""

    def walk(obj, name, parts):
        if not parts:
            return obj
        found = [getattr(obj, parts[0])] if hasattr(obj, parts[0]) else []
        if inspect.ismodule(obj):
            try:
                found.append(importlib.import_module(f"{name}.{parts[0]}"))
            except ImportError:
                pass
        for nxt in found:
            if (r := walk(nxt, f"{name}.{parts[0]}", parts[1:])) is not _MISSING:
                return r
        return _MISSING

    head, *rest = path.split(".")
    return walk(importlib.import_module(head), head, rest)


def canonical(path: str) -> str:
    """One name per API, whatever re-export a notebook used: ``npgpt.no_grad`` -> ``npgpt.autograd.no_grad``."""
    obj = resolve(path)
    if inspect.ismodule(obj):
        return obj.__name__
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and module.split(".")[0] == "npgpt" and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return path


def load_table(path: Path = TABLE) -> tuple[list[str], dict[str, int]]:
    data = tomllib.loads(path.read_text())
    return list(data.get("tools", [])), dict(data.get("taught", {}))


def _prefixes(name: str):
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def check_order(notebooks: dict[int, tuple[str, str]], tools: list[str], taught: dict[str, int]) -> list[str]:
    """Every breach of the order, one line each: a use before its notebook, a use the table lacks, a
    table row that names nothing, a notebook named in the table that uses none of what it teaches."""
    problems, by_canon = [], {}
    for key, number in taught.items():
        if resolve(f"npgpt.{key}") is _MISSING:
            problems.append(f"taught_in.toml: {key!r} names nothing in npgpt")
            continue
        c = canonical(f"npgpt.{key}")
        if c in by_canon and by_canon[c][1] != number:
            problems.append(f"taught_in.toml: {key!r} and {by_canon[c][0]!r} are one API with two numbers")
        by_canon[c] = (key, number)
    tool_prefixes = {f"npgpt.{t}" for t in tools} | {canonical(f"npgpt.{t}") for t in tools}
    teaches_something = set()
    for n, (name, source) in sorted(notebooks.items()):
        for path, line in sorted(npgpt_uses(source).items()):
            if inspect.ismodule(resolve(path)):
                continue  # a module is only a name for what is reached through it
            c = canonical(path)
            if any(p in tool_prefixes for p in _prefixes(path) + _prefixes(c)):
                continue
            hit = next((by_canon[p] for p in _prefixes(c) + _prefixes(path) if p in by_canon), None)
            if hit is None:
                problems.append(f"{name}:{line} uses {path}, which taught_in.toml does not name")
            elif hit[1] > n:
                problems.append(f"{name}:{line} uses {path} ({hit[0]!r}), first taught in notebook {hit[1]:02d}")
            elif hit[1] == n:
                teaches_something.add(n)
    for n in sorted({number for number in taught.values() if number in notebooks} - teaches_something):
        problems.append(f"taught_in.toml names notebook {n:02d} for APIs it never uses")
    return problems


def test_no_notebook_uses_an_api_before_the_notebook_that_teaches_it():
    problems = check_order(notebook_sources(), *load_table())
    assert not problems, "the course is out of order:\n" + "\n".join(problems)


def test_the_table_lists_notebooks_that_exist_or_free_numbers_only():
    tools, taught = load_table()
    assert tools and taught
    assert all(isinstance(n, int) and 0 <= n <= 99 for n in taught.values())


def test_each_assignment_goes_with_its_notebook():
    """``aNN`` names notebook NN once that notebook exists (before, the one that teaches it today)."""
    numbers = {n: name.removesuffix(".py") for n, (name, _) in notebook_sources().items()}
    for a in load_assignments():
        assert (NOTEBOOKS / f"{a.notebook}.py").exists(), f"{a.name}: no notebook {a.notebook}"
        if a.number in numbers and not any(t.cumulative for t in a.tasks.values()):
            assert a.notebook == numbers[a.number], f"{a.name} names {a.notebook}, not {numbers[a.number]}"


# ------------------------------------------------------------------------ the test can fail
TOOLS = ["exercises"]
TAUGHT = {"tensor": 0, "functional.softmax": 4, "optim.AdamW": 5, "nn.GPT": 9, "nn.GPT.from_hf": 13, "backend": 0}


def lesson(n, code):
    return {n: (f"{n:02d}_lesson.py", code)}


@pytest.mark.parametrize(
    "code, api",
    [
        ("from npgpt.optim import AdamW\n", "AdamW"),  # from ... import
        ("import npgpt\nm = npgpt.nn.GPT(cfg)\n", "npgpt.nn.GPT"),  # an attribute chain
        ("import npgpt.nn as nn\nm = nn.GPT(cfg)\n", "npgpt.nn.GPT"),  # through an alias
        ("from npgpt import optim\nopt = optim.AdamW(ps)\n", "AdamW"),  # through a module name
    ],
)
def test_a_planted_forward_reference_is_caught(code, api):
    problems = check_order(lesson(3, code), TOOLS, TAUGHT)
    assert len(problems) == 1 and api in problems[0] and "first taught in notebook" in problems[0], problems


def test_a_method_taught_later_than_its_class_is_caught():
    code = "from npgpt.nn import GPT\nm = GPT.from_hf('gpt2')\n"
    problems = check_order(lesson(11, code), TOOLS, TAUGHT)
    assert len(problems) == 1 and "from_hf" in problems[0] and "13" in problems[0], problems
    assert not check_order(lesson(13, code), TOOLS, TAUGHT)


def test_a_notebook_not_yet_written_may_be_named():
    # 05 does not exist here: 07 may use what 05 will teach, 04 may not
    assert not check_order(lesson(7, "from npgpt.optim import AdamW\n"), TOOLS, TAUGHT)
    assert check_order(lesson(4, "from npgpt.optim import AdamW\n"), TOOLS, TAUGHT)


def test_a_re_export_is_the_same_api():
    # npgpt.cuda_available is backend.cuda_available: covered by "backend", taught in 00
    assert not check_order(lesson(0, "import npgpt\nnpgpt.cuda_available()\nnpgpt.tensor([1.0])\n"), TOOLS, TAUGHT)


def test_an_api_the_table_does_not_name_is_caught_and_tools_are_free():
    problems = check_order(lesson(11, "from npgpt.nn import KVCache\n"), TOOLS, TAUGHT)
    assert len(problems) == 1 and "does not name" in problems[0], problems
    assert not check_order(
        lesson(0, "import npgpt\nfrom npgpt.exercises import check_array\nnpgpt.tensor([1.0])\n"), TOOLS, TAUGHT
    )


def test_a_table_row_that_names_nothing_or_a_notebook_that_teaches_nothing_is_caught():
    assert any("names nothing" in p for p in check_order({}, TOOLS, {"nn.NoSuchThing": 3}))
    problems = check_order(lesson(4, "import numpy\n"), TOOLS, TAUGHT)
    assert problems == ["taught_in.toml names notebook 04 for APIs it never uses"], problems


def test_the_readme_table_follows_the_notebooks():
    readme = (NOTEBOOKS / "README.md").read_text()
    rows = [int(m) for m in re.findall(r"(?m)^\| (\d\d) \|", readme)]
    assert rows == sorted(rows), "notebooks/README.md lists the notebooks out of order"
    assert set(notebook_sources()) <= set(rows), "notebooks/README.md leaves a notebook out"
