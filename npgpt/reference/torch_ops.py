"""PyTorch versions of npgpt ops whose few lines would answer a classroom task.

``npgpt.gradcheck_cases`` cross-checks RoPE (task 8.3) and the DPO loss (task 15.3) against these
(``tests/test_torch_ops.py`` runs them). They live here rather than beside the cases because a
student handout (``python -m lessons.release``) leaves ``npgpt/reference`` out. Each function takes
the torch module ``t`` first, so importing this module does not import torch.
"""

from __future__ import annotations


def rope(t, x, cos, sin):
    """x (..., T, D) rotated by RoPE with tables cos, sin (T, D): the GPT-NeoX / LLaMA pairing of
    feature i with feature i + D/2, written as x * cos + rotate_half(x) * sin."""
    h = x.shape[-1] // 2
    return x * cos + t.cat([-x[..., h:], x[..., :h]], -1) * sin


def dpo_loss(t, pc, pr, rc, rr, beta=0.5):
    """-mean(log sigmoid(beta * ((pc - rc) - (pr - rr)))) for policy/reference log-probs of the
    chosen (pc, rc) and rejected (pr, rr) answers (Rafailov et al. 2023)."""
    return -t.nn.functional.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()
