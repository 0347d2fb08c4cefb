"""Gradient-check every registered op: the engine of ``npgpt gradcheck``.

The op list is not written down anywhere: it is every ``Function`` subclass in ``npgpt.ops``
(found through the class hierarchy), each checked on its examples in ``npgpt.gradcheck_cases``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import xp_for_device
from ..gradcheck import gradcheck
from ..gradcheck_cases import all_functions, cases_for, uncovered_ops
from ..tensor import Tensor


@dataclass
class OpResult:
    op: str
    case: str
    shapes: str
    max_rel_err: float
    verdict: str
    ok: bool


def check_all_ops(device="cpu", seed=0, only=None):
    """Run ``gradcheck`` in float64 on every case of every op; yields one ``OpResult`` per case."""
    xp = xp_for_device(device)
    for fn_cls in all_functions():
        if only and fn_cls.__name__.lower() not in only:
            continue
        for case in cases_for(fn_cls):
            arrays = case.make(xp, np.float64, np.random.default_rng(seed))
            inputs = [Tensor(a, requires_grad=True) for a in arrays]
            report = gradcheck(case.fn, inputs, seed=seed)
            shapes = " ".join(str(tuple(a.shape)).replace(" ", "") for a in arrays)
            yield OpResult(fn_cls.__name__, case.name, shapes, report.max_rel_err, report.verdict, report.ok)


def main(args) -> int:
    only = {s.lower() for s in args.op} if args.op else None
    header = f"{'op':<28}{'case':<22}{'shapes':<34}{'max rel err':>12}  verdict"
    print(header)
    print("-" * len(header))
    n_fail = n = 0
    ops = set()
    for r in check_all_ops(device=args.device, only=only):
        n += 1
        ops.add(r.op)
        n_fail += not r.ok
        print(
            f"{r.op:<28.28}{r.case:<22.22}{r.shapes:<34.34}{r.max_rel_err:>12.2e}  {r.verdict}{'' if r.ok else '  FAIL'}"
        )
    print("-" * len(header))
    print(f"{len(ops)} ops, {n} cases, {n_fail} failed (float64, central differences, random upstream gradient)")
    rest = uncovered_ops()
    if rest and not only:
        print(f"checked by dedicated tests instead: {', '.join(rest)}")
    return 1 if n_fail or n == 0 else 0


def add_parser(sub):
    p = sub.add_parser("gradcheck", help="gradient-check every differentiable op against finite differences")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--op", nargs="*", help="only these ops (class names, case-insensitive)")
    p.set_defaults(func=main)
