"""Assignment 2, REFERENCE SOLUTIONS (instructors: delete this file from the student handout).

``exercises.py`` is this file with the bodies replaced by TODOs. The graders test this file by
default (``pytest lessons/a02_gradient_checking``), which shows the assignment is solvable.

Your checker is graded against ``npgpt.gradcheck``: it must pass correct ops and catch wrong ones.

Background. For a scalar function f and a step h, the central difference

    f'(x) ~ (f(x + h) - f(x - h)) / (2 h)

has truncation error (h^2 / 6) f'''(x), while the one-sided (f(x + h) - f(x)) / h has (h / 2) f''(x):
central differences are far more accurate for the same h. Rounding adds about eps_machine |f| / h,
which is why checks run in float64 (eps_machine ~ 1e-16; in float32 it is ~ 1e-7).
"""

from __future__ import annotations

import numpy as np

from npgpt.autograd import no_grad


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function of an array.

    ``f(x) -> float``; ``x`` a float64 NumPy array of any shape (0-d included). Returns an array of
    x's shape whose entry i is (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), where e_i is 1 at
    entry i and 0 elsewhere. Perturb ``x`` in place (f may hold a reference to it), one entry at a
    time, and put every entry back exactly as it was: ``x`` must be unchanged afterwards.

    Hint: ``flat = x.reshape(-1)`` is a view of a contiguous x, so ``flat[i] = ...`` changes x.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    if not x.flags.c_contiguous:  # reshape would copy, and perturbing the copy would not change x
        raise ValueError("numerical_gradient: x must be C-contiguous (use np.ascontiguousarray)")
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i].item()
        flat[i] = orig + eps
        f_plus = f(x)
        flat[i] = orig - eps
        f_minus = f(x)
        flat[i] = orig
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric, floor=1e-6):
    """Largest relative error between two arrays of one shape, as a float.

    Per entry: |a - n| / max(|a|, |n|), the measure CS231n uses. Entries where max(|a|, |n|) is at
    most ``floor`` count as 0: for gradients that small the finite difference is mostly rounding
    noise (a checker judges them by an absolute tolerance instead). Return 0.0 for empty arrays.
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(a), np.abs(n))
    rel = np.where(scale > floor, np.abs(a - n) / np.maximum(scale, floor), 0.0)
    return float(rel.max())


def verdict(rel_err):
    """What a relative error says about a gradient: a word.

    rel_err <= 1e-7 -> "good"; <= 1e-4 -> "acceptable" (kinks, float noise); <= 1e-2 ->
    "suspicious"; anything larger, and NaN, -> "wrong".
    """
    for bound, word in [(1e-7, "good"), (1e-4, "acceptable"), (1e-2, "suspicious")]:
        if rel_err <= bound:
            return word
    return "wrong"  # also NaN, for which every comparison is False


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
    out = fn(*inputs)
    u = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    checked = [t for t in inputs if getattr(t, "requires_grad", False)]
    for t in checked:
        t.grad = None
    out.backward(u)
    analytic = [t.grad if t.grad is not None else np.zeros_like(t.data) for t in checked]

    def loss(_):
        with no_grad():
            return float((fn(*inputs).data * u).sum())

    return [relative_error(a, numerical_gradient(loss, t.data, eps)) for t, a in zip(checked, analytic)]
