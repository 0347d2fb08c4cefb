# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Autograd from scratch
#
# Training a GPT means lowering a scalar loss $L(\theta)$ by gradient descent,
# $\theta \leftarrow \theta - \eta \, \partial L / \partial \theta$, for *every* one of its millions of
# parameters $\theta$. **Reverse-mode automatic differentiation** (backpropagation) computes all of
# those partial derivatives in a single backward pass that costs about twice the forward pass (a
# gradient for the input *and* one for the weight of every matrix product), however many parameters
# there are.
#
# In this notebook:
#
# 1. a computational graph and the chain rule;
# 2. a *teaching toy*: a scalar autograd in a few lines (in the spirit of Karpathy's micrograd);
# 3. the same computation with npgpt's real `Tensor`s, and why tensors change little;
# 4. where npgpt's backward code lives;
# 5. a picture of a graph, drawn from the tensors themselves;
# 6. gradients accumulate, graphs are freed, and a final gradient check.

# %%
import inspect
import math

import matplotlib.pyplot as plt
import numpy as np

import npgpt

np.set_printoptions(precision=4, suppress=True)


# %% [markdown]
# ## 1. A computational graph and the chain rule
#
# Take one neuron with two inputs, $o = \tanh(n)$ with $n = x_1 w_1 + x_2 w_2 + b$. Evaluating it
# builds a graph: leaves $x_1, w_1, x_2, w_2, b$; inner nodes $x_1 w_1$, $x_2 w_2$, their sum, $n$,
# and $o$. Each node knows only its **local derivative**, e.g. $\partial o / \partial n = 1 - \tanh^2 n$
# and $\partial (x_1 w_1) / \partial w_1 = x_1$. The **chain rule** multiplies them along the path:
#
# $$\frac{\partial o}{\partial w_1} = \frac{\partial o}{\partial n}\,\frac{\partial n}{\partial (x_1 w_1)}\,\frac{\partial (x_1 w_1)}{\partial w_1} = (1 - o^2)\cdot 1 \cdot x_1 .$$
#
# When a value $v$ feeds *several* nodes $u_1, \dots, u_k$, its contributions **add up**
# (the multivariate chain rule):
#
# $$\frac{\partial L}{\partial v} = \sum_{i=1}^{k} \frac{\partial L}{\partial u_i}\,\frac{\partial u_i}{\partial v}.$$
#
# **Reverse mode** computes $\bar v = \partial L / \partial v$ (the "adjoint" or gradient of $v$) for
# every node, starting with $\bar L = 1$ and moving from the output back to the leaves. A node may
# pass its gradient on only once it is **complete**, that is, once every node that uses it has been
# processed. An order with that property is a **reverse topological order** of the graph.

# %% [markdown]
# ## 2. A teaching toy: scalar autograd in 60 lines
#
# *This is a toy written for this notebook, not npgpt's engine* (that one is shown in section 4).
# Each `Value` remembers its parents and a small closure `_backward` that pushes its gradient to
# them with the local derivatives: note the `+=`, which implements the sum over uses.


# %%
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


# %%
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


# %% [markdown]
# Check every gradient against a **central finite difference**,
# $\partial o / \partial v \approx (o(v + h) - o(v - h)) / 2h$ (notebook 02 is all about this):


# %%
def value_of(values):
    return neuron(**{k: Value(v) for k, v in values.items()}).data


h = 1e-6
for k in inputs:
    up, down = {**inputs, k: inputs[k] + h}, {**inputs, k: inputs[k] - h}
    numeric = (value_of(up) - value_of(down)) / (2 * h)
    print(f"d o / d {k:2s}: autograd {leaves[k].grad:+.8f}   finite difference {numeric:+.8f}")

# %% [markdown]
# Why `+=` and why the order matters: a value used twice must collect both contributions, and a
# value must not be passed on before it has them all. With `b = a * a` the toy gives $2a$:

# %%
a = Value(3.0, label="a")
(a * a).backward()
print("d(a*a)/da =", a.grad, "(= 2a)")

a = Value(0.5, label="a")
c = a * a  # c feeds two nodes: it is complete only after both have pushed their gradient
d = c.tanh() + c
d.backward()
print("d(tanh(a^2) + a^2)/da =", a.grad, "  exact:", 2 * 0.5 * (1 - math.tanh(0.25) ** 2) + 2 * 0.5)

# %% [markdown]
# ## 3. The same with npgpt's tensors
#
# npgpt's `Tensor` works the same way, with arrays instead of numbers. Here is the same neuron on
# 0-d float64 tensors; the gradients agree with the toy's to the last digit.

# %%
ts = {k: npgpt.tensor(np.float64(v), requires_grad=True) for k, v in inputs.items()}
out = neuron(**ts)
out.backward()
for k, t in ts.items():
    print(f"{k:2s}: npgpt {float(t.grad):+.10f}   toy {leaves[k].grad:+.10f}")

# %% [markdown]
# What changes with tensors: a backward receives the upstream gradient $g = \partial L / \partial y$,
# an **array of y's shape**, and returns $\partial L / \partial x$, an array of x's shape. For
# $y = f(x)$ with Jacobian $J = \partial y / \partial x$ that is the **vector-Jacobian product**
#
# $$\frac{\partial L}{\partial x} = J^{\top} g ,$$
#
# computed *without ever forming $J$* (for a $(1024, 768)$ activation $J$ would have $6 \times 10^{11}$
# entries). For an elementwise $f$, $J$ is diagonal and $J^\top g = f'(x) \odot g$: for
# $y = \tanh(x^2)$, $\partial L / \partial x = g \odot (1 - y^2) \odot 2x$.

# %%
rng = np.random.default_rng(0)
x = npgpt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
g = rng.standard_normal((3, 4))  # some upstream gradient dL/dy
y = (x * x).tanh()
y.backward(g)
by_hand = g * (1 - np.tanh(x.numpy() ** 2) ** 2) * 2 * x.numpy()
print("max |autograd - by hand| =", np.abs(x.grad - by_hand).max())

# %% [markdown]
# ### Your turn: write a backward
#
# Here is an op in npgpt's contract (notebook section 4 shows the real ones): the logistic sigmoid
# $y = \sigma(x) = 1 / (1 + e^{-x})$. Its forward is written. Write its `backward`: given
# `g` $= \partial L / \partial y$ (an array of $y$'s shape), return a 1-tuple with $\partial L / \partial x$.
# The next cell checks it against finite differences and says which entry is off.
#
# *Hint:* differentiate $1 / (1 + e^{-x})$ and write the result with $y$ itself; the forward saved $y$.
#
# <details><summary>Answer</summary>
#
# $\sigma'(x) = e^{-x} / (1 + e^{-x})^2 = \sigma(x)\,(1 - \sigma(x))$, so
#
# ```python
#     @staticmethod
#     def backward(ctx, g):
#         (y,) = ctx.saved_tensors
#         return (g * y * (1 - y),)
# ```
#
# </details>

# %%
from npgpt.autograd import Function
from npgpt.backend import get_array_module


class MySigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)  # NumPy or CuPy, from the input (notebook 00's rule)
        y = 1.0 / (1.0 + xp.exp(-x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        # your code here (the answer is filled in, so the notebook runs top to bottom)
        (y,) = ctx.saved_tensors
        return (g * y * (1 - y),)


# %%
from npgpt.exercises import check_gradient

xs = npgpt.tensor(rng.standard_normal((3, 5)), requires_grad=True)
check_gradient("MySigmoid", MySigmoid.apply, [xs], hint="sigma'(x) = y (1 - y), times the upstream g")

# %% [markdown]
# ## 4. Where npgpt's backward code lives
#
# Every op is a `Function` subclass in `npgpt/ops/` with its `forward` and hand-written `backward`
# side by side (the contract is in `npgpt/autograd.py`). `Function.apply` runs the forward on the
# arrays and, when a gradient is needed, gives the result a `Context` (`t._ctx`) that remembers the
# op (`ctx.fn`), its inputs (`ctx.inputs`) and whatever the forward saved (`ctx.saved_tensors`).
# An input that is a leaf is stored as the tensor itself; a computed input is stored as its graph
# `Node`, which knows the op that made it, its shape and dtype, but not its data: so the graph keeps
# alive only what the backward passes need (`ctx.saved_tensors`), not every intermediate array.
# Here is `Mul`:

# %%
print(inspect.getsource(npgpt.ops.elementwise.Mul))

# %%
a = npgpt.tensor(np.array([1.0, 2.0]), requires_grad=True)
b = npgpt.tensor(np.array([3.0, 4.0]), requires_grad=True)
z = a * b
print(
    "z._ctx.fn:",
    z._ctx.fn.__name__,
    "| inputs:",
    [i.shape for i in z._ctx.inputs],
    "| saved:",
    [s.tolist() for s in z._ctx.saved_tensors],
    "| needs_input_grad:",
    z._ctx.needs_input_grad,
)

# %% [markdown]
# `Tensor.backward()` hands the graph to `npgpt.autograd.backward`, which orders it with an *iterative*
# depth-first search (so a deep graph never hits Python's recursion limit), then walks it outputs-first, calling
# `ctx.fn.backward(ctx, g)` and **summing** the gradients of tensors used more than once, exactly as the
# toy did. Leaves collect their gradient in `.grad`, a plain array.

# %%
from npgpt.autograd import _topological_order

print(inspect.getsource(_topological_order))


# %% [markdown]
# ## 5. Drawing the graph
#
# The graph is just the `_ctx.inputs` links (tensors and nodes both have `_ctx`), so a few lines of matplotlib can draw it: walk
# from the output to the leaves, place each leaf in column 0 and each op's result one column right of
# its latest input, then draw an arrow from every input to the op that consumed it. (Draw *before*
# `backward()`: it frees the links, see section 6.)


# %%
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
            ax.annotate(
                "", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="0.4", shrinkA=22, shrinkB=22)
            )
            uses = sum(i is inp for i in ins)
            if uses > 1:  # the same tensor is both inputs of this op, e.g. h * h
                ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, f"x{uses}", ha="center", fontsize=8, color="C3")
    for t in nodes:
        shape = "x".join(map(str, t.shape)) or "scalar"
        if t._ctx is None:  # a leaf: blue if it wants a gradient, grey for a constant
            label, fc = f"{t.name or 'const'}\n{shape}", "#cfe2ff" if t.requires_grad else "#eeeeee"
        else:  # an op's result, labelled with the op
            label, fc = f"{t._ctx.fn.__name__}\n{shape}", "#ffe8cc"
        ax.text(
            *pos[id(t)],
            label,
            ha="center",
            va="center",
            fontsize=9,
            bbox=dict(boxstyle="round,pad=0.4", fc=fc, ec="0.3"),
        )
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

# %% [markdown]
# The grey `const` leaf is the number `0.5`, lifted to a constant tensor; it gets no gradient. In
# `h * h` and `W * W` one tensor is both inputs of a `Mul` (the red "x2"): the backward returns two
# contributions for it, and `backward()` adds them.
#
# ## 6. Gradients accumulate; graphs are freed
#
# **Predict, then run.** The cell below calls `loss.backward(retain_graph=True)` and then
# `loss.backward()` again on the same graph, without resetting anything. Is `W.grad` after the
# second call the same as after the first? And what does a third call do?

# %%
loss.backward(retain_graph=True)
first = W.grad.copy()
loss.backward()  # same graph again: W.grad is now twice as large
print("second backward doubles W.grad:", np.allclose(W.grad, 2 * first))
W.grad = None  # reset, as optimizer.zero_grad() would

try:
    loss.backward()
except RuntimeError as e:
    print("RuntimeError:", e)

# %% [markdown]
# As in PyTorch, `.grad` **accumulates** over `backward()` calls (this is what lets the gradients of
# several micro-batches add up); reset it with `t.grad = None` or an optimizer's `zero_grad()`.
# And `backward()` frees the graph's saved arrays as it goes, so a second call on the same graph is an
# error unless the first passed `retain_graph=True`: the third call above had nothing left to use.


# %% [markdown]
# ## 7. The final check
#
# Are the hand-written backwards behind this graph right? `npgpt.gradcheck` compares them with
# central finite differences in float64 (notebook 02 explains the table):


# %%
def f(x, W, b):
    h = (x @ W + b).tanh()
    return (h * h).mean() + 0.5 * (W * W).sum()


report = npgpt.gradcheck(f, [x, W, b])
print(report)
assert report.ok

# %% [markdown]
# ## Check yourself
#
# 1. Add `exp` to the toy `Value` and check $\frac{d}{da} e^{a} \tanh(a)$ at $a = 0.3$ against a
#    finite difference.
#
# <details><summary>Hint</summary>
#
# `out = Value(math.exp(self.data), (self,), "exp")` with `self.grad += out.data * out.grad` in its
# `_backward`. The derivative is $e^a \tanh a + e^a (1 - \tanh^2 a)$.
#
# </details>
#
# 2. Replace `+=` by `=` in the toy's `_backward` closures. Which of the examples above still give
#    the right gradient, and which do not?
#
# <details><summary>Hint</summary>
#
# Every value used once still works. `a * a` gives $a$ instead of $2a$ (the second contribution
# overwrites the first), and so does anything in which a node feeds two others.
#
# </details>
#
# 3. Why not simply visit the nodes breadth-first from the output? Find a small graph for which that
#    order passes on an incomplete gradient.
#
# <details><summary>Hint</summary>
#
# Take $c = a^2$, $d = \tanh(c)$, $L = d + c$. Breadth-first from $L$ visits $d$ and $c$ (both at
# distance 1) before $d$ has pushed its part of $\bar c$; if $c$ is processed first, $a$ receives
# only part of its gradient. Reverse topological order processes $d$ before $c$.
#
# </details>
#
# 4. `Tanh` saves its *output* for the backward, not its input. Why is that enough, and cheaper?
#
# <details><summary>Hint</summary>
#
# $\frac{d}{dx}\tanh x = 1 - \tanh^2 x = 1 - y^2$: from $y$ the backward costs two multiplies and no
# new `tanh`. Look at `inspect.getsource(npgpt.ops.elementwise.Tanh)`.
#
# </details>
#
# 5. Draw the graph of `x.softmax(-1)` and of `x.exp() / x.exp().sum(axis=-1, keepdims=True)`.
#    How many nodes does each have, and why might a fused op be preferred?
#
# <details><summary>Hint</summary>
#
# The fused `Softmax` is a single node whose backward is one formula,
# $\bar x = y \odot (\bar y - \sum_j \bar y_j y_j)$; the composed version has two `Exp`, a `Sum` and a
# `Div`, and keeps more intermediate arrays alive for the backward.
#
# </details>
#
# Assignment `lessons/a01_autograd` has you write the scalar engine and the backward of `Mul`, `Div`,
# `Exp` and `Tanh` yourself.

# %% [markdown]
# ## Papers
#
# - Baydin et al., 2018, *Automatic Differentiation in Machine Learning: a Survey*: forward and reverse
#   mode, and why reverse mode suits a scalar loss. <https://arxiv.org/abs/1502.05767>
# - Rumelhart, Hinton and Williams, 1986, *Learning representations by back-propagating errors*,
#   Nature 323. <https://doi.org/10.1038/323533a0>
