"""The engine reads in one direction: checked by parsing npgpt's files, not by importing them.

- No import cycle among npgpt's modules (a lower file never imports a higher one).
- No npgpt import inside a function anywhere in npgpt: the top of a file lists everything it
  builds on. Optional heavy third-party packages (cupy, torch, mpi4py, ...) and the npgpt modules
  that import them at load may be imported inside a function, so that importing npgpt never needs
  them.
- ``Tensor``'s operators are written in its class body, not attached afterwards.
- The reading order of the engine is its import order: autograd, then the ops, then tensor,
  then functional.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "npgpt"

# optional heavy packages: importing npgpt must never need them
HEAVY = {"cupy", "cupyx", "torch", "transformers", "tiktoken", "mpi4py"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _is_package(name):
    return MODULES[name].name == "__init__.py"


def _targets(module: str, node) -> list[str]:
    """npgpt modules an import statement in ``module`` loads (empty for third-party imports)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "npgpt"]
    if node.level:
        package = module if _is_package(module) else module.rpartition(".")[0]
        base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
        base = f"{base}.{node.module}" if node.module else base
    elif (node.module or "").split(".")[0] == "npgpt":
        base = node.module
    else:
        return []
    # ``from package import name`` loads the submodule ``package.name`` when there is one
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return subs or [base]


def _heavy_at_load(path: Path) -> bool:
    """True when the file imports a HEAVY package at module level (outside any function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    nodes += [n for stmt in tree.body if isinstance(stmt, ast.Try) for n in stmt.body if isinstance(n, ast.Import)]
    names = [a.name for n in nodes if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in nodes if isinstance(n, ast.ImportFrom) and not n.level and n.module]
    return any(name.split(".")[0] in HEAVY for name in names)


def _optional_modules(graph):
    """npgpt modules that need a HEAVY package at load, directly or through the modules they import:
    like that package itself, they may be imported inside the function that needs them."""
    optional = {m for m in MODULES if _heavy_at_load(MODULES[m])}
    grew = True
    while grew:
        more = {m for m, edges in graph.items() if edges & optional} - optional
        optional |= more
        grew = bool(more)
    return optional


def _imports(path: Path):
    """(npgpt module, is inside a function, line) for every npgpt import in the file."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside.update(id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(module, node):
                yield target, id(node) in inside, node.lineno


def _graph():
    """module -> the npgpt modules it imports at load time.

    Importing ``a.b.c`` runs the package ``a.b``'s ``__init__`` first, so that package counts as
    imported too, unless the importer lives inside it (then it is already being imported). The
    root package ``npgpt`` is left out for the same reason: every module lives inside it.
    """
    graph = {}
    for name, path in MODULES.items():
        edges = set()
        for target, in_function, _ in _imports(path):
            if in_function:
                continue
            edges.add(target)
            parts = target.split(".")
            for k in range(2, len(parts)):
                package = ".".join(parts[:k])
                if not (name == package or name.startswith(package + ".")):
                    edges.add(package)
        edges.discard(name)
        graph[name] = {e for e in edges if e in MODULES}
    return graph


def _find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return stack[stack.index(n) :] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_parser_sees_the_engine():
    graph = _graph()
    assert {"npgpt.autograd", "npgpt.tensor", "npgpt.functional", "npgpt.ops.elementwise"} <= set(graph)
    assert "npgpt.autograd" in graph["npgpt.ops.elementwise"]
    assert "npgpt.ops.elementwise" in graph["npgpt.tensor"]
    assert "npgpt.ops" in graph["npgpt.tensor"]  # the package of an imported submodule counts


def test_modules_built_on_heavy_packages_are_recognised():
    optional = _optional_modules(_graph())
    assert "npgpt.reference.torch_gpt" in optional  # imports torch at load
    assert not {"npgpt", "npgpt.tensor", "npgpt.nn.gpt", "npgpt.commands.train"} & optional


def test_cycle_finder_finds_a_planted_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_npgpt_modules():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_npgpt_import_inside_a_function():
    found = []
    optional = _optional_modules(_graph())
    for path in MODULES.values():
        rel = path.relative_to(ROOT.parent).as_posix()
        found += [f"{rel}:{line} imports {t}" for t, inside, line in _imports(path) if inside and t not in optional]
    assert not found, "imports inside functions (move them to the top of the file):\n" + "\n".join(found)


def _reaches(graph, start, goal):
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m == goal:
            return True
        if m not in seen:
            seen.add(m)
            todo.extend(graph[m])
    return False


@pytest.mark.parametrize(
    "lower, higher",
    [
        ("npgpt.autograd", "npgpt.ops"),
        ("npgpt.autograd", "npgpt.tensor"),
        ("npgpt.ops", "npgpt.tensor"),
        ("npgpt.ops.elementwise", "npgpt.tensor"),
        ("npgpt.tensor", "npgpt.functional"),
        ("npgpt.functional", "npgpt.nn"),
        ("npgpt.ops", "npgpt.gradcheck_cases"),
    ],
)
def test_reading_order_is_import_order(lower, higher):
    graph = _graph()
    assert _reaches(graph, higher, lower), f"{higher} should build on {lower}"
    assert not _reaches(graph, lower, higher), f"{lower} imports {higher}, which comes after it"


def test_tensor_operators_are_in_the_class_body():
    tree = ast.parse((ROOT / "tensor.py").read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor"]
    body = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    body |= {t.id for n in cls.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    wanted = {"__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__"}
    wanted |= {"__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__getitem__", "__bool__"}
    wanted |= {"__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "backward", "sum", "reshape", "view"}
    assert wanted <= body, f"not in Tensor's class body: {sorted(wanted - body)}"
    # nothing attaches attributes to the class after it is defined
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
            raise AssertionError(f"tensor.py:{node.lineno} calls setattr")
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Attribute) and getattr(t.value, "id", None) == "Tensor":
                    raise AssertionError(f"tensor.py:{node.lineno} assigns Tensor.{t.attr} after the class")


def test_no_module_attaches_methods_to_another_modules_class():
    """``Cls.name = ...`` (monkey-patching a class defined in another module) is not used."""
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id[:1].isupper():
                    if t.value.id not in own:
                        found.append(f"{name}:{node.lineno} sets {t.value.id}.{t.attr}")
    assert not found, found
