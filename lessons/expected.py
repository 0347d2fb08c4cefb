"""The public graders' expected values: the instructor's reference here, a recorded table in a handout.

A grader never carries the rule its task asks for. It asks ``expected = Expected(__file__)`` and
then ``expected("causal_mask", Tq, Tk)``:

- in the instructor's repository, ``lessons/aNN_topic/answers.py`` (never handed out, like
  ``hidden/``) computes it with its reference function of that name, and the call checks that
  ``expected.npz`` beside the grader records the same value for the public case;
- in a handout, where ``answers.py`` is absent, the value is read from ``expected.npz``, written by
  ``python -m lessons.expected`` (this module) running the public tests on the reference.

A case is found by its arguments when they are plain Python values (ints, strings, tuples and lists
of them: ``causal_mask(2, 5)`` is the same case in any test), and otherwise by the test it is asked
in and the order of the asks there (the arrays of a public case are built from fixed seeds, but a
hash of their bits could differ from machine to machine in the last bit). ``expected.npz`` holds
arrays and a JSON index (NumPy's format without pickle).

    python -m lessons.expected                 # record every assignment that has answers.py
    python -m lessons.expected a07 a03         # or these
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

RECORD = "NPGPT_RECORD_EXPECTED"  # set by the recorder: compute with the reference and keep every value
FILE = "expected.npz"
_recorded: dict[Path, dict] = {}
_asked: dict[tuple[str, str], int] = {}


class Expected:
    """``expected(name, *args)``: the reference ``name`` of this assignment on these arguments."""

    def __init__(self, grader_file: str):
        self.folder = Path(grader_file).resolve().parent
        self._table = None

    def __call__(self, name: str, *args):
        key, test = case_key(name, args)
        reference = self._reference(name)
        if reference is None:
            return self._recorded(key, name, args)
        value = reference(*args)
        if os.environ.get(RECORD):
            _recorded.setdefault(self.folder, {})[key] = _copy(value)  # the test may change what it gets
        elif test is not None and not test.startswith("hidden/"):
            self._check_current(key, name, value)
        return value

    def _reference(self, name: str):
        try:
            answers = importlib.import_module(f"lessons.{self.folder.name}.answers")
        except ModuleNotFoundError as e:
            if e.name not in (f"lessons.{self.folder.name}.answers", f"lessons.{self.folder.name}"):
                raise
            return None
        return getattr(answers, name)

    def table(self) -> dict:
        if self._table is None:
            path = self.folder / FILE
            self._table = load(path) if path.exists() else {}
        return self._table

    def _recorded(self, key: str, name: str, args):
        table = self.table()
        if key not in table:
            raise AssertionError(
                f"the grader has no recorded expected value of {name} for {_describe(args)} "
                f"(lessons/{self.folder.name}/{FILE} holds the public cases as the tests build them)"
            )
        return _copy(table[key])

    def _check_current(self, key: str, name: str, value) -> None:
        table = self.table()
        if key not in table or not same(table[key], value):
            raise AssertionError(
                f"lessons/{self.folder.name}/{FILE} does not record this value of {name} (case {key}): "
                "it is stale; run python -m lessons.expected"
            )


def case_key(name: str, args) -> tuple[str, str | None]:
    """(the key of this case, the test asking or None)."""
    test = _current_test()
    plain = _plain_value(args)
    if plain is not None:
        return f"{name}:{hashlib.sha1(repr(plain).encode()).hexdigest()[:16]}", test
    if test is None:
        raise RuntimeError(f"expected({name!r}, ...) with arrays is asked inside a pytest test only")
    n = _asked.get((test, name), 0)
    _asked[(test, name)] = n + 1
    return f"{name}@{test}#{n}", test


def _current_test() -> str | None:
    """``test_a07_attention.py::test_x[case]`` (the file's name, not its folder: a handout's root differs)."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    if not current:
        return None
    nodeid = current.rsplit(" (", 1)[0]
    path, _, rest = nodeid.partition("::")
    hidden = "hidden/" if "hidden" in path else ""
    return f"{hidden}{Path(path).name}::{rest}"


def _plain_value(value):
    """``value`` as plain Python (NumPy integers as ints, lists as tuples), or None if it holds
    arrays or floats."""
    if isinstance(value, tuple | list):
        items = [_plain_value(v) for v in value]
        return None if any(i is None for i, v in zip(items, value) if v is not None) else tuple(items)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, str) or value is None:
        return value
    return None


def _describe(args) -> str:
    parts = [f"array{a.shape} {a.dtype}" if isinstance(a, np.ndarray) else repr(a)[:40] for a in args]
    return f"({', '.join(parts)})" if args else ""


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def same(a, b) -> bool:
    """Equal, floats within what rounding in the last bits of a case's inputs can move them."""
    if isinstance(a, np.ndarray | np.generic) or isinstance(b, np.ndarray | np.generic):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind in "fc":
            return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# ----------------------------------------------------------------------------- the file
def _encode(value, arrays: dict):
    if isinstance(value, np.ndarray | np.generic):
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(value)
        return {"array": name, "scalar": isinstance(value, np.generic)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"an expected value must be arrays, numbers, strings, lists, tuples or dicts, not {type(value)}")


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "array" in value:
        a = arrays[value["array"]]
        return a[()] if value["scalar"] else a
    if "tuple" in value:
        return tuple(_decode(v, arrays) for v in value["tuple"])
    return {_decode(k, arrays): _decode(v, arrays) for k, v in value["dict"]}


def save(path: Path, table: dict) -> None:
    arrays: dict = {}
    index = {key: _encode(table[key], arrays) for key in sorted(table)}
    text = json.dumps(index, sort_keys=True).encode()
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(tmp, __index__=np.frombuffer(text, dtype=np.uint8), **arrays)
    tmp.replace(path)


def load(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    index = json.loads(arrays.pop("__index__").tobytes().decode())
    return {key: _decode(v, arrays) for key, v in index.items()}


@atexit.register
def _write_recorded() -> None:
    if os.environ.get(RECORD):
        for folder, table in _recorded.items():
            save(folder / FILE, table)


# ----------------------------------------------------------------------------- the recorder
def with_answers(lessons_dir: Path) -> list[Path]:
    return sorted(p.parent for p in Path(lessons_dir).glob("a[0-9][0-9]_*/answers.py"))


def record(folder: Path) -> int:
    """Run the public tests of one assignment on the reference and write its ``expected.npz``."""
    repo = folder.parent.parent
    env = {**os.environ, RECORD: "1", "PYTHONPATH": str(repo)}
    (folder / FILE).unlink(missing_ok=True)
    tests = [str(p) for p in sorted(folder.glob("test_*.py"))]
    # one process (no addopts: pytest-xdist's workers would each hold a part of the record)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-x", *tests]
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-2000:], file=sys.stderr)
        print(
            f"lessons.expected: {folder.name}'s public tests fail on the reference: nothing recorded", file=sys.stderr
        )
        return 1
    if not (folder / FILE).exists():
        print(f"lessons.expected: {folder.name}'s public tests ask for no expected value", file=sys.stderr)
        return 1
    print(f"wrote lessons/{folder.name}/{FILE}: {len(load(folder / FILE))} expected values")
    return 0


def main(argv=None) -> int:
    names = sys.argv[1:] if argv is None else argv
    lessons_dir = Path(__file__).resolve().parent
    folders = [f for f in with_answers(lessons_dir) if not names or any(f.name.startswith(n) for n in names)]
    if not folders:
        print(f"lessons.expected: no assignment with answers.py matches {names}", file=sys.stderr)
        return 2
    return max(record(f) for f in folders)


if __name__ == "__main__":
    sys.exit(main())
