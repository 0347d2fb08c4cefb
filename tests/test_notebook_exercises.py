"""The notebooks' "your turn" checks can fail: each one rejects a planted mistake, and says why.

A "your turn" is a code cell marked ``# your code here`` (the reference answer is filled in, so the
notebook runs top to bottom) and the code cell after it, which checks the answer with
``npgpt.exercises``. A check that accepts anything teaches nothing, so for every exercise this test
runs the notebook's cells up to it, swaps in a typical wrong answer (one line changed, a mistake a
student makes: the table below), and requires the check cell to raise ``ExerciseError`` with a
message; then it runs the reference answer, whose check must pass, and goes on to the next one.

Each notebook runs in its own process in its own folder, as its notebook test runs it, and stops after its last
exercise. Plants are plain text replacements: one that no longer matches its answer cell fails
here, so a reworded answer cannot leave an exercise untested.
"""

from __future__ import annotations

import json
import linecache
import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MARK = "# your code here"

# notebook -> one list per answer cell, in order: (line as written, the same line with a mistake, the mistake)
PLANTS = {
    "00_arrays_and_backends": [
        [("diff = a[:, None, :] - b[None, :, :]", "diff = a[:, None, :] + b[None, :, :]", "a sum, not a difference")],
        [
            ("xp.arange(num_classes)", "np.arange(num_classes)", "NumPy where the input's module belongs"),
            (".astype(xp.float32)", ".astype(xp.float64)", "float64 instead of the training dtype"),
        ],
    ],
    "01_autograd_from_scratch": [[("return (g * y * (1 - y),)", "return (y * (1 - y),)", "the upstream g dropped")]],
    "02_gradient_checking": [
        [
            ("grad[i] = (up - down) / (2 * h)", "grad[i] = (up - down) / h", "the 2 of the central difference"),
            ("        x[i] = old\n", "", "the entry not restored"),
        ],
        [
            ("gflat[i] = (up - down) / (2 * h)", "gflat[i] = (up - down) / h", "the 2 of the central difference"),
            ("        flat[i] = old\n", "", "the entry not restored"),
        ],
    ],
    "03_broadcasting_reductions_matmul": [
        [
            (
                "grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))",
                "grad = grad.mean(axis=tuple(range(grad.ndim - len(shape))))",
                "a mean over the new leading axes",
            ),
            (
                "grad.sum(axis=axes, keepdims=True)",
                "grad.mean(axis=axes, keepdims=True)",
                "a mean over the size-1 axes",
            ),
        ]
    ],
    "04_softmax_and_cross_entropy": [
        [("return (z - m) - np.log", "return z - np.log", "the maximum subtracted inside the log only")]
    ],
    "05_a_first_language_model": [
        [
            ("counts = counts + alpha", "counts = counts", "no smoothing"),
            ("counts.sum(axis=1, keepdims=True)", "counts.sum(axis=0, keepdims=True)", "columns normalised, not rows"),
        ]
    ],
    "06_layer_normalization": [
        [
            (
                "(g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))",
                "(g - g.mean(-1, keepdims=True))",
                "the term through the standard deviation dropped",
            )
        ]
    ],
    "08_positional_encoding": [
        [("10000.0 ** (-np.arange(0, d, 2) / d)", "10000.0 ** (-np.arange(d // 2) / d)", "the exponent i, not 2i")],
        [
            ("[-x[..., h:], x[..., :h]]", "[x[..., h:], -x[..., :h]]", "the minus on the wrong half"),
            ("x * cos + my_rotate_half(x) * sin", "x * cos + x * sin", "x where rotate_half(x) belongs"),
        ],
    ],
    "07_attention": [[("return j > i", "return j >= i", "the diagonal masked too")]],
    "09_the_gpt_block_and_model": [
        [("return 0.5 * (1 + th) + 0.5 * x", "return 0.5 * x", "the first term of the product rule dropped")]
    ],
    "10_training_on_shakespeare": [
        [("w = w * (1 - lr * weight_decay)", "w = w", "no weight decay"), ("1 - b1**t", "1 - b1", "no bias correction")]
    ],
    "11_sampling": [
        [
            ("[:, -k][:, None]", "[:, k][:, None]", "the k-th smallest, not the k-th largest"),
            ("my_top_k(logits / temperature, k)", "my_top_k(logits * temperature, k)", "times the temperature"),
            ("(cdf <= u[:, None])", "(cdf <= 1 - u[:, None])", "the right distribution, but not the draw at u"),
            (
                "(cdf <= u[:, None])",
                "(cdf <= np.random.default_rng().random((len(u), 1)))",
                "a fresh uniform, u ignored",
            ),
        ]
    ],
    "13_loading_gpt2": [
        [("array = array.T", "array = array", "Conv1D weights not transposed")],
        [
            ("+ t.wpe.weight.numpy()[:T]", "", "no position embeddings"),
            (
                "return x.numpy() @ t.wte.weight.numpy().T",
                "return model(idx)[0].numpy()",
                "the model called, not its pieces",
            ),
        ],
    ],
    "16_the_gpu": [
        [
            ("xp.minimum(max_norm / (total + eps), 1.0)", "max_norm / (total + eps)", "scaled up when under max_norm"),
            ("return total", "return float(total)", "a float(): the CPU waits for the GPU"),
        ]
    ],
    "12_tokenization": [
        [
            ("zip(ids, ids[1:])", "zip(ids, ids[2:])", "pairs two apart"),
            ("            i += 2\n", "            i += 1\n", "the merged pair's second token kept"),
        ]
    ],
    "14_why_scale": [
        [
            ("np.polyfit(np.log(n), np.log(loss), 1)", "np.polyfit(np.log(n), loss, 1)", "the loss not logged"),
            ("float(-slope)", "float(slope)", "the slope's sign kept: a falling loss has a positive exponent"),
        ]
    ],
    "15_from_gpt_to_chatgpt": [
        [
            (
                "np.where(mask[1:], ids[1:], IGNORE_INDEX)",
                "np.where(mask[:-1], ids[1:], IGNORE_INDEX)",
                "mask[t], not mask[t + 1]",
            )
        ],
        [("np.logaddexp(0.0, -z)", "np.log1p(np.exp(-z))", "overflows for large |z|")],
    ],
    "17_training_across_machines": [[("sum(same_param) / n_ranks", "sum(same_param)", "a sum where the mean belongs")]],
}


def answer_and_check_cells(cells):
    """Indices (answer cell, check cell) of each exercise: a code cell with the mark, and the next code cell."""
    pairs = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and MARK in cell["source"]:
            nxt = next(j for j in range(i + 1, len(cells)) if cells[j]["cell_type"] == "code")
            pairs.append((i, nxt))
    return pairs


def _read_cells(path):
    import jupytext

    return [{"cell_type": c.cell_type, "source": c.source} for c in jupytext.read(path).cells]


def _run_notebook(name):
    """Run one notebook's cells with the plants (in a child process); the child's report as a dict."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(NOTEBOOKS.parent)}
    out = subprocess.run(
        [sys.executable, __file__, name, json.dumps(PLANTS[name])],
        cwd=NOTEBOOKS,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"{name}: the notebook's cells failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_notebook_with_an_exercise_has_plants():
    have = {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py") if MARK in p.read_text(encoding="utf-8")}
    assert have == set(PLANTS), f"notebooks with exercises but no plants: {sorted(have - set(PLANTS))}"
    for name, per_cell in PLANTS.items():
        cells = _read_cells(NOTEBOOKS / f"{name}.py")
        pairs = answer_and_check_cells(cells)
        assert len(pairs) == len(per_cell), f"{name}: {len(pairs)} exercises, plants for {len(per_cell)}"
        for (answer, _), plants in zip(pairs, per_cell):
            for old, _new, why in plants:
                found = cells[answer]["source"].count(old)
                assert found == 1, f"{name}: the plant '{why}' expects {old!r} once in the answer, found {found}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PLANTS))
def test_each_check_rejects_a_planted_mistake(name):
    report = _run_notebook(name)
    accepted = [r["why"] for r in report["plants"] if r["error"] is None]
    assert not accepted, f"{name}: a check accepted a wrong answer: {accepted}"
    for r in report["plants"]:
        assert r["error"].startswith("ExerciseError: ") and len(r["error"]) > 40, (
            f"{name}: '{r['why']}' was rejected without a clear message: {r['error']}"
        )
    assert report["exercises"] == len(PLANTS[name])


def _child(name, plants):
    """In the child process: run the cells, planting each mistake before its exercise's check."""
    from npgpt.exercises import ExerciseError

    cells = _read_cells(NOTEBOOKS / f"{name}.py")
    pairs = answer_and_check_cells(cells)
    namespace = {"__name__": "__main__"}

    def run(source, label):
        filename = f"<{name} cell {label}>"  # kept in linecache, as Jupyter does: inspect reads the cell
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        exec(compile(source, filename, "exec"), namespace)

    report = {"plants": [], "exercises": 0}
    stop = pairs[-1][1]
    for i in range(stop + 1):
        cell = cells[i]
        if cell["cell_type"] != "code":
            continue
        exercise = next((k for k, (a, c) in enumerate(pairs) if c == i), None)
        if exercise is not None:
            answer = cells[pairs[exercise][0]]["source"]
            for old, new, why in plants[exercise]:
                run(answer.replace(old, new), f"{pairs[exercise][0]} (planted: {why})")
                try:
                    run(cell["source"], i)
                    error = None
                except ExerciseError as e:
                    error = f"ExerciseError: {e}"
                except Exception as e:  # noqa: BLE001  (reported: a crash is not a clear message)
                    error = f"{type(e).__name__}: {e}"
                report["plants"].append({"why": why, "error": error})
            run(answer, pairs[exercise][0])  # the reference again, so its check and later cells see it
            report["exercises"] += 1
        run(cell["source"], i)
    sys.stdout.flush()
    print(json.dumps(report))


if __name__ == "__main__":
    _child(sys.argv[1], json.loads(sys.argv[2]))
