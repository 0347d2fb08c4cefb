"""Assignment 2: gradient checking.  (Notebook: 02_gradient_checking.ipynb)

Build your own gradient checker, then use it on npgpt ops. Fill in every body that raises
``NotImplementedError("TODO ...")``. Grade your work with

    pytest lessons/a02_gradient_checking --lesson-impl=exercises

Your checker is graded against ``npgpt.gradcheck``: it must pass correct ops and catch wrong ones.

Background. For a scalar function f and a step h, the central difference

    f'(x) ~ (f(x + h) - f(x - h)) / (2 h)

has truncation error (h^2 / 6) f'''(x), while the one-sided (f(x + h) - f(x)) / h has (h / 2) f''(x):
central differences are far more accurate for the same h. Rounding adds about eps_machine |f| / h,
which is why checks run in float64 (eps_machine ~ 1e-16; in float32 it is ~ 1e-7).
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (you will need these)

from npgpt.autograd import no_grad  # noqa: F401


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function of an array.

    ``f(x) -> float``; ``x`` a float64 NumPy array of any shape (0-d included). Returns an array of
    x's shape whose entry i is (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), where e_i is 1 at
    entry i and 0 elsewhere. Perturb ``x`` in place (f may hold a reference to it), one entry at a
    time, and put every entry back exactly as it was: ``x`` must be unchanged afterwards.

    Hint: ``flat = x.reshape(-1)`` is a view of a contiguous x, so ``flat[i] = ...`` changes x.
    """
    raise NotImplementedError("TODO: for each entry: f at x_i + eps and x_i - eps, restore x_i, divide by 2 eps")


def relative_error(analytic, numeric, floor=1e-6):
    """Largest relative error between two arrays of one shape, as a float.

    Per entry: |a - n| / max(|a|, |n|), the measure CS231n uses. Entries where max(|a|, |n|) is at
    most ``floor`` count as 0: for gradients that small the finite difference is mostly rounding
    noise (a checker judges them by an absolute tolerance instead). Return 0.0 for empty arrays.
    """
    raise NotImplementedError("TODO: |a - n| / max(|a|, |n|) per entry, 0 where max(|a|, |n|) <= floor; the max")


def verdict(rel_err):
    """What a relative error says about a gradient: a word.

    rel_err <= 1e-7 -> "good"; <= 1e-4 -> "acceptable" (kinks, float noise); <= 1e-2 ->
    "suspicious"; anything larger, and NaN, -> "wrong".
    """
    raise NotImplementedError("TODO: compare rel_err with 1e-7, 1e-4 and 1e-2 in that order; NaN is wrong")


def check_gradients(fn, inputs, eps=1e-6, seed=0):
    """Check the backward of ``fn(*inputs)`` (npgpt tensors in, a tensor out) numerically.

    Returns one ``relative_error`` per input that requires grad, in input order.

    1. out = fn(*inputs); draw a random upstream gradient of out's shape,
       u = np.random.default_rng(seed).standard_normal(out.shape)
       (random, not all ones: some wrong backwards are right only for an all-ones gradient).
    2. Analytic: clear each such input's ``.grad`` (set it to None), call out.backward(u), read
       ``t.grad`` (zeros if it stayed None).
    3. Numeric: the scalar L(inputs) = sum(fn(*inputs).data * u), differentiated by your
       ``numerical_gradient`` with respect to ``t.data`` (evaluate it inside ``with no_grad():``).
    4. relative_error(analytic, numeric).
    """
    raise NotImplementedError("TODO: backward(u) for the analytic gradient, numerical_gradient of sum(fn * u)")
