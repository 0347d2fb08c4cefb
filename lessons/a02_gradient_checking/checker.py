"""Assignment 2: a gradient checker of your own (notebook 02, sections 1, 2 and 6).

Four pieces, each graded on its own: ``numerical_gradient`` (finite differences of a scalar
function of an array), ``relative_error`` (how far two gradients are apart), ``verdict`` (what that
number says) and ``check_gradients`` (the three put together on npgpt tensors: backward against
finite differences, for a random upstream gradient).

### BEGIN SOLUTION 2.1
Background. For a scalar function f and a step h, the central difference

    f'(x) ~ (f(x + h) - f(x - h)) / (2 h)

has truncation error (h^2 / 6) f'''(x), while the one-sided (f(x + h) - f(x)) / h has (h / 2) f''(x):
central differences are far more accurate for the same h. Rounding adds about eps_machine |f| / h,
which is why checks run in float64 (eps_machine ~ 1e-16; in float32 it is ~ 1e-7).
### END SOLUTION 2.1
"""

from __future__ import annotations

import numpy as np

from npgpt.autograd import no_grad


def numerical_gradient(f, x, eps=1e-6):
    """The central-difference estimate of the gradient of a scalar function of an array.

    ``f(x) -> float``; ``x`` a C-contiguous float64 NumPy array of any shape (0-d included); ``eps``
    the step. Returns an array of x's shape. ``x`` itself is perturbed, in place, one entry at a
    time (``f`` may read x through a closure rather than through its argument), and every entry is
    put back exactly as it was: ``x`` is unchanged afterwards.

    ### BEGIN SOLUTION 2.1
    Entry i is (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), e_i being 1 at entry i and 0 elsewhere.
    ``flat = x.reshape(-1)`` is a view of a contiguous x, so ``flat[i] = ...`` changes x.
    ### END SOLUTION 2.1
    """
    if not x.flags.c_contiguous:  # reshape would copy, and perturbing the copy would not change x
        raise ValueError("numerical_gradient: x must be C-contiguous (use np.ascontiguousarray)")
    grad = np.zeros(x.shape, dtype=np.float64)
    ### BEGIN SOLUTION 2.1
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i].item()
        flat[i] = orig + eps
        f_plus = f(x)
        flat[i] = orig - eps
        f_minus = f(x)
        flat[i] = orig  # exactly as it was
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    ### END SOLUTION 2.1
    return grad


def relative_error(analytic, numeric, floor=1e-6):
    """The largest relative error between two arrays of one shape, as a Python float.

    Per entry, the relative error of notebook 02, section 2 (CS231n's measure, symmetric in its two
    arguments); an entry whose two values are both at most ``floor`` in magnitude counts as 0 (for
    gradients that small a finite difference is mostly rounding noise). 0.0 for empty arrays.

    ### BEGIN SOLUTION 2.2
    Per entry |a - n| / max(|a|, |n|), 0 where max(|a|, |n|) <= floor; the largest of them.
    ### END SOLUTION 2.2
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    ### BEGIN SOLUTION 2.2
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(a), np.abs(n))
    rel = np.where(scale > floor, np.abs(a - n) / np.maximum(scale, floor), 0.0)
    return float(rel.max())
    ### END SOLUTION 2.2


def verdict(rel_err):
    """What a relative error says about a gradient: "good", "acceptable", "suspicious" or "wrong",
    by the table of notebook 02, section 2 (each bound belongs to the better word); NaN is "wrong".

    ### BEGIN SOLUTION 2.3
    rel_err <= 1e-7: good; <= 1e-4: acceptable (kinks, float noise); <= 1e-2: suspicious; anything
    larger, and NaN: wrong.
    ### END SOLUTION 2.3
    """
    ### BEGIN SOLUTION 2.3
    for bound, word in [(1e-7, "good"), (1e-4, "acceptable"), (1e-2, "suspicious")]:
        if rel_err <= bound:
            return word
    return "wrong"  # also NaN, for which every comparison is False
    ### END SOLUTION 2.3


def check_gradients(fn, inputs, eps=1e-6, seed=0):
    """Check the backward of ``fn(*inputs)`` (npgpt float64 tensors in, a tensor out) numerically.

    Returns a list of floats: for each input that requires grad, in input order, the
    ``relative_error`` between the gradient backward computes and the one ``numerical_gradient``
    finds (step ``eps``) for the upstream gradient

        u = np.random.default_rng(seed).standard_normal(out.shape)

    (random, not all ones: notebook 02, section 6). Call this module's ``numerical_gradient`` and
    ``relative_error`` by those names. A ``.grad`` an input holds from before must not count, and
    the inputs' data end exactly as they began.

    ### BEGIN SOLUTION 2.4
    1. out = fn(*inputs) and u as above.
    2. Analytic: set each checked input's ``.grad`` to None, call out.backward(u), read ``t.grad``
       (zeros if it stayed None: the output does not depend on that input).
    3. Numeric: the scalar L = sum(fn(*inputs).data * u), evaluated inside ``with no_grad():``,
       differentiated by ``numerical_gradient`` with respect to ``t.data``: backward computes
       J^T u, and dL/dx is exactly that.
    4. relative_error(analytic, numeric) per checked input.
    ### END SOLUTION 2.4
    """
    ### BEGIN SOLUTION 2.4
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
    ### END SOLUTION 2.4
