"""Asking a model questions: batched generation that stops at ``<|end|>``, and task accuracy."""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..backend import to_device
from ..data import DataError
from .data import read_questions, shipped
from .tasks import grade
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


def accuracy(model, tokenizer, questions, max_new_tokens=60):
    """{"correct": fraction exactly right, "format": fraction in format and stopped, "tasks": {...}}."""
    replies = reply_texts(model, tokenizer, [q for _, q, _ in questions], max_new_tokens, temperature=0.0)
    per_task = {}
    for (task, _, gold), (reply, stopped) in zip(questions, replies):
        c, f = grade(task, reply, gold, stopped)
        per_task.setdefault(task or "other", []).append((c, f))
    rows = [r for v in per_task.values() for r in v]
    return {
        "correct": float(np.mean([c for c, _ in rows])),
        "format": float(np.mean([f for _, f in rows])),
        "tasks": {t: float(np.mean([c for c, _ in v])) for t, v in per_task.items()},
        "n": len(rows),
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
    log(f"held-out: {acc['correct']:.1%} correct, {acc['format']:.1%} in format and stopped ({acc['n']} questions)")
    return acc
