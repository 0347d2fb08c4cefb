"""Asking a model questions: batched generation that stops at ``<|end|>``, and task accuracy.

``accuracy``: greedy replies (pass@1 greedy), each sorted into correct / abstained / wrong
(``tasks.outcome``), with the rate of replies in format, overall and per task.
``pass_at_k``: the unbiased estimator of the chance that at least one of k sampled replies is
correct, from n >= k samples of which c are correct (Chen et al., 2021, the Codex paper);
``sampled_pass_at_k`` measures it on the held-out questions.
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..backend import to_device
from ..data import DataError
from ..settings import NON_NEGATIVE_INT, POSITIVE_INT
from .data import read_questions, shipped
from .tasks import ABSTAINED, CORRECT, WRONG, grade, outcome
from .template import END, chat_token_ids, render


def sample_batch(model, prompts, max_new_tokens, end_id, temperature=0.0, top_k=None, top_p=None, rng=None):
    """Replies to equal-length prompts (B, P): (ids (B, N), lengths (B,), stopped (B,)).

    Row b's reply is ids[b, :lengths[b]], ending with ``end_id`` when stopped[b]; after it the row
    holds ``end_id`` as padding. Generation ends when every row has stopped, after
    ``max_new_tokens``, or when the context is full (prompt + reply = block_size tokens).
    """
    B, P = prompts.shape
    n = max(0, min(max_new_tokens, model.config.block_size - P))
    ids = np.full((B, n), end_id, dtype=np.int64)
    stopped = np.zeros(B, dtype=bool)
    lengths = np.zeros(B, dtype=np.int64)
    steps = model.generate_stream(prompts, n, temperature=temperature, top_k=top_k, top_p=top_p, rng=rng)
    for t, nxt in enumerate(steps):
        nxt = to_device(nxt, "cpu")  # (B,) ids to the host: the loop decides there when to stop
        live = ~stopped
        ids[live, t] = nxt[live]
        lengths[live] += 1
        stopped |= live & (nxt == end_id)
        if stopped.all():
            break
    return ids, lengths, stopped


def reply_texts(model, tokenizer, conversations, max_new_tokens=60, **sampling):
    """[(reply text, stopped)] for each conversation (a list of messages to answer).

    Prompts of the same token length run as one batch (no padding needed), so this is exact and
    as fast as batched generation.
    """
    end = chat_token_ids(tokenizer)[END]
    prompts = [render(m, tokenizer, add_generation_prompt=True)[0] for m in conversations]
    out = [None] * len(prompts)
    by_len = {}
    for i, p in enumerate(prompts):
        by_len.setdefault(len(p), []).append(i)
    with no_grad():
        for _, idx in sorted(by_len.items()):
            batch = np.array([prompts[i] for i in idx], dtype=np.int64)
            ids, lengths, stopped = sample_batch(model, batch, max_new_tokens, end, **sampling)
            for row, i in enumerate(idx):
                reply = ids[row, : lengths[row] - int(stopped[row])]
                out[i] = (tokenizer.decode([int(t) for t in reply]), bool(stopped[row]))
    return out


def load_questions(path, limit=None, tokenizer=None):
    """[(task, prompt messages, gold answer)] from a chat JSONL file (``data.read_questions``).

    ``limit``: that many, evenly spread over the file, so every task is represented. With a
    ``tokenizer``, every prompt must encode with it (a one-line error names the line otherwise).
    """
    rows = read_questions(path)
    if limit and limit < len(rows):
        rows = [rows[i * len(rows) // limit] for i in range(limit)]
    if tokenizer is not None:
        for n, (_, prompt, _) in rows:
            try:
                render(prompt, tokenizer, add_generation_prompt=True)
            except DataError as e:
                raise DataError(f"{path}:{n}: {e}") from None
    return [q for _, q in rows]


def rates(graded) -> dict:
    """{"correct", "abstained", "wrong", "format"}: fractions of ``graded`` [(outcome, in format)]."""
    n = max(len(graded), 1)
    out = {k: sum(o == k for o, _ in graded) / n for k in (CORRECT, ABSTAINED, WRONG)}
    return {**out, "format": sum(f for _, f in graded) / n}


def grade_replies(questions, replies) -> list:
    """[(outcome, in format)] of each (reply, stopped) to its question; "I don't know." is in format."""
    out = []
    for (task, _, gold), (reply, stopped) in zip(questions, replies):
        o = outcome(task, reply, gold, stopped)
        out.append((o, o == ABSTAINED or grade(task, reply, gold, stopped)[1]))
    return out


def accuracy(model, tokenizer, questions, max_new_tokens=60):
    """Greedy replies graded: {"correct", "abstained", "wrong", "format", "n", "tasks", "per_task"}.

    "correct" is an exact answer that ended its turn; "format" a reply of the task's shape (or the
    abstention) that ended its turn. "tasks" maps each task to its correct rate, "per_task" to all
    four rates.
    """
    replies = reply_texts(model, tokenizer, [q for _, q, _ in questions], max_new_tokens, temperature=0.0)
    graded = grade_replies(questions, replies)
    by_task = {}
    for (task, _, _), g in zip(questions, graded):
        by_task.setdefault(task or "other", []).append(g)
    per_task = {t: rates(v) for t, v in by_task.items()}
    return {
        **rates(graded),
        "n": len(graded),
        "tasks": {t: r[CORRECT] for t, r in per_task.items()},
        "per_task": per_task,
    }


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from n samples with c correct: 1 - C(n - c, k) / C(n, k).

    The chance that k replies drawn without replacement from the n include a correct one. Written
    as a product, 1 - prod_{i = n - c + 1}^{n} (1 - k / i), to stay exact for large n (Chen et
    al., 2021). Needs 0 <= c <= n and 1 <= k <= n.
    """
    POSITIVE_INT.check("k", k)
    NON_NEGATIVE_INT.check("c", c)
    if not (c <= n and k <= n):
        raise ValueError(f"pass@k needs c <= n and k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def sampled_pass_at_k(model, tokenizer, questions, n=8, k=4, temperature=1.0, seed=0, max_new_tokens=60) -> dict:
    """pass@1 and pass@k from ``n`` replies sampled per question: {"pass@1", f"pass@{k}", "tasks"}.

    "tasks" maps each task to its {"pass@1", f"pass@{k}"}; every number is a mean over questions of
    ``pass_at_k`` (pass@1 = the fraction of the samples that are correct).
    """
    rng = np.random.default_rng(seed)
    convs = [q for _, q, _ in questions for _ in range(n)]
    replies = reply_texts(model, tokenizer, convs, max_new_tokens, temperature=temperature, rng=rng)
    by_task = {}
    for i, (task, prompt, gold) in enumerate(questions):
        c = sum(o == CORRECT for o, _ in grade_replies([(task, prompt, gold)] * n, replies[i * n : (i + 1) * n]))
        by_task.setdefault(task or "other", []).append((pass_at_k(n, c, 1), pass_at_k(n, c, k)))
    keys = ("pass@1", f"pass@{k}")
    every = [v for vs in by_task.values() for v in vs]
    return {
        **{key: float(np.mean([v[j] for v in every])) for j, key in enumerate(keys)},
        "tasks": {
            t: {key: float(np.mean([v[j] for v in vs])) for j, key in enumerate(keys)} for t, vs in by_task.items()
        },
    }


def val_questions(settings, tokenizer) -> list:
    """The held-out questions a stage grades at the end (``settings.val_data``, at most
    ``settings.eval_questions``; none for 0), read and checked before training starts."""
    if settings.eval_questions == 0:
        return []
    path = shipped("chat_val") if settings.val_data == "shipped" else settings.val_data
    return load_questions(path, settings.eval_questions, tokenizer)


def held_out(model, tokenizer, questions, log=print) -> dict:
    """``accuracy`` of ``model`` on ``questions`` (greedy replies), said in one line."""
    model.eval()
    acc = accuracy(model, tokenizer, questions)
    log(
        f"held-out: {acc['correct']:.1%} correct, {acc['abstained']:.1%} abstained, {acc['wrong']:.1%} wrong, "
        f"{acc['format']:.1%} in format and stopped ({acc['n']} questions)"
    )
    return acc
