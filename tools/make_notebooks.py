"""Write the engine lesson notebooks (00-03) from the cell text below.

    python tools/make_notebooks.py            # (re)write notebooks/00_... to notebooks/03_...
    python tools/make_notebooks.py --check    # exit 1 if a committed notebook differs from its source here

The notebooks are committed without outputs (CI runs them top to bottom with ``pytest --nbmake``).
Edit the text here, regenerate, and the .ipynb diff stays readable. Cell ids are derived from the
cell's position, so regenerating an unchanged notebook gives identical bytes.
``write_notebook(path, cells)`` and ``md``/``code`` can be imported by other generators.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

KERNEL = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def md(text):
    return ("md", text.strip("\n"))


def code(text):
    return ("code", text.strip("\n"))


def hint(text):
    """A collapsed hint for the "Check yourself" exercises (click to open in Jupyter)."""
    return f"\n<details><summary>Hint</summary>\n\n{text.strip()}\n\n</details>"


def build(cells):
    nb = new_notebook(metadata=dict(KERNEL))
    for i, (kind, text) in enumerate(cells):
        cell = new_markdown_cell(text) if kind == "md" else new_code_cell(text)
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(cells) -> str:
    return nbformat.writes(build(cells)) + "\n"


def write_notebook(path, cells):
    Path(path).write_text(render(cells))


# ============================================================================ 00
NB00 = [
    md(r"""
# 00 · Arrays and backends

Everything a GPT computes, from token embeddings to attention scores to gradients, is an
**n-dimensional array** of floating-point numbers. npgpt stores them as NumPy arrays on the CPU or
CuPy arrays on an NVIDIA GPU, and runs the *same* code on both.

In this notebook:

1. arrays: shape, strides, views;
2. `float32` versus `float64`, and which one npgpt uses where;
3. broadcasting, the rules NumPy uses to combine arrays of different shapes;
4. the **array-module** idea, `xp = get_array_module(a)`, that gives one code path for NumPy and CuPy;
5. how npgpt picks a device, and what happens when you ask for a GPU that is not there.

Nothing here needs a GPU.
"""),
    code(r"""
import inspect
import sys
import time

import numpy as np

import npgpt
from npgpt import backend

np.set_printoptions(precision=4, suppress=True)
print("numpy", np.__version__, "| npgpt", npgpt.__version__)
"""),
    md(r"""
## 1. Arrays: a block of memory plus a shape

An `ndarray` is one contiguous block of memory together with a **shape**, a **dtype** and
**strides** (how many bytes to step along each axis). In a C-ordered (row-major) array of shape
$(3, 4)$ and 8-byte floats, element $(i, j)$ sits at byte offset $i \cdot 32 + j \cdot 8$:
the strides are $(32, 8)$.
"""),
    code(r"""
a = np.arange(12, dtype=np.float64).reshape(3, 4)
print(a)
print("shape", a.shape, "| ndim", a.ndim, "| dtype", a.dtype, "| strides", a.strides, "| bytes", a.nbytes)

at = a.T  # a transpose is a *view*: same memory, strides swapped
print("a.T strides", at.strides, "| shares memory with a:", np.shares_memory(a, at),
      "| C-contiguous:", at.flags.c_contiguous)
"""),
    md(r"""
Reshapes and transposes are (usually) free: they make a view with new strides. A GPT uses them
constantly, for instance to split the channels of a `(B, T, C)` activation into `H` attention heads of
size `D = C / H`, as `(B, T, H, D)` and then `(B, H, T, D)`:
"""),
    code(r"""
B, T, C, H = 2, 3, 8, 2
x = np.arange(B * T * C, dtype=np.float64).reshape(B, T, C)
heads = x.reshape(B, T, H, C // H).transpose(0, 2, 1, 3)
print("x", x.shape, "-> heads", heads.shape, "| a view:", np.shares_memory(x, heads))
print("head 1 of sequence 0 (rows = positions, columns = the head's 4 channels):")
print(heads[0, 1])
"""),
    md(r"""
## 2. float32 versus float64

A binary floating-point number keeps a fixed number of significant bits $p$; the gap between 1 and
the next representable number is the **machine epsilon** $\varepsilon = 2^{1-p}$:

| dtype | bytes | significant bits $p$ | $\varepsilon$ | about |
|-------|-------|----------------------|---------------|-------|
| `float32` | 4 | 24 | $1.19 \times 10^{-7}$ | 7 decimal digits |
| `float64` | 8 | 53 | $2.22 \times 10^{-16}$ | 16 decimal digits |

Training uses **float32**: half the memory and (on GPUs by far) faster. **Gradient checks** use
**float64**, because finite differences subtract two nearly equal numbers (notebook 02).
"""),
    code(r"""
for dt in (np.float32, np.float64):
    fi = np.finfo(dt)
    print(f"{dt.__name__:8s} eps={fi.eps:.3e}  max={fi.max:.3e}  smallest normal={fi.tiny:.3e}")

print()
print("float32: 1 + 1e-8 == 1 ?", np.float32(1) + np.float32(1e-8) == np.float32(1))
print("float64: 1 + 1e-8 == 1 ?", 1.0 + 1e-8 == 1.0)
print("0.1 + 0.2 =", repr(0.1 + 0.2), " (0.1 has no exact binary representation)")
"""),
    md(r"""
Rounding errors accumulate. Adding $0.1$ a million times one after the other (`cumsum`) drifts far
from $100000$ in float32; `np.sum` uses *pairwise* summation, whose error grows like $\log n$ instead
of $n$, and stays close even in float32.
"""),
    code(r"""
n = 1_000_000
for dt in (np.float32, np.float64):
    v = np.full(n, 0.1, dtype=dt)
    sequential = v.cumsum()[-1]
    pairwise = v.sum()
    print(f"{dt.__name__:8s} sequential {sequential:14.6f} (error {abs(sequential - 1e5):.2e})   "
          f"pairwise {pairwise:14.6f} (error {abs(pairwise - 1e5):.2e})")
"""),
    md(r"""
npgpt's dtype rules:

* Python floats and lists become **float32**, the training default (as in PyTorch);
* NumPy arrays **keep their dtype** (a float64 array gives a float64 tensor);
* npgpt **never upcasts silently**: an op that mixes float32 and float64 raises an error naming the
  op and the shapes. Convert explicitly with `.double()`, `.float()` or `.to(np.float64)`.
"""),
    code(r"""
print(npgpt.tensor([1.0, 2.0]).dtype, "<- from a Python list")
print(npgpt.tensor(np.array([1.0, 2.0])).dtype, "<- from a float64 NumPy array")
print(npgpt.tensor([1.0, 2.0]).double().dtype, "<- .double()")

try:
    npgpt.tensor([1.0, 2.0]) + npgpt.tensor(np.array([1.0, 2.0]))
except TypeError as e:
    print("\nTypeError:", e)
"""),
    md(r"""
## 3. Broadcasting

NumPy combines arrays of different shapes elementwise by **broadcasting**:

1. align the two shapes on the **right**; a missing leading axis counts as size 1;
2. two sizes are compatible when they are **equal** or one of them is **1**;
3. the result has the larger size on every axis: a size-1 axis is repeated (virtually) to match.

| shapes | result |
|--------|--------|
| `(2, 3, 4)` and `(4,)` | `(2, 3, 4)`: one bias per channel, for every batch and position |
| `(3, 1)` and `(1, 5)` | `(3, 5)`: an outer sum |
| `(2, 3, 4)` and `(2, 1, 4)` | `(2, 3, 4)` |
| `(3, 4)` and `(3,)` | error: 4 and 3 are aligned, and neither is 1 |

Here are the rules written out by hand, compared with `np.broadcast_shapes`:
"""),
    code(r"""
def broadcast_shape(sa, sb):
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)  # rule 1
    out = []
    for x, y in zip(sa, sb):
        if x != y and 1 not in (x, y):  # rule 2
            raise ValueError(f"sizes {x} and {y} are incompatible")
        out.append(max(x, y))  # rule 3
    return tuple(out)


pairs = [((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((2, 3, 4), (2, 1, 4)), ((), (2, 3)), ((3, 4), (3,))]
for sa, sb in pairs:
    try:
        mine = broadcast_shape(sa, sb)
    except ValueError as e:
        mine = f"error ({e})"
    try:
        ref = np.broadcast_shapes(sa, sb)
    except ValueError:
        ref = "error"
    print(f"{str(sa):>10} with {str(sb):<10} -> {str(mine):<40} numpy: {ref}")
"""),
    md(r"""
Two broadcasts that appear in every transformer: subtracting a per-row statistic kept with
`keepdims=True` (shape `(B, T, 1)` against `(B, T, C)`), and adding a bias vector `(C,)`.
"""),
    code(r"""
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 4))
centered = x - x.mean(axis=-1, keepdims=True)  # (2, 3, 4) - (2, 3, 1)
print("mean over the last axis after centering:", np.abs(centered.mean(axis=-1)).max())
bias = np.array([1.0, 2.0, 3.0, 4.0])
print("(x + bias).shape =", (x + bias).shape)
"""),
    md(r"""
Broadcasting copies nothing: the repeated axis gets **stride 0**, so every "copy" reads the same
memory. (And since one number is *used* several times, its gradient will be a **sum** over the
copies, the subject of notebook 03.)
"""),
    code(r"""
row = np.arange(4.0)
b = np.broadcast_to(row, (3, 4))
print(b)
print("strides", b.strides, "| writeable:", b.flags.writeable, "| shares memory:", np.shares_memory(b, row))
"""),
    md(r"""
## 4. One code path for NumPy and CuPy: the array module

[CuPy](https://cupy.dev) implements most of NumPy's API for arrays in GPU memory: `cupy.exp`,
`cupy.matmul`, `.sum(axis=...)`, broadcasting, all behave as in NumPy. So code that never writes
`np.` directly, but asks the *array* which module it belongs to, runs on both:

```python
xp = get_array_module(a)   # numpy for a NumPy array, cupy for a CuPy array
y = xp.exp(a - a.max(axis=-1, keepdims=True))
```

Every op in npgpt follows this rule. Here is `Exp`, forward and backward:
"""),
    code(r"""
from npgpt.backend import get_array_module

print(inspect.getsource(npgpt.ops.elementwise.Exp))
print(inspect.getsource(get_array_module))
"""),
    code(r"""
def softmax(a, axis=-1):
    # one code path: NumPy arrays in, NumPy out; CuPy arrays in, CuPy out
    xp = get_array_module(a)
    e = xp.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


logits = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]])
print(get_array_module(logits).__name__, "->", softmax(logits))
"""),
    md(r"""
## 5. Devices: how npgpt picks NumPy or CuPy

A tensor's **device** is not stored anywhere: it *is* the type of its array (`numpy.ndarray` ->
`"cpu"`, `cupy.ndarray` -> `"cuda"`). `backend.xp_for_device(device)` gives the module for a
device name. **CuPy is imported only when a GPU is actually asked for**, never when npgpt is
imported, so npgpt works on machines without CuPy. `npgpt.cuda_available()` says whether CuPy
imports *and* sees a GPU; it never raises.
"""),
    code(r"""
t = npgpt.tensor([[1.0, 2.0], [3.0, 4.0]])
print("device:", t.device, "| array type:", type(t.data).__module__ + "." + type(t.data).__name__)
print("xp_for_device('cpu') is numpy:", backend.xp_for_device("cpu") is np)
print("cupy imported so far:", "cupy" in sys.modules)
print("npgpt.cuda_available():", npgpt.cuda_available())
"""),
    md(r"""
Asking for `"cuda"` without CuPy or without a GPU raises a `npgpt.DeviceError` that says what is
missing and how to install it; an unknown device name is refused the same way.
"""),
    code(r"""
try:
    g = npgpt.tensor([1.0, 2.0, 3.0], device="cuda")
    print("a GPU is here:", g.device, "| (g * 2).to('cpu') =", (g * 2).to("cpu"))
except npgpt.DeviceError as e:
    print("DeviceError:", e)

try:
    npgpt.tensor([1.0, 2.0, 3.0], device="tpu")
except npgpt.DeviceError as e:
    print("DeviceError:", e)
"""),
    md(r"""
Inside one op all inputs must live on one device (npgpt raises a `DeviceError` naming the op
otherwise), and `t.to("cuda")` / `t.to("cpu")` are differentiable copies. Notebook 12 runs a whole
model on the GPU.

## 6. A measured result: what float64 costs

The same matrix product in both precisions on this CPU (the numbers depend on the machine; on a
GPU the gap is much larger):
"""),
    code(r"""
def best_time(f, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


n = 384
results = {}
for dt in (np.float32, np.float64):
    A = rng.standard_normal((n, n)).astype(dt)
    Bm = rng.standard_normal((n, n)).astype(dt)
    results[dt.__name__] = best_time(lambda: A @ Bm)
    print(f"{dt.__name__}: {n}x{n} @ {n}x{n} in {1e3 * results[dt.__name__]:.2f} ms, "
          f"{A.nbytes / 2**20:.2f} MiB per matrix, {2 * n**3 / results[dt.__name__] / 1e9:.1f} GFLOP/s")
print(f"float64 / float32 time: {results['float64'] / results['float32']:.2f}x")
"""),
    md(
        r"""
## Check yourself

1. What is the shape of `np.ones((2, 1, 5)) + np.ones((3, 1))`? Check with `broadcast_shape`.
"""
        + hint("""
Align on the right: `(2, 1, 5)` and `(1, 3, 1)`; every axis takes the larger size: `(2, 3, 5)`.
""")
        + r"""

2. Which of these combinations raise: `(4, 3) + (4,)`, `(4, 3) + (3,)`, `(2, 3, 4) + (3, 1)`,
   `(4, 3) + (4, 1)`?
"""
        + hint("""
Only `(4, 3) + (4,)`: aligned on the right, 3 meets 4. `(2, 3, 4) + (3, 1)` works, giving `(2, 3, 4)`.
""")
        + r"""

3. Write `center(a)`, subtracting each row's mean, so that it runs unchanged on CuPy arrays.
"""
        + hint("""
`xp = get_array_module(a)` is not even needed here: `a - a.mean(axis=-1, keepdims=True)` only uses
array methods. You need `xp` for functions such as `xp.exp`, `xp.zeros`, `xp.where`.
""")
        + r"""

4. Why does training run in float32 but gradient checking in float64?
"""
        + hint("""
A central difference divides a rounding error of about $\\varepsilon |f|$ by $2h$. With $h = 10^{-6}$,
float32's $\\varepsilon \\approx 10^{-7}$ gives errors near $0.1$; float64's $10^{-16}$ gives $10^{-10}$.
Training only needs a good enough descent direction, and float32 halves memory and time.
""")
        + r"""

5. What does `npgpt.tensor(np.arange(3))` give: can it require a gradient?
"""
        + hint("""
An int64 tensor (arrays keep their dtype). `requires_grad=True` is refused: only floating-point
tensors have gradients. Ops that need floats (`exp`, `tanh`, `/`, ...) refuse integer inputs with a
message saying how to convert; `+`, `*` and indexing work on integers too.
"""),
    ),
]


# ============================================================================ 01
NB01 = [
    md(r"""
# 01 · Autograd from scratch

Training a GPT means lowering a scalar loss $L(\theta)$ by gradient descent,
$\theta \leftarrow \theta - \eta \, \partial L / \partial \theta$, for *every* one of its millions of
parameters $\theta$. **Reverse-mode automatic differentiation** (backpropagation) computes all of
those partial derivatives in a single backward pass that costs about as much as the forward pass.

In this notebook:

1. a computational graph and the chain rule;
2. a *teaching toy*: a scalar autograd in a few lines (in the spirit of Karpathy's micrograd);
3. the same computation with npgpt's real `Tensor`s, and why tensors change little;
4. where npgpt's backward code lives;
5. a picture of a graph, drawn from the tensors themselves;
6. gradients accumulate, graphs are freed, and a final gradient check.
"""),
    code(r"""
import inspect
import math

import matplotlib.pyplot as plt
import numpy as np

import npgpt

np.set_printoptions(precision=4, suppress=True)
"""),
    md(r"""
## 1. A computational graph and the chain rule

Take one neuron with two inputs, $o = \tanh(n)$ with $n = x_1 w_1 + x_2 w_2 + b$. Evaluating it
builds a graph: leaves $x_1, w_1, x_2, w_2, b$; inner nodes $x_1 w_1$, $x_2 w_2$, their sum, $n$,
and $o$. Each node knows only its **local derivative**, e.g. $\partial o / \partial n = 1 - \tanh^2 n$
and $\partial (x_1 w_1) / \partial w_1 = x_1$. The **chain rule** multiplies them along the path:

$$\frac{\partial o}{\partial w_1} = \frac{\partial o}{\partial n}\,\frac{\partial n}{\partial (x_1 w_1)}\,\frac{\partial (x_1 w_1)}{\partial w_1} = (1 - o^2)\cdot 1 \cdot x_1 .$$

When a value $v$ feeds *several* nodes $u_1, \dots, u_k$, its contributions **add up**
(the multivariate chain rule):

$$\frac{\partial L}{\partial v} = \sum_{i=1}^{k} \frac{\partial L}{\partial u_i}\,\frac{\partial u_i}{\partial v}.$$

**Reverse mode** computes $\bar v = \partial L / \partial v$ (the "adjoint" or gradient of $v$) for
every node, starting with $\bar L = 1$ and moving from the output back to the leaves. A node may
pass its gradient on only once it is **complete**, that is, once every node that uses it has been
processed. An order with that property is a **reverse topological order** of the graph.
"""),
    md(r"""
## 2. A teaching toy: scalar autograd in 40 lines

*This is a toy written for this notebook, not npgpt's engine* (that one is shown in section 4).
Each `Value` remembers its parents and a small closure `_backward` that pushes its gradient to
them with the local derivatives: note the `+=`, which implements the sum over uses.
"""),
    code(r"""
class Value:
    # teaching toy: a scalar that records how it was computed (like micrograd)
    def __init__(self, data, parents=(), op="", label=""):
        self.data, self.grad = float(data), 0.0
        self.parents, self.op, self.label = parents, op, label
        self._backward = lambda: None  # pushes self.grad to the parents

    def __repr__(self):
        return f"Value({self.label or self.op}: data={self.data:.4f}, grad={self.grad:.4f})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():  # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    __radd__, __rmul__ = __add__, __mul__

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():  # d tanh(a)/da = 1 - tanh(a)^2
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        order, seen = [], set()

        def visit(v):  # depth-first: v is appended after all of its parents
            if v not in seen:
                seen.add(v)
                for p in v.parents:
                    visit(p)
                order.append(v)

        visit(self)
        self.grad = 1.0  # dL/dL
        for v in reversed(order):  # outputs first: each gradient is complete when it is pushed on
            v._backward()
        return order
"""),
    code(r"""
def neuron(x1, x2, w1, w2, b):
    return (x1 * w1 + x2 * w2 + b).tanh()


inputs = dict(x1=2.0, x2=0.0, w1=-3.0, w2=1.0, b=6.8813735870195432)
leaves = {k: Value(v, label=k) for k, v in inputs.items()}
o = neuron(**leaves)
order = o.backward()
print("o =", round(o.data, 6))
for v in leaves.values():
    print(v)
print("\nbackward visits (reverse topological order):", ", ".join(v.label or v.op for v in reversed(order)))
"""),
    md(r"""
Check every gradient against a **central finite difference**,
$\partial o / \partial v \approx (o(v + h) - o(v - h)) / 2h$ (notebook 02 is all about this):
"""),
    code(r"""
def value_of(values):
    return neuron(**{k: Value(v) for k, v in values.items()}).data


h = 1e-6
for k in inputs:
    up, down = {**inputs, k: inputs[k] + h}, {**inputs, k: inputs[k] - h}
    numeric = (value_of(up) - value_of(down)) / (2 * h)
    print(f"d o / d {k:2s}: autograd {leaves[k].grad:+.8f}   finite difference {numeric:+.8f}")
"""),
    md(r"""
Why `+=` and why the order matters: a value used twice must collect both contributions, and a
value must not be passed on before it has them all. With `b = a * a` the toy gives $2a$:
"""),
    code(r"""
a = Value(3.0, label="a")
(a * a).backward()
print("d(a*a)/da =", a.grad, "(= 2a)")

a = Value(0.5, label="a")
c = a * a  # c feeds two nodes: it is complete only after both have pushed their gradient
d = c.tanh() + c
d.backward()
print("d(tanh(a^2) + a^2)/da =", a.grad, "  exact:", 2 * 0.5 * (1 - math.tanh(0.25) ** 2) + 2 * 0.5)
"""),
    md(r"""
## 3. The same with npgpt's tensors

npgpt's `Tensor` works the same way, with arrays instead of numbers. Here is the same neuron on
0-d float64 tensors; the gradients agree with the toy's to the last digit.
"""),
    code(r"""
ts = {k: npgpt.tensor(np.float64(v), requires_grad=True) for k, v in inputs.items()}
out = neuron(**ts)
out.backward()
for k, t in ts.items():
    print(f"{k:2s}: npgpt {float(t.grad):+.10f}   toy {leaves[k].grad:+.10f}")
"""),
    md(r"""
What changes with tensors: a backward receives the upstream gradient $g = \partial L / \partial y$,
an **array of y's shape**, and returns $\partial L / \partial x$, an array of x's shape. For
$y = f(x)$ with Jacobian $J = \partial y / \partial x$ that is the **vector-Jacobian product**

$$\frac{\partial L}{\partial x} = J^{\top} g ,$$

computed *without ever forming $J$* (for a $(1024, 768)$ activation $J$ would have $6 \times 10^{11}$
entries). For an elementwise $f$, $J$ is diagonal and $J^\top g = f'(x) \odot g$: for
$y = \tanh(x^2)$, $\partial L / \partial x = g \odot (1 - y^2) \odot 2x$.
"""),
    code(r"""
rng = np.random.default_rng(0)
x = npgpt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
g = rng.standard_normal((3, 4))  # some upstream gradient dL/dy
y = (x * x).tanh()
y.backward(g)
by_hand = g * (1 - np.tanh(x.numpy() ** 2) ** 2) * 2 * x.numpy()
print("max |autograd - by hand| =", np.abs(x.grad - by_hand).max())
"""),
    md(r"""
## 4. Where npgpt's backward code lives

Every op is a `Function` subclass in `npgpt/ops/` with its `forward` and hand-written `backward`
side by side (the contract is in `npgpt/autograd.py`). `Function.apply` runs the forward on the
arrays and, when a gradient is needed, gives the result a `Context` (`t._ctx`) that remembers the
op (`ctx.fn`), its inputs (`ctx.inputs`) and whatever the forward saved (`ctx.saved_tensors`).
An input that is a leaf is stored as the tensor itself; a computed input is stored as its graph
`Node`, which knows the op that made it, its shape and dtype, but not its data: so the graph keeps
alive only what the backward passes need (`ctx.saved_tensors`), not every intermediate array.
Here is `Mul`:
"""),
    code(r"""
print(inspect.getsource(npgpt.ops.elementwise.Mul))
"""),
    code(r"""
a = npgpt.tensor(np.array([1.0, 2.0]), requires_grad=True)
b = npgpt.tensor(np.array([3.0, 4.0]), requires_grad=True)
z = a * b
print("z._ctx.fn:", z._ctx.fn.__name__, "| inputs:", [i.shape for i in z._ctx.inputs],
      "| saved:", [s.tolist() for s in z._ctx.saved_tensors], "| needs_input_grad:", z._ctx.needs_input_grad)
"""),
    md(r"""
`Tensor.backward()` hands the graph to `npgpt.autograd.backward`, which orders it with an *iterative*
depth-first search (so a deep graph never hits Python's recursion limit), then walks it outputs-first, calling
`ctx.fn.backward(ctx, g)` and **summing** the gradients of tensors used more than once, exactly as the
toy did. Leaves collect their gradient in `.grad`, a plain array.
"""),
    code(r"""
from npgpt.autograd import _topological_order

print(inspect.getsource(_topological_order))
"""),
    md(r"""
## 5. Drawing the graph

The graph is just the `_ctx.inputs` links (tensors and nodes both have `_ctx`), so a few lines of matplotlib can draw it: walk
from the output to the leaves, place each leaf in column 0 and each op's result one column right of
its latest input, then draw an arrow from every input to the op that consumed it. (Draw *before*
`backward()`: it frees the links, see section 6.)
"""),
    code(r"""
def graph_of(root):
    # every tensor reachable from root, inputs before the tensors computed from them
    order, seen = [], set()

    def visit(t):
        if id(t) in seen:
            return
        seen.add(id(t))
        if t._ctx is not None:
            for inp in t._ctx.inputs:
                visit(inp)
        order.append(t)

    visit(root)
    return order


def draw_graph(root, ax=None):
    nodes = graph_of(root)
    level = {}
    for t in nodes:
        level[id(t)] = 0 if t._ctx is None else 1 + max(level[id(i)] for i in t._ctx.inputs)
    columns = {}
    for t in nodes:
        columns.setdefault(level[id(t)], []).append(t)
    pos = {id(t): (x, (len(col) - 1) / 2 - k) for x, col in columns.items() for k, t in enumerate(col)}
    if ax is None:
        _, ax = plt.subplots(figsize=(2.0 * len(columns) + 1, 1.1 * max(map(len, columns.values())) + 1))
    for t in nodes:
        ins = t._ctx.inputs if t._ctx is not None else ()
        for inp in {id(i): i for i in ins}.values():
            (x0, y0), (x1, y1) = pos[id(inp)], pos[id(t)]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="->", color="0.4", shrinkA=22, shrinkB=22))
            uses = sum(i is inp for i in ins)
            if uses > 1:  # the same tensor is both inputs of this op, e.g. h * h
                ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, f"x{uses}", ha="center", fontsize=8, color="C3")
    for t in nodes:
        shape = "x".join(map(str, t.shape)) or "scalar"
        if t._ctx is None:  # a leaf: blue if it wants a gradient, grey for a constant
            label, fc = f"{t.name or 'const'}\n{shape}", "#cfe2ff" if t.requires_grad else "#eeeeee"
        else:  # an op's result, labelled with the op
            label, fc = f"{t._ctx.fn.__name__}\n{shape}", "#ffe8cc"
        ax.text(*pos[id(t)], label, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", fc=fc, ec="0.3"))
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(-0.6, max(columns) + 0.6)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.axis("off")
    return ax


def named(t, name):
    t.name = name
    return t


x = named(npgpt.tensor(rng.standard_normal((2, 3)), requires_grad=True), "x")
W = named(npgpt.tensor(rng.standard_normal((3, 4)), requires_grad=True), "W")
b = named(npgpt.tensor(rng.standard_normal(4), requires_grad=True), "b")
h = (x @ W + b).tanh()
loss = (h * h).mean() + 0.5 * (W * W).sum()  # W is used twice: its gradient is a sum
draw_graph(loss)
plt.title("loss = mean(tanh(x @ W + b)^2) + 0.5 * sum(W^2)")
plt.show()
"""),
    md(r"""
The grey `const` leaf is the number `0.5`, lifted to a constant tensor; it gets no gradient. In
`h * h` and `W * W` one tensor is both inputs of a `Mul` (the red "x2"): the backward returns two
contributions for it, and `backward()` adds them.

## 6. Gradients accumulate; graphs are freed

As in PyTorch, `.grad` **accumulates** over `backward()` calls (this is what lets the gradients of
several micro-batches add up); reset it with `t.grad = None` or an optimizer's `zero_grad()`.
And `backward()` frees the graph's saved arrays as it goes, so a second call on the same graph is an
error unless the first passed `retain_graph=True`.
"""),
    code(r"""
loss.backward(retain_graph=True)
first = W.grad.copy()
loss.backward()  # same graph again: W.grad is now twice as large
print("second backward doubles W.grad:", np.allclose(W.grad, 2 * first))
W.grad = None  # reset, as optimizer.zero_grad() would

try:
    loss.backward()
except RuntimeError as e:
    print("RuntimeError:", e)
"""),
    md(r"""
## 7. The final check

Are the hand-written backwards behind this graph right? `npgpt.gradcheck` compares them with
central finite differences in float64 (notebook 02 explains the table):
"""),
    code(r"""
def f(x, W, b):
    h = (x @ W + b).tanh()
    return (h * h).mean() + 0.5 * (W * W).sum()


report = npgpt.gradcheck(f, [x, W, b])
print(report)
assert report.ok
"""),
    md(
        r"""
## Check yourself

1. Add `exp` to the toy `Value` and check $\frac{d}{da} e^{a} \tanh(a)$ at $a = 0.3$ against a
   finite difference.
"""
        + hint(r"""
`out = Value(math.exp(self.data), (self,), "exp")` with `self.grad += out.data * out.grad` in its
`_backward`. The derivative is $e^a \tanh a + e^a (1 - \tanh^2 a)$.
""")
        + r"""

2. Replace `+=` by `=` in the toy's `_backward` closures. Which of the examples above still give
   the right gradient, and which do not?
"""
        + hint(r"""
Every value used once still works. `a * a` gives $a$ instead of $2a$ (the second contribution
overwrites the first), and so does anything in which a node feeds two others.
""")
        + r"""

3. Why not simply visit the nodes breadth-first from the output? Find a small graph for which that
   order passes on an incomplete gradient.
"""
        + hint(r"""
Take $c = a^2$, $d = \tanh(c)$, $L = d + c$. Breadth-first from $L$ visits $d$ and $c$ (both at
distance 1) before $d$ has pushed its part of $\bar c$; if $c$ is processed first, $a$ receives
only part of its gradient. Reverse topological order processes $d$ before $c$.
""")
        + r"""

4. `Tanh` saves its *output* for the backward, not its input. Why is that enough, and cheaper?
"""
        + hint(r"""
$\frac{d}{dx}\tanh x = 1 - \tanh^2 x = 1 - y^2$: from $y$ the backward costs two multiplies and no
new `tanh`. Look at `inspect.getsource(npgpt.ops.elementwise.Tanh)`.
""")
        + r"""

5. Draw the graph of `x.softmax(-1)` and of `x.exp() / x.exp().sum(axis=-1, keepdims=True)`.
   How many nodes does each have, and why might a fused op be preferred?
"""
        + hint(r"""
The fused `Softmax` is a single node whose backward is one formula,
$\bar x = y \odot (\bar y - \sum_j \bar y_j y_j)$; the composed version has two `Exp`, a `Sum` and a
`Div`, and keeps more intermediate arrays alive for the backward.
""")
        + r"""

Assignment `lessons/a01_autograd` has you write the scalar engine and the backward of `Mul`, `Div`,
`Exp` and `Tanh` yourself.
"""
    ),
]


# ============================================================================ 02
NB02 = [
    md(r"""
# 02 · Gradient checking

Every backward in npgpt is written by hand, and a wrong backward does not crash: the model just
trains worse, or not at all. **Gradient checking** catches such bugs by comparing the analytic
gradient (from `backward()`) with a numerical one computed from the forward pass alone.

In this notebook:

1. finite differences, and why the *central* difference;
2. the relative error and what its values mean;
3. `npgpt.gradcheck` and its report;
4. why the check runs in float64;
5. kinks, where a mismatch is not a bug;
6. how planted bugs show up;
7. a measured result: every op of npgpt checked.
"""),
    code(r"""
import math
import time

import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.autograd import Function, no_grad
from npgpt.commands.gradcheck import check_all_ops
from npgpt.gradcheck import VERDICTS, verdict

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
"""),
    md(r"""
## 1. Finite differences

By Taylor's theorem, $f(x \pm h) = f(x) \pm h f'(x) + \frac{h^2}{2} f''(x) \pm \frac{h^3}{6} f'''(x) + \dots$, so

$$\underbrace{\frac{f(x+h) - f(x)}{h}}_{\text{forward difference}} = f'(x) + \frac{h}{2} f''(x) + O(h^2),
\qquad
\underbrace{\frac{f(x+h) - f(x-h)}{2h}}_{\text{central difference}} = f'(x) + \frac{h^2}{6} f'''(x) + O(h^4).$$

The central difference's **truncation error** shrinks like $h^2$ instead of $h$. But a smaller $h$
is not always better: each evaluation of $f$ is rounded, with an error of about
$\varepsilon |f|$ ($\varepsilon$ the machine epsilon), and dividing by $2h$ turns it into about
$\varepsilon |f| / h$. The total error of the central difference,

$$\text{error}(h) \approx \frac{h^2}{6} |f'''| + \frac{\varepsilon |f|}{h},$$

is smallest near $h^\ast = (3 \varepsilon |f| / |f'''|)^{1/3}$: about $10^{-5}$ in float64, where the
estimate of the error is $10^{-11}$, but about $10^{-2}$ in float32, where it is $10^{-5}$ (rounding
errors partly cancel, so the measured minima below are a little smaller). Measured for $f = \sin$
at $x = 1$:
"""),
    code(r"""
hs = np.logspace(-1, -12, 45)


def fd_error(dtype, central):
    x, exact, errs = dtype(1.0), math.cos(1.0), []
    for h in hs:
        h = dtype(h)
        with np.errstate(all="ignore"):
            d = (np.sin(x + h) - np.sin(x - h)) / (dtype(2) * h) if central else (np.sin(x + h) - np.sin(x)) / h
        errs.append(abs(float(d) - exact))
    return np.array(errs)


curves = {"central, float64": fd_error(np.float64, True), "forward, float64": fd_error(np.float64, False),
          "central, float32": fd_error(np.float32, True)}
plt.figure(figsize=(7, 4))
for label, errs in curves.items():
    plt.loglog(hs, np.maximum(errs, 1e-17), marker=".", label=label)
    best = int(np.argmin(errs))
    print(f"{label:17s}: best h = {hs[best]:.1e}, error {errs[best]:.1e}")
plt.loglog(hs, hs**2 / 6 * math.cos(1.0), "k:", lw=1, label="truncation h^2/6 |f'''|")
plt.loglog(hs, np.finfo(np.float64).eps / hs, "k--", lw=1, label="float64 rounding eps/h")
plt.gca().invert_xaxis()
plt.xlabel("step h")
plt.ylabel("|numeric - exact|")
plt.ylim(1e-17, 10)
plt.legend(fontsize=8)
plt.title("finite-difference error of d/dx sin(x) at x = 1")
plt.show()
"""),
    md(r"""
npgpt uses the central difference with $h = 10^{-6}$ in float64: a truncation error near
$10^{-13}$ and a rounding error near $10^{-10}$, far below what a bug produces.

## 2. A checker in a few lines, and the relative error

For a tensor function $y = f(x)$ we check a *scalar*, $L = \sum_i u_i\, y_i$, with $u$ a fixed
**random** upstream gradient. Backward then computes $J^\top u$; one finite difference per entry of
$x$ gives the same vector numerically. (Why random $u$ and not all ones: see section 6.)
"""),
    code(r"""
def numerical_gradient(loss, x, h=1e-6):
    # central differences, perturbing x in place one entry at a time
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = loss()
        flat[i] = old - h
        down = loss()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


x = npgpt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
u = rng.standard_normal((3, 4))
x.tanh().backward(u)  # analytic: J^T u


def loss():
    with no_grad():
        return float((x.tanh().data * u).sum())


numeric = numerical_gradient(loss, x.data)
rel = np.abs(x.grad - numeric) / np.maximum(np.abs(x.grad), np.abs(numeric))
print("analytic:\n", x.grad, "\nnumeric:\n", numeric)
print(f"max relative error {rel.max():.2e} -> {verdict(rel.max())}")
"""),
    md(r"""
The **relative error** $\dfrac{|a - n|}{\max(|a|, |n|)}$ is used rather than the absolute one
because gradients span many orders of magnitude: an absolute error of $10^{-6}$ is noise for a
gradient of $10^{3}$ and a disaster for one of $10^{-6}$. How to read it (CS231n's rule of thumb,
which `npgpt.gradcheck` follows):

| max relative error | verdict | typical cause |
|--------------------|---------|---------------|
| $\le 10^{-7}$ | good | a correct backward |
| $\le 10^{-4}$ | acceptable | kinks nearby, float noise, large $h$ |
| $\le 10^{-2}$ | suspicious | very likely a bug (or float32) |
| $> 10^{-2}$ | wrong | a bug |

For entries whose gradient is tiny (both values below $10^{-6}$) the ratio is mostly rounding noise,
so `gradcheck` judges them by an absolute tolerance alone. The pass/fail rule per entry is
$|a - n| \le \text{atol} + \text{rtol}\,|n|$ (defaults $10^{-5}$ and $10^{-3}$).
"""),
    code(r"""
print("npgpt.gradcheck.VERDICTS:", [(f"<= {b:g}", w) for b, w in VERDICTS])
for r in [3e-11, 2e-6, 4e-3, 0.5]:
    print(f"{r:8.0e} -> {verdict(r)}")
"""),
    md(r"""
## 3. `npgpt.gradcheck`

`npgpt.gradcheck(fn, inputs, params=())` does all of the above for every input that requires a
gradient (and for `params`, e.g. a module's weights), and returns a report: per tensor the number of
entries checked, the largest absolute and relative errors, where the worst entry is, and the analytic
and numeric values there.
"""),
    code(r"""
logits = npgpt.tensor(rng.standard_normal((2, 5)), requires_grad=True)
print(npgpt.gradcheck(lambda z: z.softmax(axis=-1), [logits]))
print()

x = npgpt.tensor(rng.standard_normal((3, 6)), requires_grad=True)
gamma = npgpt.tensor(1 + 0.1 * rng.standard_normal(6), requires_grad=True)
beta = npgpt.tensor(0.1 * rng.standard_normal(6), requires_grad=True)
x.name, gamma.name, beta.name = "x", "gamma", "beta"
print(npgpt.gradcheck(lambda x: F.layer_norm(x, gamma, beta), [x], params=[gamma, beta]))
"""),
    md(r"""
Each entry costs two forward passes, so large inputs are sampled with `max_samples`:
"""),
    code(r"""
A = npgpt.tensor(rng.standard_normal((64, 64)), requires_grad=True)
B = npgpt.tensor(rng.standard_normal((64, 64)), requires_grad=True)
t0 = time.perf_counter()
report = npgpt.gradcheck(lambda a, b: a @ b, [A, B], max_samples=50)
print(report)
print(f"{sum(r.checked for r in report.inputs)} of {A.size + B.size} entries checked in {time.perf_counter() - t0:.2f} s")
"""),
    md(r"""
A larger output also means a larger $|L|$ and so a larger rounding error $\varepsilon |L| / h$: relative
errors of $10^{-7}$ to $10^{-5}$ are normal for big tensors and read "acceptable".
"""),
    md(r"""
## 4. Why float64

In float32 the rounding term $\varepsilon |f| / h$ is about $10^{-7} / 10^{-6} = 0.1$: the numerical
gradient is garbage even for a perfect backward. `gradcheck` therefore refuses float32 inputs
unless you insist (`allow_float32=True`), and a larger step only partly helps:
"""),
    code(r"""
x64 = npgpt.tensor(rng.standard_normal((4, 5)), requires_grad=True)
x32 = x64.detach().float().requires_grad_()
try:
    npgpt.gradcheck(lambda a: a.tanh(), [x32])
except TypeError as e:
    print("TypeError:", e, "\n")

print(f"{'step h':>8} | {'float32 max rel err':>20} {'verdict':>11} | {'float64 max rel err':>20} {'verdict':>11}")
for h in [1e-6, 1e-4, 1e-3, 1e-2]:
    r32 = npgpt.gradcheck(lambda a: a.tanh(), [x32], eps=h, allow_float32=True)
    r64 = npgpt.gradcheck(lambda a: a.tanh(), [x64], eps=h)
    print(f"{h:8.0e} | {r32.max_rel_err:20.2e} {r32.verdict:>11} | {r64.max_rel_err:20.2e} {r64.verdict:>11}")
"""),
    md(r"""
The backward of `tanh` is the same in both rows; only the *check* fails in float32. That is also why
the tests of npgpt check gradients in float64 and, separately, check that float32 ops keep float32.

## 5. Kinks: a mismatch that is not a bug

`relu(x) = max(x, 0)` has no derivative at $0$; npgpt (like PyTorch) uses $0$ there. A central
difference at $0$ sees slope $0$ on the left and $1$ on the right and returns their average, $0.5$.
Any input closer to the kink than $h$ straddles it too:
"""),
    code(r"""
x = npgpt.tensor(np.array([-1.0, -4e-7, 0.0, 3e-7, 2.0]), requires_grad=True)
x.relu().sum().backward()


def relu_sum():
    with no_grad():
        return float(x.relu().sum().data)


numeric = numerical_gradient(relu_sum, x.data)
for xi, a, n in zip(x.data, x.grad, numeric):
    print(f"x = {xi:+.1e}: analytic {a:.2f}, numeric {n:.2f}" + ("   <- within h of the kink" if abs(xi) < 1e-6 else ""))
print()
print(npgpt.gradcheck(lambda a: a.relu(), [x]))
"""),
    md(r"""
So gradient checks keep their inputs away from kinks (npgpt's own `ReLU` cases move every input at
least $0.1$ away from $0$). `max` has kinks at **ties**. With two tied maxima, npgpt gives each
half the gradient, which happens to match the central difference; with three it gives each a third,
while the central difference still says one half: a mismatch, yet not a bug.
"""),
    code(r"""
for values in ([1.0, 3.0, 3.0], [3.0, 3.0, 3.0]):
    x = npgpt.tensor(np.array(values), requires_grad=True)
    x.max().backward()

    def max_of():
        with no_grad():
            return float(x.max().data)

    print(f"x = {values}: analytic {x.grad}, numeric {numerical_gradient(max_of, x.data)}")
"""),
    md(r"""
## 6. How a planted bug shows up

Below, an op with a correct forward and a backward that forgets the factor 2 of $\frac{d}{dx} x^2 = 2x$.
The report flags it, and the ratio of analytic to numeric at the worst entry reveals the missing
factor:
"""),
    code(r"""
class SquareMissingTwo(Function):
    # y = x^2 with a planted bug: the backward returns g * x instead of g * 2x

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * x,)


x = npgpt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
report = npgpt.gradcheck(SquareMissingTwo.apply, [x])
print(report)
worst = report.inputs[0]
print(f"\nverdict: {report.verdict}; analytic / numeric at {worst.worst_index}: {worst.analytic / worst.numeric:.4f}")
"""),
    md(r"""
Some bugs are invisible with an all-ones upstream gradient, i.e. when checking `y.sum()`. This
backward of $e^x$ uses the *mean* of $g$ instead of $g$ itself, which is the same thing when every
$g_i = 1$. A checker with $u = \mathbf{1}$ passes it; `gradcheck`'s random $u$ does not:
"""),
    code(r"""
class ExpRightOnlyForOnes(Function):
    # y = e^x with a planted bug: dx = y * mean(g) instead of y * g

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (y * g.mean(),)


x = npgpt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
ExpRightOnlyForOnes.apply(x).sum().backward()  # upstream gradient: all ones


def sum_exp():
    with no_grad():
        return float(ExpRightOnlyForOnes.apply(x).data.sum())


n = numerical_gradient(sum_exp, x.data)
print(f"check with u = ones: max rel err {np.max(np.abs(x.grad - n) / np.abs(n)):.1e} (the bug is invisible)")
report = npgpt.gradcheck(ExpRightOnlyForOnes.apply, [x])
print(f"gradcheck, random u: max rel err {report.max_rel_err:.1e} -> {report.verdict}")
"""),
    md(r"""
A backward that returns a gradient of the **wrong shape** (here: forgetting to sum a broadcast
input's gradient, the topic of notebook 03) does not even get as far as the comparison: npgpt
checks every gradient's shape and dtype and names the op.
"""),
    code(r"""
class AddForgetsUnbroadcast(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g  # b was (4,) and was broadcast to (3, 4): its gradient must be summed back


a = npgpt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
b = npgpt.tensor(rng.standard_normal(4), requires_grad=True)
try:
    npgpt.gradcheck(AddForgetsUnbroadcast.apply, [a, b])
except RuntimeError as e:
    print("RuntimeError:", e)
"""),
    md(r"""
## 7. A measured result: every op of npgpt

Every op in `npgpt/ops/` has a few gradient-check examples (in `npgpt/gradcheck_cases.py`); `npgpt gradcheck` on the
command line, and `npgpt.commands.gradcheck.check_all_ops()` here, run them all in float64:
"""),
    code(r"""
t0 = time.perf_counter()
results = list(check_all_ops())
elapsed = time.perf_counter() - t0
ops = sorted({r.op for r in results})
counts = {w: sum(r.verdict == w for r in results) for _, w in VERDICTS}
print(f"{len(ops)} ops, {len(results)} cases, all passed: {all(r.ok for r in results)} ({elapsed:.1f} s)")
print("verdicts:", counts)
print("\nthe five largest relative errors:")
for r in sorted(results, key=lambda r: -r.max_rel_err)[:5]:
    print(f"  {r.op:<26} {r.case:<24} {r.max_rel_err:.2e}  {r.verdict}")

errs = np.array([max(r.max_rel_err, 1e-16) for r in results])
plt.figure(figsize=(7, 3))
plt.hist(np.log10(errs), bins=30)
for b, _ in VERDICTS[:-1]:
    plt.axvline(np.log10(b), color="k", ls=":", lw=1)
top = plt.ylim()[1] * 0.9
for x, w in [(-7.3, "good"), (-5.5, "acceptable"), (-3, "suspicious"), (-1, "wrong")]:
    plt.text(x, top, w, ha="right" if w == "good" else "center", fontsize=8)
plt.xlim(-17, 0)
plt.xlabel("log10(max relative error) per case")
plt.ylabel("cases")
plt.title("gradient checks of every npgpt op (float64)")
plt.show()
"""),
    md(
        r"""
## Check yourself

1. Minimise $\frac{h^2}{6}|f'''| + \frac{\varepsilon|f|}{h}$ over $h$. What is the best step, and the
   best error, for the *forward* difference, whose truncation error is $\frac{h}{2}|f''|$?
"""
        + hint(r"""
Forward: minimise $\frac{h}{2}|f''| + \frac{\varepsilon |f|}{h}$, giving $h^\ast = \sqrt{2 \varepsilon |f| / |f''|}$,
about $10^{-8}$ in float64, and an error near $10^{-8}$: a thousand times worse than central
differences (compare the curves in section 1).
""")
        + r"""

2. Plant a bug in `tanh`'s backward: `g * (1 - y)` instead of `g * (1 - y * y)`. What relative error
   does `gradcheck` report, and at which inputs is the error largest?
"""
        + hint(r"""
Write a `Function` like `SquareMissingTwo` with forward `np.tanh(x)` (save `y`). The ratio of the wrong
to the right derivative is $(1 - y)/(1 - y^2) = 1/(1 + y)$: close to 1 where $y \approx 0$ and far from 1
for large $|x|$.
""")
        + r"""

3. Why does `gradcheck` draw a random upstream gradient instead of checking `y.sum()`? Find another
   wrong backward that only a random $u$ exposes.
"""
        + hint(r"""
With $u = \mathbf{1}$ only $J^\top \mathbf{1}$, the column sums of $J$, are tested. Any backward that
depends on $g$ only through `g.sum()` or `g.mean()` passes; so does a backward of `sum(x, axis=0)` that
returns `np.full(x.shape, g.mean())`.
""")
        + r"""

4. What happens to the check of `x.sqrt()` at inputs close to $0$, and how would you choose inputs for
   it?
"""
        + hint(r"""
$\frac{d}{dx}\sqrt{x} = \frac{1}{2\sqrt{x}}$ blows up and $f'''$ is huge near $0$; for $x < h$ the
difference even evaluates $\sqrt{\text{negative}}$. npgpt's cases draw such inputs from $[0.5, 2)$.
""")
        + r"""

Assignment `lessons/a02_gradient_checking` has you write this checker yourself and grades it against
`npgpt.gradcheck`.
"""
    ),
]


# ============================================================================ 03
NB03 = [
    md(r"""
# 03 · Broadcasting, reductions, matmul

Most of the backward passes in a transformer are not about calculus but about **shapes**: a bias
added to every position, a mean over the channels, a weight matrix shared by every token of every
sequence. This notebook derives the backward of each shape-changing op in npgpt and verifies it
with `npgpt.gradcheck`:

1. broadcasting, whose gradient is a **sum** (`unbroadcast`);
2. `sum` and `mean`, whose gradient is a broadcast;
3. `max`, and what happens with ties;
4. `reshape` and `transpose`;
5. indexing, where repeated indices must **accumulate** (`np.add.at`);
6. matrix products: $dA = dZ\,B^\top$, $dB = A^\top dZ$, batched.
"""),
    code(r"""
import inspect

import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.ops.broadcast import unbroadcast

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
summary = []  # (what, shapes, verdict, max rel err) of every check below


def t64(*shape, name=None):
    # a float64 leaf tensor of standard-normal values
    t = npgpt.tensor(rng.standard_normal(shape), requires_grad=True)
    t.name = name
    return t


def check(what, fn, inputs):
    report = npgpt.gradcheck(fn, inputs)
    shapes = " ".join(str(t.shape) for t in inputs)
    summary.append((what, shapes, report.verdict, report.max_rel_err))
    print(f"{what:<34} {shapes:<26} {report.verdict:<11} max rel err {report.max_rel_err:.1e}")
    assert report.ok, report
"""),
    md(r"""
## 1. The gradient of a broadcast is a sum

In $z = a + b$ with $a$ of shape $(3, 4)$ and $b$ of shape $(4,)$, broadcasting uses $b_j$ in every
row: $z_{ij} = a_{ij} + b_j$. By the multivariate chain rule (a value used several times receives the
sum of its contributions),

$$\frac{\partial L}{\partial b_j} = \sum_{i} \frac{\partial L}{\partial z_{ij}}\,\frac{\partial z_{ij}}{\partial b_j} = \sum_i g_{ij} .$$

In general a broadcast **copies** an input along new leading axes and along its size-1 axes, and the
backward of a copy is a **sum over the copies**. npgpt's `unbroadcast(grad, shape)` sums `grad` back
to the input's shape; every elementwise op calls it on each input's gradient.
"""),
    code(r"""
a, b = t64(3, 4), t64(4)
g = rng.standard_normal((3, 4))
(a + b).backward(g)
print("b.grad        =", b.grad)
print("g.sum(axis=0) =", g.sum(axis=0))
print()
print(inspect.getsource(unbroadcast))
"""),
    md(r"""
Summing a gradient of ones shows how many copies each input entry had:
"""),
    code(r"""
for grad_shape, shape in [((2, 3, 4), (4,)), ((2, 3, 4), (3, 1)), ((3, 5), (1, 5)), ((2, 3), ())]:
    counts = unbroadcast(np.ones(grad_shape), shape)
    print(f"{str(grad_shape):>10} -> {str(shape):<7} copies per entry: {np.asarray(counts).ravel()}")
"""),
    code(r"""
for sa, sb in [((3, 4), (4,)), ((3, 1), (1, 5)), ((2, 3, 4), (2, 1, 4)), ((), (2, 3))]:
    check("a * b (broadcast)", lambda a, b: a * b, [t64(*sa), t64(*sb)])
    check("a - b / 2 (broadcast)", lambda a, b: a - b / 2, [t64(*sa), t64(*sb)])
"""),
    md(r"""
## 2. `sum` and `mean`: the gradient is a broadcast

For $y = \sum_i x_i$ every $\partial y / \partial x_i = 1$: each element gets the output's
gradient, unchanged. Over an axis, $y_{i} = \sum_j x_{ij}$ gives $\bar x_{ij} = \bar y_i$: the
backward of a sum is a broadcast, just as the backward of a broadcast is a sum. If the reduced axes
were dropped (`keepdims=False`), they are first put back as size 1 so the broadcast lines up.

For the mean over $n$ elements, $\bar x_{ij} = \bar y_i / n$.
"""),
    code(r"""
print(inspect.getsource(npgpt.ops.reduce.Sum.backward))
print(inspect.getsource(npgpt.ops.reduce._expand))
x = t64(2, 3)
g = np.array([10.0, 20.0])
x.sum(axis=1).backward(g)
print("x.sum(axis=1).backward([10, 20]) gives x.grad =\n", x.grad)
"""),
    code(r"""
for axis in [None, 0, -1, (0, 2)]:
    for keepdims in [False, True]:
        check(f"sum(axis={axis}, keepdims={keepdims})", lambda x: x.sum(axis=axis, keepdims=keepdims), [t64(2, 3, 4)])
        check(f"mean(axis={axis}, keepdims={keepdims})", lambda x: x.mean(axis=axis, keepdims=keepdims), [t64(2, 3, 4)])
"""),
    md(r"""
## 3. `max`, and ties

$y = \max_j x_j$ depends only on the largest element: $\partial y / \partial x_j = 1$ for the maximum
and $0$ for every other element. When $k$ elements **tie** for the maximum the function has a kink
and no derivative. npgpt gives each tied maximum $\bar y / k$, as `torch.amax` does: the result does
not depend on the order of the elements, and the gradients still add up to $\bar y$. (An
argmax-based rule, like `torch.max(x, dim)`, sends everything to one of them: also valid, since any
convex combination is a subgradient.)
"""),
    code(r"""
x = npgpt.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]), requires_grad=True)
g = np.array([1.0, 1.0])
x.max(axis=1).backward(g)
print("x =\n", x.data, "\nx.max(axis=1).backward([1, 1]) gives x.grad =\n", x.grad)

try:
    import torch

    tx = torch.tensor(x.data, requires_grad=True)
    torch.amax(tx, dim=1).backward(torch.tensor(g))
    print("torch.amax gives\n", tx.grad.numpy())
    tx.grad = None
    torch.max(tx, dim=1).values.backward(torch.tensor(g))
    print("torch.max(dim=1) gives\n", tx.grad.numpy())
except ImportError:
    print("(torch not installed: comparison skipped)")
"""),
    md(r"""
Away from ties `max` is differentiable and the check passes; inputs with distinct values are used:
"""),
    code(r"""
def distinct(*shape):
    v = rng.permutation(int(np.prod(shape))) * 0.1  # values at least 0.1 apart
    return npgpt.tensor((v - v.mean()).reshape(shape), requires_grad=True)


for axis in [None, 0, -1, (0, 2)]:
    check(f"max(axis={axis})", lambda x: x.max(axis=axis), [distinct(2, 3, 4)])
"""),
    md(r"""
## 4. `reshape` and `transpose`

Both move values without changing them, so their backward moves the gradient back: a reshape's
backward reshapes $\bar y$ to the input's shape, and a transpose by a permutation $p$ is undone by
the inverse permutation, `argsort(p)`. Multi-head attention does exactly this to split channels into
heads, $(B, T, C) \to (B, T, H, D) \to (B, H, T, D)$:
"""),
    code(r"""
print(inspect.getsource(npgpt.ops.shape.Transpose.backward))
B, T, C, H = 2, 3, 8, 2
check("split heads: reshape + transpose", lambda x: x.reshape(B, T, H, C // H).transpose(1, 2), [t64(B, T, C)])
check("merge heads back", lambda x: x.transpose(1, 2).reshape(B, T, C), [t64(B, H, T, C // H)])
check("permute(2, 0, 1)", lambda x: x.permute(2, 0, 1), [t64(2, 3, 4)])
"""),
    md(r"""
## 5. Indexing, and repeated indices

$y = x[\text{idx}]$ copies the selected entries, so $\bar x$ is zero except where entries were
picked: $\bar x[\text{idx}] \mathrel{+}= \bar y$. With **repeated** indices the plus matters: an entry
picked three times receives three contributions. Plain assignment `dx[idx] = g` keeps only the last
one, and even `dx[idx] += g` does (NumPy evaluates it as one buffered read-modify-write);
`np.add.at(dx, idx, g)` accumulates every one. Token embeddings are exactly this case: the same token
appears many times in a batch.
"""),
    code(r"""
x = t64(5, 3)
idx = np.array([0, 2, 2, 4, 2])  # row 2 is picked three times
g = rng.standard_normal((5, 3))
x[idx].backward(g)

assigned = np.zeros((5, 3))
assigned[idx] = g
buffered = np.zeros((5, 3))
buffered[idx] += g
accumulated = np.zeros((5, 3))
np.add.at(accumulated, idx, g)
print("sum of the three contributions to row 2:", g[idx == 2].sum(axis=0))
print("dx[idx] = g        -> row 2:", assigned[2])
print("dx[idx] += g       -> row 2:", buffered[2])
print("np.add.at          -> row 2:", accumulated[2])
print("npgpt x.grad       -> row 2:", x.grad[2])
"""),
    code(r"""
check("x[idx] with repeats", lambda x: x[idx], [t64(5, 3)])
check("x[idx, idx2] with repeats", lambda x: x[idx, np.array([0, 1, 1, 2, 1])], [t64(5, 3)])
check("x[1:3, ::2]", lambda x: x[1:3, ::2], [t64(4, 5)])
ids = np.array([[1, 3, 1], [0, 1, 2]])
check("embedding, repeated ids", lambda w: F.embedding(ids, w), [t64(4, 6)])
"""),
    md(r"""
## 6. Matrix products

For $Z = AB$ with $A \in \mathbb{R}^{m \times k}$, $B \in \mathbb{R}^{k \times n}$,
$Z_{ij} = \sum_k A_{ik} B_{kj}$. With $G = \partial L / \partial Z$:

$$\frac{\partial L}{\partial A_{ik}} = \sum_j G_{ij} B_{kj} = (G B^\top)_{ik},
\qquad
\frac{\partial L}{\partial B_{kj}} = \sum_i A_{ik} G_{ij} = (A^\top G)_{kj}.$$

A way to remember them: $dA$ must have $A$'s shape $(m, k)$, and the only product of $G$ $(m, n)$ with
$B$ that has that shape is $G B^\top$; likewise $dB$ $(k, n)$ $= A^\top G$.
"""),
    code(r"""
A, Bm = t64(3, 4), t64(4, 5)
G = rng.standard_normal((3, 5))
(A @ Bm).backward(G)
print("max |A.grad - G @ B^T| =", np.abs(A.grad - G @ Bm.data.T).max())
print("max |B.grad - A^T @ G| =", np.abs(Bm.grad - A.data.T @ G).max())
print()
print(inspect.getsource(npgpt.ops.matmul.MatMul.backward))
"""),
    md(r"""
**Batched** products apply the formulas to each matrix of the batch, with the batch axes
broadcasting as in NumPy. A weight $W$ $(C, D)$ applied to activations $X$ $(B, T, C)$ is *broadcast*
over the batch, so its gradient is the sum over the batch (section 1 again):
$\bar W = \sum_b X_b^\top G_b$, which is one big product once the batch is folded into the rows,
$X^\top G$ with $X$ as $(BT, C)$ and $G$ as $(BT, D)$. npgpt's `MatMul` takes that shortcut.
"""),
    code(r"""
X, W = t64(2, 3, 4), t64(4, 5)
G = rng.standard_normal((2, 3, 5))
(X @ W).backward(G)
per_batch = sum(X.data[i].T @ G[i] for i in range(2))
folded = X.data.reshape(-1, 4).T @ G.reshape(-1, 5)
print("max |W.grad - sum_b X_b^T G_b| =", np.abs(W.grad - per_batch).max())
print("max |W.grad - X^T G (folded)|  =", np.abs(W.grad - folded).max())
"""),
    code(r"""
for sa, sb in [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 2)),
               ((4,), (4, 5)), ((3, 4), (4,)), ((2, 1, 3, 4), (3, 4, 2))]:
    check("A @ B", lambda a, b: a @ b, [t64(*sa), t64(*sb)])
check("linear: x @ W^T + b", lambda x, w, b: F.linear(x, w, b), [t64(2, 3, 4), t64(5, 4), t64(5)])
"""),
    md(r"""
## 7. The measured result

Every gradient in this notebook, checked against central finite differences in float64:
"""),
    code(r"""
print(f"{'check':<34} {'shapes':<26} {'verdict':<11} max rel err")
for what, shapes, v, err in summary:
    print(f"{what:<34} {shapes:<26} {v:<11} {err:.1e}")
print(f"\n{len(summary)} gradient checks, all passed; worst relative error {max(s[3] for s in summary):.1e}")
"""),
    md(
        r"""
## Check yourself

1. In `a + b` with `a` of shape `(3, 4)` and `b` of shape `(1, 4)`, what is `b.grad` in terms of the
   upstream gradient `g`? And for `b` of shape `(3, 1)`?
"""
        + hint(r"""
`g.sum(axis=0, keepdims=True)`, shape `(1, 4)`; and `g.sum(axis=1, keepdims=True)`, shape `(3, 1)`.
A size-1 axis is kept as size 1, a missing leading axis is summed away.
""")
        + r"""

2. Why do the gradients that `max` gives to tied elements sum to $\bar y$, whichever tie rule is
   used? What would go wrong if each tied maximum received the full $\bar y$?
"""
        + hint(r"""
Increasing *all* tied elements by $h$ increases the max by $h$, so the directional derivative along
$(1, \dots, 1)$ on the tie is 1: a valid gradient's entries on the tie must add up to $\bar y$.
Giving each the full $\bar y$ would count the output $k$ times.
""")
        + r"""

3. Derive the gradient of $Y = X X^\top$ with respect to $X$ (where $X$ is used twice) and check it
   with `npgpt.gradcheck`.
"""
        + hint(r"""
Two uses, two contributions: $\bar X = \bar Y X + \bar Y^\top X = (\bar Y + \bar Y^\top) X$.
`npgpt.gradcheck(lambda x: x @ x.T, [t64(3, 4)])`.
""")
        + r"""

4. Why does `npgpt.ops.shape.GetItem.backward` use `xp.add.at` only for array indices and a plain
   assignment for slices?
"""
        + hint(r"""
A slice (or an integer) never selects the same element twice, so assignment is exact and faster.
Only an integer or boolean *array* index can repeat an entry.
""")
        + r"""

5. A linear layer computes $y = x W^\top + b$ with $x$ $(B, T, C_{in})$ and $W$ $(C_{out}, C_{in})$.
   Write $\bar x$, $\bar W$ and $\bar b$ with their shapes.
"""
        + hint(r"""
With $X$ and $G$ folded to $(BT, C_{in})$ and $(BT, C_{out})$: $\bar X = G W$, $\bar W = G^\top X$
$(C_{out}, C_{in})$, $\bar b = \sum_{\text{rows}} G$ $(C_{out},)$. Compare with the docstring of
`npgpt.ops.matmul.Linear`.
""")
        + r"""

Assignment `lessons/a03_broadcasting_reductions_matmul` has you write `unbroadcast` and the backward
of `Mul`, `Sum`, `Mean`, `Max` and `MatMul` yourself.
"""
    ),
]


NOTEBOOK_FILES = {
    "00_arrays_and_backends.ipynb": NB00,
    "01_autograd_from_scratch.ipynb": NB01,
    "02_gradient_checking.ipynb": NB02,
    "03_broadcasting_reductions_matmul.ipynb": NB03,
}


def write_or_check(notebook_files, argv=None, script="tools/make_notebooks.py") -> int:
    """(Re)write each notebook from its cells, or with ``--check`` only report stale ones (exit 1).

    Shared by every notebook generator in tools/."""
    p = argparse.ArgumentParser(description=f"write the notebooks of {script}")
    p.add_argument("--check", action="store_true", help="only compare the committed notebooks with the source here")
    args = p.parse_args(argv)
    stale = []
    for name, cells in notebook_files.items():
        path = NOTEBOOKS / name
        text = render(cells)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)} ({len(cells)} cells)")
    if stale:
        print(f"out of date (run python {script}):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    return write_or_check(NOTEBOOK_FILES, argv, "tools/make_notebooks.py")


if __name__ == "__main__":
    sys.exit(main())
