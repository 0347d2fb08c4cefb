"""Gradient checking: analytic gradients from ``backward`` against central finite differences.

For a scalar L(x) = sum(fn(x) * u), with u a fixed random upstream gradient (so a backward that is
right only for an all-ones gradient fails), the numerical derivative of entry i is

    dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (2 h),

whose error is O(h^2) plus rounding of order eps_machine * |L| / h. In float64 (eps_machine ~ 1e-16)
with h = 1e-6 both are ~1e-10; in float32 (eps_machine ~ 1e-7) rounding alone is ~0.1, which is
why checks run in float64.

Pass rule: every checked entry must satisfy |a - n| <= atol + rtol * |n|. The defaults (rtol=1e-6,
atol=1e-7) sit about ten times above what correct float64 ops and modules reach (relative errors
~1e-7 on entries of order one, absolute noise ~1e-8 on a whole attention block), so a backward off
by a factor 1.00001 fails. Pass looser tolerances only for a reason (a kink near the inputs, a
badly conditioned loss), and say so where you do.

A report's verdict follows the pass rule: "good" (passed, every relative error <= 1e-7),
"acceptable" (passed, some relative error above 1e-7), "wrong" (some entry out of tolerance).
``verdict(rel_err)`` is the usual rule of thumb for reading a bare relative error
|a - n| / max(|a|, |n|) (CS231n's measure): below 1e-7 good; up to 1e-4 acceptable (kinks, float
noise); up to 1e-2 suspicious; above wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .autograd import no_grad
from .backend import get_array_module, to_device
from .tensor import Tensor

VERDICTS = [(1e-7, "good"), (1e-4, "acceptable"), (1e-2, "suspicious"), (float("inf"), "wrong")]
# entries whose gradients are this small are judged by ``atol`` alone: their relative error is
# dominated by rounding noise of the finite difference
_REL_FLOOR = 1e-6


def verdict(rel_err: float) -> str:
    for bound, word in VERDICTS:
        if rel_err <= bound:
            return word
    return "wrong"  # NaN


def _report_verdict(ok: bool, rel_err: float) -> str:
    """A report's word: it never reads better or worse than the pass rule says."""
    if not ok:
        return "wrong"
    return "good" if rel_err <= VERDICTS[0][0] else "acceptable"


@dataclass
class InputReport:
    """Comparison for one tensor: worst absolute and relative error and where they occur."""

    name: str
    shape: tuple
    checked: int
    max_abs_err: float
    max_rel_err: float
    worst_index: tuple
    analytic: float
    numeric: float
    ok: bool

    @property
    def verdict(self):
        return _report_verdict(self.ok, self.max_rel_err)


@dataclass
class GradcheckReport:
    """What ``gradcheck`` found; ``ok`` is True when every input is within tolerance."""

    inputs: list = field(default_factory=list)
    atol: float = 0.0
    rtol: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.inputs)

    @property
    def max_rel_err(self) -> float:
        return max((r.max_rel_err for r in self.inputs), default=0.0)

    @property
    def verdict(self) -> str:
        return _report_verdict(self.ok, self.max_rel_err)

    def __bool__(self):
        return self.ok

    def __str__(self):
        head = f"{'input':<14}{'shape':<16}{'checked':>8}{'max abs err':>13}{'max rel err':>13}  {'worst index':<14}{'analytic':>12}{'numeric':>12}  verdict"
        rows = [head, "-" * len(head)]
        for r in self.inputs:
            rows.append(
                f"{r.name:<14.14}{str(r.shape):<16.16}{r.checked:>8}{r.max_abs_err:>13.2e}{r.max_rel_err:>13.2e}  "
                f"{str(r.worst_index):<14.14}{r.analytic:>12.4e}{r.numeric:>12.4e}  {r.verdict}"
            )
        rule = f"|analytic - numeric| <= atol + rtol * |numeric|, atol={self.atol:g}, rtol={self.rtol:g}"
        rows.append(f"gradcheck {'passed' if self.ok else 'FAILED'} ({rule})")
        return "\n".join(rows)

    __repr__ = __str__


def gradcheck(
    fn,
    inputs,
    params=(),
    eps=1e-6,
    atol=1e-7,
    rtol=1e-6,
    seed=0,
    max_samples=None,
    allow_float32=False,
    raise_on_fail=False,
) -> GradcheckReport:
    """Check ``fn(*inputs)``'s gradients w.r.t. every input (and ``params``) that requires grad.

    ``fn`` returns a tensor; ``inputs`` are passed to it; ``params`` are further tensors it uses
    (a module's parameters). An entry passes if |analytic - numeric| <= atol + rtol * |numeric|
    (defaults: see the module docstring; a scaling error of 1e-5 fails).
    ``max_samples`` checks at most that many random entries per tensor (for large inputs).
    Float32 inputs are refused unless ``allow_float32=True`` (finite differences are too coarse).
    Existing ``.grad`` values are restored afterwards.
    """
    inputs = list(inputs)
    tensors = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad] + list(params)
    if not tensors:
        raise ValueError("gradcheck: no input requires grad, there is nothing to check")
    for t in tensors:
        if t.dtype != np.float64 and not allow_float32:
            raise TypeError(
                f"gradcheck: an input has dtype {t.dtype}; finite differences need float64 "
                "(convert with .double(), or pass allow_float32=True to check coarsely anyway)"
            )
    rng = np.random.default_rng(seed)
    saved_grads = [t.grad for t in tensors]

    out = fn(*inputs)
    xp = get_array_module(out.data)
    u = xp.asarray(rng.standard_normal(out.shape).astype(out.dtype))
    for t in tensors:
        t.grad = None
    out.backward(u)
    analytic = [t.grad if t.grad is not None else xp.zeros_like(t.data) for t in tensors]

    def loss():
        with no_grad():
            return float((fn(*inputs).data * u).sum())

    report = GradcheckReport(atol=atol, rtol=rtol)
    for k, (t, a) in enumerate(zip(tensors, analytic)):
        if not t.data.flags.c_contiguous:
            t.data = get_array_module(t.data).ascontiguousarray(t.data)
        flat = t.data.reshape(-1)  # a view: perturbing it perturbs t
        n = flat.size
        idx = (
            np.arange(n)
            if max_samples is None or n <= max_samples
            else np.sort(rng.choice(n, max_samples, replace=False))
        )
        num = np.empty(len(idx))
        for j, i in enumerate(idx):
            orig = flat[i].item()
            flat[i] = orig + eps
            fp = loss()
            flat[i] = orig - eps
            fm = loss()
            flat[i] = orig
            num[j] = (fp - fm) / (2 * eps)
        ana = to_device(a, "cpu").reshape(-1)[idx].astype(np.float64)
        abs_err = np.abs(ana - num)
        scale = np.maximum(np.abs(ana), np.abs(num))
        rel_err = np.where(scale > _REL_FLOOR, abs_err / np.maximum(scale, _REL_FLOOR), 0.0)
        ok = bool(np.all(abs_err <= atol + rtol * np.abs(num)))
        w = int(np.argmax(abs_err - (atol + rtol * np.abs(num)))) if not ok else int(np.argmax(rel_err))
        name = getattr(t, "name", None) or f"input {k}"
        report.inputs.append(
            InputReport(
                name,
                tuple(t.shape),
                len(idx),
                float(abs_err.max(initial=0)),
                float(rel_err.max(initial=0)),
                tuple(int(v) for v in np.unravel_index(idx[w], t.shape)) if t.shape else (),
                float(ana[w]) if len(idx) else 0.0,
                float(num[w]) if len(idx) else 0.0,
                ok,
            )
        )
    for t, g in zip(tensors, saved_grads):
        t.grad = g
    if raise_on_fail and not report.ok:
        raise AssertionError(f"gradcheck failed:\n{report}")
    return report
