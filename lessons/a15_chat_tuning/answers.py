"""The instructor's reference rules of assignment 15 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``).

The DPO loss is task 15.3, so its backward's expected gradients (central differences of it, in
float64) are recorded too.
"""

import numpy as np

from lessons.finite_differences import numerical_vjp
from npgpt.chat.data import IGNORE_INDEX
from npgpt.chat.template import CHAT_TOKENS
from npgpt.tokenizers import CharTokenizer

TOK = CharTokenizer.from_text("abcdefghijklmnopqrstuvwxyz ?!.").with_special_tokens(list(CHAT_TOKENS))


def mask_reference(messages):
    """Learn the assistant's content and its <|end|>, nothing else."""
    out = []
    for m in messages:
        n = len(TOK.encode(m["content"]))
        learn = m["role"] == "assistant"
        out += [False] + [learn] * n + [learn]
    return out


def targets_reference(exs):
    T = max(len(i) for i, _ in exs) - 1
    y = np.full((len(exs), T), IGNORE_INDEX)
    for b, (ids, mask) in enumerate(exs):
        for t in range(len(ids) - 1):  # input ids[t] predicts ids[t + 1]
            if mask[t + 1]:
                y[b, t] = ids[t + 1]
    return y


def sft_loss_reference(logits, y):
    """The mean of -log softmax(logits)[target] over the positions whose target is not IGNORE_INDEX."""
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.mean([logp[b, t, y[b, t]] for b, t in zip(*np.nonzero(y != IGNORE_INDEX))])


def dpo_reference(pc, pr, rc, rr, beta):
    margin = (pc - rc) - (pr - rr)
    return np.mean(np.logaddexp(0.0, -beta * margin))  # -log sigmoid(beta * margin), stable


def dpo_saved_reference(pc, pr, rc, rr, beta):
    """What the DPO forward saves: z = beta * margin."""
    return beta * (pc - rc - pr + rr)


def dpo_vjp_reference(args, k, g, beta):
    """d(g * loss)/d args[k] by central differences."""

    def f(v):
        a = list(args)
        a[k] = v
        return dpo_reference(*a, beta)

    return numerical_vjp(f, args[k], g)
