"""Chat data: JSONL files of conversations and preference pairs, checked line by line, and batching.

Conversations (for SFT), one JSON object a line::

    {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}

Preference pairs (for the reward model and DPO), TRL's shape::

    {"prompt": "...", "chosen": "...", "rejected": "..."}

``prompt`` may also be a list of messages, and ``chosen`` / ``rejected`` a list holding one
assistant message. Every problem is one line naming the file and line number.

Batching: conversations have different lengths, so each batch is padded on the right to its
longest member. The model is causal, so pads after a sequence cannot change what it computes for
the real tokens, and their targets are ``ignore_index``: they add nothing to the loss or the
gradient (a test holds this).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checkpoint import rng_state
from ..data import DataError
from .tasks import TASKS, task_of
from .template import ROLES, render

IGNORE_INDEX = -100
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def shipped(name) -> Path:
    """Path of a shipped chat file: chat_train, chat_val, chat_rl, prefs_train, prefs_val (.jsonl)."""
    return DATA_DIR / f"{name}.jsonl"


@dataclass
class Pair:
    """One preference: the prompt (messages) and two replies, the chosen better than the rejected."""

    prompt: list
    chosen: str
    rejected: str
    line: int = 0


def _records(path):
    """(line number, parsed object) for each non-blank line; a bad line is a one-line DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno})") from None
        except RecursionError:
            raise DataError(f"{path}:{n}: not a record (its JSON is nested too deeply)") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
        yield n, obj


def check_messages(messages, where, need_assistant=True):
    """Raise a DataError (prefixed with ``where``) unless ``messages`` is a valid conversation."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: 'messages' must be a non-empty list")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or "role" not in m:
            raise DataError(f"{where}: each message needs a 'role' and a string 'content', got {m!r:.80}")
        if m["role"] not in ROLES:
            raise DataError(f"{where}: unknown role {m['role']!r} (expected one of {', '.join(ROLES)})")
    if need_assistant and not any(m["role"] == "assistant" for m in messages):
        raise DataError(f"{where}: the conversation has no assistant turn, so there is nothing to learn")
    return messages


def _messages(obj, where, need_assistant=True):
    if "messages" not in obj:
        keys = ", ".join(map(str, obj)) or "none"
        raise DataError(f"{where}: no 'messages' key (keys: {keys:.80})")
    return check_messages(obj["messages"], where, need_assistant)


def check_prompt(messages, where):
    """A prompt to answer: it has a user turn and does not end with the assistant's."""
    if not any(m["role"] == "user" for m in messages):
        raise DataError(f"{where}: the prompt has no user turn, so there is no question to answer")
    if messages[-1]["role"] == "assistant":
        raise DataError(f"{where}: the prompt ends with an assistant turn; it must end with the user's")


def load_conversations(path) -> list:
    """[(line, messages)] from a JSONL file of ``{"messages": [...]}`` objects."""
    out = [(n, _messages(obj, f"{path}:{n}", need_assistant=True)) for n, obj in _records(path)]
    if not out:
        raise DataError(f"{path}: no conversations in the file")
    return out


def read_questions(path) -> list:
    """[(line, (task, prompt messages, gold answer))] from a chat JSONL file.

    Each conversation ends with the assistant's answer (the gold one), after a prompt with a user
    turn. ``task`` is the record's ``"task"``, else the task its first user message's prefix names
    (None: graded on the exact answer alone).
    """
    out = []
    for n, obj in _records(path):
        where = f"{path}:{n}"
        messages = _messages(obj, where)
        if messages[-1]["role"] != "assistant":
            raise DataError(f"{where}: a question must end with the assistant's answer (the gold answer to grade by)")
        check_prompt(messages[:-1] or messages, where)
        task = obj.get("task")
        if task is not None and task not in TASKS:
            raise DataError(f"{where}: unknown task {task!r} (expected one of {', '.join(TASKS)})")
        first_user = next(m["content"] for m in messages if m["role"] == "user")
        out.append((n, (task or task_of(first_user), messages[:-1], messages[-1]["content"])))
    if not out:
        raise DataError(f"{path}: no questions in the file")
    return out


def _reply(value, where, key):
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0].get("content")
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: empty preference pair: '{key}' must be a non-empty string")
    return value


def load_preferences(path) -> list:
    """[Pair] from a JSONL file of ``{"prompt", "chosen", "rejected"}`` objects."""
    out = []
    for n, obj in _records(path):
        where = f"{path}:{n}"
        missing = [k for k in ("prompt", "chosen", "rejected") if k not in obj]
        if missing:
            raise DataError(f"{where}: a preference pair needs {', '.join(missing)}")
        prompt = obj["prompt"]
        if isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
        check_messages(prompt, where, need_assistant=False)
        check_prompt(prompt, where)
        chosen, rejected = _reply(obj["chosen"], where, "chosen"), _reply(obj["rejected"], where, "rejected")
        if chosen == rejected:
            raise DataError(f"{where}: 'chosen' and 'rejected' are the same reply, so nothing is preferred")
        out.append(Pair(prompt, chosen, rejected, n))
    if not out:
        raise DataError(f"{path}: no preference pairs in the file")
    return out


def encode_all(conversations, tokenizer, block_size, path="data"):
    """[(ids, mask)] of each conversation; one longer than the context is a one-line error.

    A conversation of L tokens is trained as L - 1 inputs predicting L - 1 targets, so it fits
    when L - 1 <= block_size.
    """
    out = []
    for n, messages in conversations:
        try:
            ids, mask = render(messages, tokenizer)
        except DataError as e:
            raise DataError(f"{path}:{n}: {e}") from None
        if len(ids) - 1 > block_size:
            raise DataError(
                f"{path}:{n}: the conversation is {len(ids)} tokens, longer than the model's context "
                f"({block_size} + 1); shorten it or drop it"
            )
        out.append((ids, mask))
    return out


def pad_batch(examples, pad_id=0):
    """Inputs and targets of a batch of (ids, mask) examples, padded on the right.

    Returns x (B, T) int64 = ids[:-1] padded with ``pad_id``, and y (B, T) = ids[1:] where the
    mask of that target is True, else ``IGNORE_INDEX`` (prompt, template and padding), with
    T = the longest length - 1. ``cross_entropy(logits, y)`` is then the SFT loss.
    """
    T = max(len(ids) for ids, _ in examples) - 1
    x = np.full((len(examples), T), pad_id, dtype=np.int64)
    y = np.full((len(examples), T), IGNORE_INDEX, dtype=np.int64)
    for b, (ids, mask) in enumerate(examples):
        ids = np.asarray(ids)
        x[b, : len(ids) - 1] = ids[:-1]
        ### BEGIN SOLUTION 15.2
        keep = np.asarray(mask[1:], dtype=bool)
        y[b, : len(ids) - 1] = np.where(keep, ids[1:], IGNORE_INDEX)
        ### END SOLUTION 15.2
    return x, y


def pair_examples(pairs, tokenizer, block_size, path="pairs"):
    """(chosen examples, rejected examples): (ids, mask) with the mask on the reply only."""
    chosen, rejected = [], []
    for p in pairs:
        for reply, out in ((p.chosen, chosen), (p.rejected, rejected)):
            conv = [(p.line, p.prompt + [{"role": "assistant", "content": reply}])]
            out.extend(encode_all(conv, tokenizer, block_size, path))
    return chosen, rejected


class Batches:
    """Index arrays covering range(n) in a random order, ``batch_size`` at a time, for ever.

    Each pass is one permutation drawn from ``rng`` (a short last batch is dropped). ``next(b)``
    is the next batch. ``state_dict()`` is where it stands (the generator's state before this
    pass's permutation and the position in it), so a resumed run draws the same batches as one
    that never stopped.
    """

    def __init__(self, n, batch_size, rng):
        self.n, self.batch_size, self.rng = n, min(batch_size, n), rng
        self._new_pass()

    def _new_pass(self):
        self.pass_start, self.pos = rng_state(self.rng), 0
        self.order = self.rng.permutation(self.n)

    def __iter__(self):
        return self

    def __next__(self):
        if self.pos + self.batch_size > self.n:
            self._new_pass()
        self.pos += self.batch_size
        return self.order[self.pos - self.batch_size : self.pos]

    def state_dict(self) -> dict:
        return {"pass_start": self.pass_start, "pos": self.pos}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["pass_start"]
        self._new_pass()
        self.pos = state["pos"]


def batches(n, batch_size, rng):
    """``Batches(n, batch_size, rng)``: random index batches over range(n), for ever."""
    return Batches(n, batch_size, rng)


def pad_ids(examples, pad_id=0):
    """Whole sequences padded on the right: ids (B, T) and ``last`` (B,), each one's last index."""
    T = max(len(ids) for ids, _ in examples)
    out = np.full((len(examples), T), pad_id, dtype=np.int64)
    for b, (ids, _) in enumerate(examples):
        out[b, : len(ids)] = ids
    return out, np.array([len(ids) - 1 for ids, _ in examples], dtype=np.int64)
