"""Asking a model questions: batched generation that stops at ``<|end|>``, and task accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..autograd import no_grad
from ..backend import to_device
from .tasks import grade, task_of
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


def load_questions(path, limit=None):
    """[(task, prompt messages, gold answer)] from a chat JSONL file (the last message is the answer)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            msgs = r["messages"]
            out.append((r.get("task") or task_of(msgs[0]["content"]), msgs[:-1], msgs[-1]["content"]))
    if limit and limit < len(out):  # evenly spread over the file, so every task is represented
        out = [out[i * len(out) // limit] for i in range(limit)]
    return out


def accuracy(model, tokenizer, questions, max_new_tokens=60):
    """{"correct": fraction exactly right, "format": fraction in format and stopped, "tasks": {...}}."""
    replies = reply_texts(model, tokenizer, [q for _, q, _ in questions], max_new_tokens, temperature=0.0)
    per_task = {}
    for (task, _, gold), (reply, stopped) in zip(questions, replies):
        c, f = grade(task, reply, gold, stopped)
        per_task.setdefault(task, []).append((c, f))
    rows = [r for v in per_task.values() for r in v]
    return {
        "correct": float(np.mean([c for c, _ in rows])),
        "format": float(np.mean([f for _, f in rows])),
        "tasks": {t: float(np.mean([c for c, _ in v])) for t, v in per_task.items()},
        "n": len(rows),
    }
