"""The chat template: how a conversation becomes the token ids a GPT reads, and which it learns.

A conversation is a list of messages ``{"role": "system" | "user" | "assistant", "content": str}``
(the JSONL shape OpenAI, HuggingFace and TRL use). Each message becomes

    <|role|> content <|end|>

with ``<|user|>``, ``<|assistant|>``, ``<|system|>`` and ``<|end|>`` special tokens: ids of their
own, which no text encodes to, so a user who types "<|end|>" gets the characters, not the token.
To ask the model for a reply, the prompt ends with ``<|assistant|>`` and generation stops when the
model emits ``<|end|>``.

The loss mask is True on the assistant's content tokens and on its ``<|end|>``: the model learns
to write answers and to stop, never to predict the user's words or the template itself.
"""

from __future__ import annotations

from ..data import DataError

SYSTEM, USER, ASSISTANT, END = "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"
CHAT_TOKENS = (SYSTEM, USER, ASSISTANT, END)
ROLES = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}


class ChatTemplateError(DataError):
    """A conversation the template cannot render, or a tokenizer without chat tokens."""


def chat_token_ids(tokenizer) -> dict:
    """{token name: id} of the chat tokens; a one-line error if the tokenizer lacks them."""
    specials = getattr(tokenizer, "special_tokens", {}) or {}
    missing = [t for t in CHAT_TOKENS if t not in specials]
    if missing:
        raise ChatTemplateError(
            f"the tokenizer has no chat tokens ({', '.join(missing)}): this is a base model; "
            "fine-tune it with `npgpt sft` first"
        )
    return {t: specials[t] for t in CHAT_TOKENS}


def render(messages, tokenizer, add_generation_prompt=False):
    """Token ids of a conversation and its loss mask: (ids: list[int], mask: list[bool]).

    ``mask[i]`` is True where ids[i] is part of an assistant's reply (its content and its
    ``<|end|>``). ``add_generation_prompt=True`` appends ``<|assistant|>``: the prompt for a reply.
    """
    special = chat_token_ids(tokenizer)
    ids, mask = [], []
    for m in messages:
        role, content = m["role"], m["content"]
        if role not in ROLES:
            raise ChatTemplateError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
        body = list(tokenizer.encode(content))
        ids += [special[ROLES[role]]] + body + [special[END]]
        ### BEGIN SOLUTION 15.1
        learn = role == "assistant"
        mask += [False] + [learn] * len(body) + [learn]
        ### END SOLUTION 15.1
    if add_generation_prompt:
        ids.append(special[ASSISTANT])
        mask.append(False)
    return [int(i) for i in ids], mask


def render_text(messages, add_generation_prompt=False) -> str:
    """The same conversation as one printable string (what ``render`` encodes)."""
    text = "".join(f"{ROLES[m['role']]}{m['content']}{END}" for m in messages)
    return text + (ASSISTANT if add_generation_prompt else "")
