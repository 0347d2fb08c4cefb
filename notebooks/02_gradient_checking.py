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
# # 02 · Gradient checking
#
# Every backward in npgpt is written by hand, and a wrong backward does not crash: the model just
# trains worse, or not at all. **Gradient checking** catches such bugs by comparing the analytic
# gradient (from `backward()`) with a numerical one computed from the forward pass alone.
#
# In this notebook:
#
# 1. finite differences, and why the *central* difference;
# 2. the relative error and what its values mean;
# 3. `npgpt.gradcheck` and its report;
# 4. why the check runs in float64;
# 5. kinks, where a mismatch is not a bug;
# 6. how planted bugs show up;
# 7. a measured result: every op of npgpt checked.

# %%
import inspect
import math
import time

import matplotlib.pyplot as plt
import numpy as np

import npgpt
from npgpt.autograd import Function, no_grad
from npgpt.commands.gradcheck import check_all_ops
from npgpt.gradcheck import VERDICTS, verdict

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Finite differences
#
# By Taylor's theorem, $f(x \pm h) = f(x) \pm h f'(x) + \frac{h^2}{2} f''(x) \pm \frac{h^3}{6} f'''(x) + \dots$, so
#
# $$\underbrace{\frac{f(x+h) - f(x)}{h}}_{\text{forward difference}} = f'(x) + \frac{h}{2} f''(x) + O(h^2),
# \qquad
# \underbrace{\frac{f(x+h) - f(x-h)}{2h}}_{\text{central difference}} = f'(x) + \frac{h^2}{6} f'''(x) + O(h^4).$$
#
# The central difference's **truncation error** shrinks like $h^2$ instead of $h$. But a smaller $h$
# is not always better: each evaluation of $f$ is rounded, with an error of about
# $\varepsilon |f|$ ($\varepsilon$ the machine epsilon), and dividing by $2h$ turns it into about
# $\varepsilon |f| / h$. The total error of the central difference,
#
# $$\text{error}(h) \approx \frac{h^2}{6} |f'''| + \frac{\varepsilon |f|}{h},$$
#
# is smallest near $h^\ast = (3 \varepsilon |f| / |f'''|)^{1/3}$: about $10^{-5}$ in float64, where the
# estimate of the error is $10^{-11}$, but about $10^{-2}$ in float32, where it is $10^{-5}$ (rounding
# errors partly cancel, so the measured minima below are a little smaller). These numbers are for
# $f = \sin$ at $x = 1$, where $|f'''| = 0.54$; a function with a larger $|f'''|$, or an error measured
# relative to a small derivative, sits higher (section 4 measures `tanh` in float32). Measured for
# $f = \sin$ at $x = 1$:

# %%
hs = np.logspace(-1, -12, 45)


def fd_error(dtype, central):
    x, exact, errs = dtype(1.0), math.cos(1.0), []
    for h in hs:
        h = dtype(h)
        with np.errstate(all="ignore"):
            d = (np.sin(x + h) - np.sin(x - h)) / (dtype(2) * h) if central else (np.sin(x + h) - np.sin(x)) / h
        errs.append(abs(float(d) - exact))
    return np.array(errs)


curves = {
    "central, float64": fd_error(np.float64, True),
    "forward, float64": fd_error(np.float64, False),
    "central, float32": fd_error(np.float32, True),
}
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


# %% [markdown]
# ### Your turn: a numerical gradient
#
# Write `numerical_grad(f, x, h=1e-6)`: for a function `f` that maps a float64 array to a number,
# return the array of central differences $(f(x + h e_i) - f(x - h e_i)) / 2h$, one per entry of `x`
# (any shape). The next cell compares it with the exact gradient of
# $f(x) = \sum_i x_i \sin x_i + (\sum_i x_i)^2$, which is $\sin x + x \cos x + 2 \sum_i x_i$. (The
# second term ties the entries together: a loop that forgets to put an entry back shows up.)
#
# *Hint:* loop over `np.ndindex(x.shape)`; change one entry of a copy, evaluate, and put it back.
#
# <details><summary>Answer</summary>
#
# ```python
# def numerical_grad(f, x, h=1e-6):
#     x = x.astype(np.float64).copy()
#     grad = np.zeros_like(x)
#     for i in np.ndindex(x.shape):
#         old = x[i]
#         x[i] = old + h
#         up = f(x)
#         x[i] = old - h
#         down = f(x)
#         x[i] = old
#         grad[i] = (up - down) / (2 * h)
#     return grad
# ```
#
# </details>


# %%
def numerical_grad(f, x, h=1e-6):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    x = x.astype(np.float64).copy()
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


# %%
from npgpt.exercises import check_array

x_ex = np.random.default_rng(7).standard_normal((3, 4))
check_array(
    "numerical_grad",
    numerical_grad(lambda a: float(np.sum(a * np.sin(a)) + np.sum(a) ** 2), x_ex),
    np.sin(x_ex) + x_ex * np.cos(x_ex) + 2 * x_ex.sum(),
    atol=1e-8,
    rtol=1e-6,
    hint="central differences: (f(x+h) - f(x-h)) / (2h), one entry at a time, restoring it afterwards",
)

# %% [markdown]
# npgpt uses the central difference with $h = 10^{-6}$ in float64: a truncation error near
# $10^{-13}$ and a rounding error near $10^{-10}$, far below what a bug produces.
#
# ## 2. A checker in a few lines, and the relative error
#
# For a tensor function $y = f(x)$ we check a *scalar*, $L = \sum_i u_i\, y_i$, with $u$ a fixed
# **random** upstream gradient. Backward then computes $J^\top u$; one finite difference per entry of
# $x$ gives the same vector numerically. (Why random $u$ and not all ones: see section 6.)


# %%
def numerical_gradient(loss, x, h=1e-6):
    # central differences, perturbing x in place one entry at a time (task 2.1 of assignment 2)
    # your code here (the answer is filled in, so the notebook runs top to bottom)
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


# %%
from npgpt.exercises import check

x = npgpt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
u = rng.standard_normal((3, 4))
x.tanh().backward(u)  # analytic: J^T u
x_before = x.data.copy()


def loss():
    with no_grad():
        return float((x.tanh().data * u).sum())


numeric = numerical_gradient(loss, x.data)
check(np.array_equal(x.data, x_before), "numerical_gradient must put every entry of x back after perturbing it")
rel = np.abs(x.grad - numeric) / np.maximum(np.abs(x.grad), np.abs(numeric))
print("analytic:\n", x.grad, "\nnumeric:\n", numeric)
print(f"max relative error {rel.max():.2e} -> {verdict(rel.max())}")
# float64 central differences with h = 1e-6: truncation ~h^2 and rounding ~eps/h, about 1e-10 relative
check_array(
    "numerical_gradient",
    numeric,
    x.grad,
    atol=1e-8,
    rtol=1e-7,
    hint="(f(x+h) - f(x-h)) / (2h) for each entry, then put the entry back",
)

# %% [markdown]
# The **relative error** $\dfrac{|a - n|}{\max(|a|, |n|)}$ is used rather than the absolute one
# because gradients span many orders of magnitude: an absolute error of $10^{-6}$ is noise for a
# gradient of $10^{3}$ and a disaster for one of $10^{-6}$. `npgpt.gradcheck.verdict` reads a bare
# relative error with the thresholds of CS231n's gradient-check notes:
#
# | max relative error | `verdict` | what CS231n says |
# |--------------------|---------|---------------|
# | $\le 10^{-7}$ | good | "you should be happy" |
# | $\le 10^{-4}$ | acceptable | "usually okay for objectives with kinks"; for kink-free functions such as tanh and softmax, "1e-4 is too high" |
# | $\le 10^{-2}$ | suspicious | "should make you feel uncomfortable" |
# | $> 10^{-2}$ | wrong | "the gradient is probably wrong" |
#
# So "acceptable" is a word for a function with kinks (section 5), not a pass for `tanh`. Whether a
# check **passes** is a separate rule, applied to every entry: $|a - n| \le \text{atol} + \text{rtol}\,|n|$.
# npgpt's default, printed below, is `rtol=1e-6, atol=1e-7`: about ten times above what a correct float64
# backward reaches, and far below CS231n's "too high" $10^{-4}$, so a backward off by a factor 1.00001
# fails. (For entries whose gradient is tiny, both values below $10^{-6}$, the ratio is mostly rounding
# noise, so `gradcheck` judges them by `atol` alone.) A **report's** word follows its pass rule:
# `report.verdict` is "good" (passed, every relative error $\le 10^{-7}$), "acceptable" (passed) or
# "wrong" (failed), so a report never passes while it reads "suspicious". Every check in this notebook
# uses the library's default rule, and `agrees(report)` asserts that the report's word and the bare
# reading of its relative error do not contradict each other.

# %%
print("npgpt.gradcheck.VERDICTS:", [(f"<= {b:g}", w) for b, w in VERDICTS])
for r in [3e-11, 2e-6, 4e-3, 0.5]:
    print(f"{r:8.0e} -> {verdict(r)}")
defaults = inspect.signature(npgpt.gradcheck).parameters
print(f"gradcheck's defaults: atol={defaults['atol'].default:g}, rtol={defaults['rtol'].default:g}")

TOL = {k: defaults[k].default for k in ("atol", "rtol")}  # the library's default pass rule


def agrees(report):
    # the report's word follows pass/fail, and a pass never reads "suspicious" or "wrong" on the bare scale
    assert (report.verdict in ("good", "acceptable")) == report.ok, f"word and rule disagree:\n{report}"
    assert not (report.ok and verdict(report.max_rel_err) in ("suspicious", "wrong")), (
        f"passed but reads badly:\n{report}"
    )
    return report


# %% [markdown]
# ## 3. `npgpt.gradcheck`
#
# `npgpt.gradcheck(fn, inputs, params=())` does all of the above for every input that requires a
# gradient (and for `params`, e.g. a module's weights), and returns a report: per tensor the number of
# entries checked, the largest absolute and relative errors, where the worst entry is, and the analytic
# and numeric values there.

# %%
logits = npgpt.tensor(rng.standard_normal((2, 5)), requires_grad=True)
print(agrees(npgpt.gradcheck(lambda z: z.softmax(axis=-1), [logits], **TOL)))
print()

# a tiny layer with weights: y = tanh(x * gamma + beta), gamma and beta checked as params
x = npgpt.tensor(rng.standard_normal((3, 6)), requires_grad=True)
gamma = npgpt.tensor(1 + 0.1 * rng.standard_normal(6), requires_grad=True)
beta = npgpt.tensor(0.1 * rng.standard_normal(6), requires_grad=True)
x.name, gamma.name, beta.name = "x", "gamma", "beta"
report = agrees(npgpt.gradcheck(lambda x: (x * gamma + beta).tanh(), [x], params=[gamma, beta], **TOL))
print(report)
assert report.ok, "the backward of tanh(x * gamma + beta) should pass"

# %% [markdown]
# Each entry costs two forward passes, so large inputs are sampled with `max_samples`:

# %%
A = npgpt.tensor(rng.standard_normal((64, 64)), requires_grad=True)
B = npgpt.tensor(rng.standard_normal((64, 64)), requires_grad=True)
t0 = time.perf_counter()
report = agrees(npgpt.gradcheck(lambda a, b: a @ b, [A, B], max_samples=50, **TOL))
print(report)
assert report.ok, "matmul's backward should pass"
print(
    f"{sum(r.checked for r in report.inputs)} of {A.size + B.size} entries checked in {time.perf_counter() - t0:.2f} s"
)

# %% [markdown]
# A larger output also means a larger $|L|$ and so a larger rounding error $\varepsilon |L| / h$: relative
# errors of $10^{-7}$ and more are normal for big tensors and read "acceptable"; where the relative error
# passes $10^{-6}$ above, that entry's gradient is small and its absolute error stays within
# $\text{atol} + \text{rtol}\,|n|$.

# %% [markdown]
# ## 4. Why float64
#
# In float32 the rounding term $\varepsilon |f| / h$ is about $10^{-7} / 10^{-6} = 0.1$: the numerical
# gradient is garbage even for a perfect backward. `gradcheck` therefore refuses float32 inputs
# unless you insist (`allow_float32=True`).
#
# **Predict, then run.** A larger step $h$ shrinks the rounding term $\varepsilon |f| / h$. Is there a
# step in the table below at which the float32 check of `tanh` passes npgpt's rule (`rtol=1e-6`)?

# %%
x64 = npgpt.tensor(rng.standard_normal((4, 5)), requires_grad=True)
x32 = x64.detach().float().requires_grad_()
try:
    npgpt.gradcheck(lambda a: a.tanh(), [x32])
except TypeError as e:
    print("TypeError:", e, "\n")

print(
    f"{'step h':>8} | {'float32 max rel err':>20} {'verdict':>11} {'':6} | {'float64 max rel err':>20} {'verdict':>11}"
)
for h in [1e-6, 1e-4, 1e-3, 1e-2]:
    r32 = agrees(npgpt.gradcheck(lambda a: a.tanh(), [x32], eps=h, allow_float32=True, **TOL))
    r64 = agrees(npgpt.gradcheck(lambda a: a.tanh(), [x64], eps=h, **TOL))
    row32 = f"{r32.max_rel_err:20.2e} {r32.verdict:>11} {'passed' if r32 else 'FAILED'}"
    row64 = f"{r64.max_rel_err:20.2e} {r64.verdict:>11} {'passed' if r64 else 'FAILED'}"
    print(f"{h:8.0e} | {row32} | {row64}")
    assert not r32.ok, "float32 fails the default rule at every step"
    assert r64.ok == (h <= 1e-3), "float64 passes until the truncation error (~h^2) reaches rtol"
    # the float32 error is at least the truncation error the float64 column shows, and above rtol
    assert r32.max_rel_err > TOL["rtol"] and (h < 1e-2 or r32.max_rel_err > 0.5 * r64.max_rel_err)

# %% [markdown]
# None: as $h$ grows, the rounding error falls but the truncation error ($\propto h^2$) rises; the float64
# column shows the truncation alone (it fails at $h = 10^{-2}$, where $h^2 |f'''| / 6$ passes $10^{-6}$).
# In float32 the best step is near $h = 10^{-2}$, as section 1 estimated, but the worst of these 20 entries
# is then near $10^{-4}$, not $10^{-5}$: `tanh`'s $|f'''|$ reaches 2 (against $\sin$'s 0.54 at $x = 1$), the
# rounding error $\varepsilon |L| / h$ is that of the whole sum $L$, and it is divided by each entry's own,
# sometimes small, derivative. That is a hundred times above `rtol`. Under CS231n's loose $10^{-4}$ the
# float32 check at $h = 10^{-2}$ passes on some draws and fails on others (with
# `default_rng(1)` the worst entry is $9.8 \times 10^{-5}$): a coin toss, not a check. The backward of `tanh` is the same in both rows; only the
# *check* fails in float32. That is also why
# the tests of npgpt check gradients in float64 and, separately, check that float32 ops keep float32.
#
# ## 5. Kinks: a mismatch that is not a bug
#
# `relu(x) = max(x, 0)` has no derivative at $0$; npgpt (like PyTorch) uses $0$ there. A central
# difference at $0$ sees slope $0$ on the left and $1$ on the right and returns their average, $0.5$.
# Any input closer to the kink than $h$ straddles it too:

# %%
x = npgpt.tensor(np.array([-1.0, -4e-7, 0.0, 3e-7, 2.0]), requires_grad=True)
x.relu().sum().backward()


def relu_sum():
    with no_grad():
        return float(x.relu().sum().data)


numeric = numerical_gradient(relu_sum, x.data)
for xi, a, n in zip(x.data, x.grad, numeric):
    print(
        f"x = {xi:+.1e}: analytic {a:.2f}, numeric {n:.2f}" + ("   <- within h of the kink" if abs(xi) < 1e-6 else "")
    )
print()
report = agrees(npgpt.gradcheck(lambda a: a.relu(), [x], **TOL))
print(report)
assert not report.ok and np.isclose(numeric[2], 0.5), (
    "inputs within h of the kink fail the check; at 0 the difference is 1/2"
)

# %% [markdown]
# So gradient checks keep their inputs away from kinks (npgpt's own `ReLU` cases move every input at
# least $0.1$ away from $0$). `max` has kinks at **ties**. With two tied maxima, npgpt gives each
# half the gradient, which happens to match the central difference; with three it gives each a third,
# while the central difference still says one half: a mismatch, yet not a bug.

# %%
for values in ([1.0, 3.0, 3.0], [3.0, 3.0, 3.0]):
    x = npgpt.tensor(np.array(values), requires_grad=True)
    x.max().backward()

    def max_of():
        with no_grad():
            return float(x.max().data)

    numeric = numerical_gradient(max_of, x.data)
    print(f"x = {values}: analytic {x.grad}, numeric {numeric}")
    k = values.count(3.0)  # the number of tied maxima
    assert np.allclose(x.grad[np.array(values) == 3.0], 1 / k), "each tied maximum gets 1/k of the gradient"
    assert np.allclose(numeric[np.array(values) == 3.0], 0.5), "the central difference says 1/2 on a tie"


# %% [markdown]
# ## 6. How a planted bug shows up
#
# Below, an op with a correct forward and a backward that forgets the factor 2 of $\frac{d}{dx} x^2 = 2x$.
# The report flags it, and the ratio of analytic to numeric at the worst entry reveals the missing
# factor:


# %%
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
report = agrees(npgpt.gradcheck(SquareMissingTwo.apply, [x], **TOL))
print(report)
worst = report.inputs[0]
print(f"\nverdict: {report.verdict}; analytic / numeric at {worst.worst_index}: {worst.analytic / worst.numeric:.4f}")
assert not report.ok and np.isclose(worst.analytic / worst.numeric, 0.5), "the missing factor 2 should show"


# %% [markdown]
# Some bugs are invisible with an all-ones upstream gradient, i.e. when checking `y.sum()`. This
# backward of $e^x$ uses the *mean* of $g$ instead of $g$ itself, which is the same thing when every
# $g_i = 1$. A checker with $u = \mathbf{1}$ passes it; `gradcheck`'s random $u$ does not:


# %%
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
ones_err = np.max(np.abs(x.grad - n) / np.abs(n))
print(f"check with u = ones: max rel err {ones_err:.1e} (the bug is invisible)")
report = agrees(npgpt.gradcheck(ExpRightOnlyForOnes.apply, [x], **TOL))
print(f"gradcheck, random u: max rel err {report.max_rel_err:.1e} -> {report.verdict}")
assert ones_err < 1e-7 and not report.ok, "only the random upstream gradient should expose this bug"


# %% [markdown]
# A backward that returns a gradient of the **wrong shape** (here: forgetting to sum a broadcast
# input's gradient, the topic of notebook 03) does not even get as far as the comparison: npgpt
# checks every gradient's shape and dtype and names the op.


# %%
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
    raise AssertionError("a gradient of the wrong shape should be refused")
except RuntimeError as e:
    print("RuntimeError:", e)

# %% [markdown]
# ## 7. A measured result: every op of npgpt
#
# Every op in `npgpt/ops/` has a few gradient-check examples (in `npgpt/gradcheck_cases.py`); `npgpt gradcheck` on the
# command line, and `npgpt.commands.gradcheck.check_all_ops()` here, run them all in float64:

# %%
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
bad = [(r.op, r.case, r.verdict) for r in results if not r.ok or r.verdict not in ("good", "acceptable")]
assert not bad, f"every op's gradient check should pass and read good or acceptable: {bad}"

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

# %% [markdown]
# ## Check yourself
#
# 1. Minimise $\frac{h^2}{6}|f'''| + \frac{\varepsilon|f|}{h}$ over $h$. What is the best step, and the
#    best error, for the *forward* difference, whose truncation error is $\frac{h}{2}|f''|$?
#
# <details><summary>Hint</summary>
#
# Forward: minimise $\frac{h}{2}|f''| + \frac{\varepsilon |f|}{h}$, giving $h^\ast = \sqrt{2 \varepsilon |f| / |f''|}$,
# about $10^{-8}$ in float64, and an error near $10^{-8}$: a thousand times worse than central
# differences (compare the curves in section 1).
#
# </details>
#
# 2. Plant a bug in `tanh`'s backward: `g * (1 - y)` instead of `g * (1 - y * y)`. What relative error
#    does `gradcheck` report, and at which inputs is the error largest?
#
# <details><summary>Hint</summary>
#
# Write a `Function` like `SquareMissingTwo` with forward `np.tanh(x)` (save `y`). The ratio of the wrong
# to the right derivative is $(1 - y)/(1 - y^2) = 1/(1 + y)$: close to 1 where $y \approx 0$ and far from 1
# for large $|x|$.
#
# </details>
#
# 3. Why does `gradcheck` draw a random upstream gradient instead of checking `y.sum()`? Find another
#    wrong backward that only a random $u$ exposes.
#
# <details><summary>Hint</summary>
#
# With $u = \mathbf{1}$ only $J^\top \mathbf{1}$, the column sums of $J$, are tested. Any backward that
# depends on $g$ only through `g.sum()` or `g.mean()` passes; so does a backward of `sum(x, axis=0)` that
# returns `np.full(x.shape, g.mean())`.
#
# </details>
#
# 4. What happens to the check of `x.sqrt()` at inputs close to $0$, and how would you choose inputs for
#    it?
#
# <details><summary>Hint</summary>
#
# $\frac{d}{dx}\sqrt{x} = \frac{1}{2\sqrt{x}}$ blows up and $f'''$ is huge near $0$; for $x < h$ the
# difference even evaluates $\sqrt{\text{negative}}$. npgpt's cases draw such inputs from $[0.5, 2)$.
#
# </details>
#
# Assignment `lessons/a02_gradient_checking` has you write this checker yourself: the numerical gradient,
# the relative error, its verdict and `check_gradients`, each graded on its own.

# %% [markdown]
# ## References
#
# - CS231n, *Neural Networks Part 3: gradient checks* (the relative error and what its values mean).
#   <https://cs231n.github.io/neural-networks-3/#gradcheck>
# - Baydin et al., 2018, *Automatic Differentiation in Machine Learning: a Survey*.
#   <https://arxiv.org/abs/1502.05767>
# - Goldberg, 1991, *What Every Computer Scientist Should Know About Floating-Point Arithmetic*
#   (why the step $h$ cannot be made arbitrarily small).
#   <https://docs.oracle.com/cd/E19957-01/806-3568/ncg_goldberg.html>
