"""Honesty by the syntax tree: what a student's region may not do, checked before any of it runs.

A region's body must be complete statements at the region's indent (so it cannot swallow the END
marker or escape its function), and its syntax tree may not

- import anything, or name ``sys``, ``os``, ``builtins``, ``importlib``, ``pytest``, ``lessons``
  or any other module that reaches the interpreter or the grader;
- name ``exec``, ``eval``, ``compile``, ``__import__``, ``setattr``, ``delattr``, ``globals``,
  ``locals``, ``vars``, ``open``, ``breakpoint`` (calling them or aliasing them: ``f = eval`` is
  refused as ``eval(...)`` is), or ``getattr`` other than as ``getattr(obj, "name", default)`` on
  an object that is not a module, with a literal name that passes the attribute checks;
- touch a dunder attribute or name (``x.__class__``, ``__builtins__``) or a frame (``.gi_frame``,
  ``.f_back``, ``.f_globals``), hand a module around as a
  value (``m = np``; passing one to a helper outside the region, ``_scores(xp, ...)``, and
  ``xp is np`` are fine), assign to an attribute of a module or of a name bound to one
  (``xp = get_array_module(x)``, ``m = np.linalg``), or declare ``global`` or ``nonlocal``;
- inside an op's backward (a region in ``def backward(ctx, ...)`` or ``def *_backward``), use
  npgpt's autograd (``Tensor``, ``.backward``, ``.grad``, ...): a backward is derived, not
  delegated;
- name what its task's ``tasks.toml`` lists as ``forbidden`` (a fast version that does the task),
  whether called, aliased or reached as an attribute.

Each refusal names the file and line. Regex could not do this (``exec("import tor" + "ch")``,
``getattr(module, "attention_" + "composed")`` pass any text search); a tree walk sees the call.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from lessons.regions import Region

CALLS = {
    "exec",
    "eval",
    "compile",
    "__import__",
    "setattr",
    "delattr",
    "globals",
    "locals",
    "vars",
    "open",
    "breakpoint",
    "input",
    "memoryview",
}
# modules that reach the interpreter, the file system or the grader (as names or as attributes)
MODULES = {
    "sys",
    "os",
    "builtins",
    "importlib",
    "subprocess",
    "ctypes",
    "inspect",
    "gc",
    "signal",
    "threading",
    "multiprocessing",
    "shutil",
    "pathlib",
    "io",
    "pickle",
    "marshal",
    "types",
    "pytest",
    "_pytest",
    "pluggy",
    "lessons",
    "conftest",
    "grading",
    "finite_differences",
    "torch",
    "tensorflow",
    "jax",
    "transformers",
    "tiktoken",
    "tokenizers",
    "reference",
    "testing",
}
# frames and code objects: the way from a value to the grader's variables without a dunder
INTROSPECTION = {
    "f_back",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_code",
    "gi_frame",
    "gi_code",
    "cr_frame",
    "ag_frame",
    "tb_frame",
    "tb_next",
    "func_globals",
}
# npgpt's reverse-mode autograd: a backward that builds a graph and calls it delegates the task
AUTOGRAD = {"Tensor", "Parameter", "backward", "grad", "requires_grad", "no_grad", "enable_grad", "tensor"}
ARRAY_MODULES = {"np", "numpy", "xp", "cp", "cupy", "math"}


def _module_names(tree: ast.Module) -> set[str]:
    """Names the file binds to modules at its top level (every top-level ``import`` counts)."""
    names = set(ARRAY_MODULES)
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def is_op_backward(tree: ast.Module, line: int) -> bool:
    """Does 1-based ``line`` lie in an op's backward: ``def backward(ctx, ...)`` or ``def *_backward``?"""
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= node.end_lineno:
            if best is None or node.end_lineno - node.lineno < best.end_lineno - best.lineno:
                best = node
    if best is None:
        return False
    first = best.args.args[0].arg if best.args.args else ""
    return best.name.endswith("_backward") or (best.name == "backward" and first == "ctx")


def _parse_body(region: Region) -> tuple[ast.Module | None, list[str]]:
    """The body parsed on its own (inside a function, line numbers kept), or the refusals why not."""
    first = region.start + 2  # 1-based line of the body's first line
    lines = region.body.splitlines()
    for i, line in enumerate(lines):
        if line.strip() and not line.startswith(region.indent):
            return None, [f"line {first + i}: written left of the region's indent (outside its function)"]
    body = textwrap.dedent("\n".join(line[len(region.indent) :] if line.strip() else "" for line in lines))
    wrapped = "def _region():\n" + textwrap.indent(body + "\npass", "    ")
    try:
        tree = ast.parse("\n" * (first - 2) + wrapped)
    except SyntaxError as e:
        return None, [f"line {e.lineno}: not complete Python statements ({e.msg})"]
    return tree, []


class _Rules:
    """The context one region is judged in: its file's module names, whether it is a backward,
    what its task forbids, and the names the region itself defines or binds to modules."""

    def __init__(self, tree, modules, backward, forbidden):
        self.backward = backward
        self.bare = {n.split(".")[0] for n in forbidden if "." in n} | {n for n in forbidden if "." not in n}
        self.dotted = {tuple(n.rsplit(".", 1)) for n in forbidden if "." in n}
        self.parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        self.defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        self.modules = set(modules)
        changed = True
        while changed:  # m = np.linalg, m = get_array_module(x), m2 = m: every such m is a module too
            changed = False
            for node in ast.walk(tree):
                if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and self._module_valued(node.value):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for name in (n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)):
                        changed |= name not in self.modules
                        self.modules.add(name)

    def _module_valued(self, value) -> bool:
        if isinstance(value, ast.Call):
            return isinstance(value.func, ast.Name) and value.func.id == "get_array_module"
        while isinstance(value, ast.Attribute):
            value = value.value
        return isinstance(value, ast.Name) and value.id in self.modules


def check_region(region: Region, file_tree: ast.Module, forbidden: tuple[str, ...] = (), context=None) -> list[str]:
    """What the region does that it may not, one message per finding ("line 12: imports torch").

    ``file_tree`` is the file the body goes into (the instructor's: its imports and functions);
    ``context`` the 1-based line of the region's BEGIN marker there (default: the region's own)."""
    tree, found = _parse_body(region)
    if tree is None:
        return found
    backward = is_op_backward(file_tree, context or region.start + 1)
    rules = _Rules(tree, _module_names(file_tree), backward, forbidden)
    for node in ast.walk(tree):
        why = _refusal(node, rules)
        if why:
            found.append(f"line {getattr(node, 'lineno', region.start + 2)}: {why}")
    return list(dict.fromkeys(found))


def _refusal(node, rules: _Rules) -> str | None:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        what = node.module if isinstance(node, ast.ImportFrom) else ", ".join(a.name for a in node.names)
        return f"imports {what} (a region may not import)"
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return f"declares {type(node).__name__.lower()} {', '.join(node.names)}"
    if isinstance(node, ast.Name):
        return _name_refusal(node, rules)
    if isinstance(node, ast.Attribute):
        if isinstance(node.ctx, (ast.Store, ast.Del)) and _root(node) in rules.modules:
            return f"assigns to an attribute of the module {_root(node)}"
        return _attribute_refusal(node.attr, node.value, rules)
    return None


def _attribute_refusal(attr: str, value, rules: _Rules) -> str | None:
    if attr.startswith("__") and attr.endswith("__"):
        return f"touches the dunder attribute .{attr}"
    if attr in MODULES:
        return f"reaches .{attr}"
    if attr in INTROSPECTION:
        return f"reaches the interpreter's frames (.{attr})"
    if rules.backward and attr in AUTOGRAD:
        return f"uses npgpt's autograd (.{attr}) inside a backward: derive the gradient instead"
    if attr in rules.bare or (isinstance(value, ast.Name) and (value.id, attr) in rules.dotted):
        return f"uses .{attr}, which this task forbids (it already does the task)"
    return None


def _name_refusal(node: ast.Name, rules: _Rules) -> str | None:
    name, parent = node.id, rules.parents.get(node)
    if name.startswith("__") and name.endswith("__"):
        return f"names {name}"
    if name == "getattr":
        return _getattr_refusal(parent, node, rules)
    if name in CALLS:
        return f"uses {name}(...)"
    if name in MODULES:
        return f"names the module {name}"
    if rules.backward and name in AUTOGRAD:
        return f"uses npgpt's autograd ({name}) inside a backward: derive the gradient instead"
    if name in rules.bare:
        return f"uses {name}, which this task forbids (it already does the task)"
    if name in rules.modules and isinstance(node.ctx, ast.Load) and not _module_use_allowed(node, parent, rules):
        return f"passes the module {name} around as a value"
    return None


def _module_use_allowed(node, parent, rules: _Rules) -> bool:
    """``np.zeros``, ``xp is np``, ``helper(xp, ...)`` for a helper not defined in the region."""
    if isinstance(parent, ast.Attribute) or isinstance(parent, ast.Compare):
        return True
    if isinstance(parent, ast.Assign) and rules._module_valued(node):
        return True  # m = np: m is a module from then on, checked as one
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        callee = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return callee not in rules.defined and callee not in ("getattr", "hasattr") and bool(callee)
    return False


def _getattr_refusal(parent, node, rules: _Rules) -> str | None:
    """``getattr(obj, "name", default)`` is ``obj.name``; anything else reaches what it likes."""
    if not (isinstance(parent, ast.Call) and parent.func is node and 2 <= len(parent.args) <= 3):
        return 'uses getattr(...) other than getattr(obj, "name", default)'
    obj, attr = parent.args[0], parent.args[1]
    if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
        return "uses getattr(...) with a computed attribute name"
    if _root(obj) in rules.modules:
        return f"uses getattr(...) on the module {_root(obj)}"
    return _attribute_refusal(attr.value, obj, rules)


def _root(node) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else ""


def check_file(path: Path, regions: list[Region], forbidden: dict[str, tuple[str, ...]], rel: str) -> dict:
    """Task -> refusals for the (code) regions of one file: "npgpt/ops/x.py:12: imports torch"."""
    try:
        file_tree = ast.parse(Path(path).read_text())
    except SyntaxError as e:
        return {r.task: [f"{rel}:{e.lineno}: the file does not parse ({e.msg})"] for r in regions}
    found = {}
    for r in regions:
        if r.in_docstring:
            continue
        for why in check_region(r, file_tree, forbidden.get(r.task, ())):
            found.setdefault(r.task, []).append(f"{rel}:{why.removeprefix('line ')}")
    return found
