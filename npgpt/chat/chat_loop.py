"""The ``npgpt chat`` conversation: render, fit the context window, stream the reply, repeat.

A GPT sees at most ``block_size`` tokens. The whole conversation is sent at every turn (the model
keeps no memory between calls), so once it outgrows the window the oldest turns are dropped,
and the user is told. The reply is streamed token by token and ends at ``<|end|>`` (or when the
window is full).
"""

from __future__ import annotations

import numpy as np

from ..data import DataError
from .template import chat_token_ids, render


def fit_window(messages, tokenizer, block_size, reserve):
    """(prompt ids, messages kept, turns dropped): the newest messages whose prompt leaves
    ``reserve`` tokens free.

    A leading system message is kept; the oldest user/assistant messages go first. Raises
    DataError if even the last user message alone does not fit.
    """
    system = [m for m in messages[:1] if m["role"] == "system"]
    rest = messages[len(system) :]
    dropped = 0
    while True:
        ids, _ = render(system + rest, tokenizer, add_generation_prompt=True)
        if len(ids) + reserve <= block_size:
            return ids, system + rest, dropped
        if len(rest) <= 1:
            raise DataError(
                f"your message is {len(ids)} tokens with the template; the model's context is {block_size} "
                f"tokens and {reserve} are kept for the reply: say it shorter"
            )
        rest = rest[2:] if len(rest) > 2 else rest[1:]  # one user turn and its reply
        dropped += 1


def stream_reply(model, tokenizer, prompt_ids, max_new_tokens, write, temperature, top_k, top_p, rng):
    """Generate and ``write`` the reply as it comes; returns (reply text, stopped at <|end|>).

    Any chat token ends the turn (a model that starts a ``<|user|>`` turn has finished its own).
    """
    stops = set(chat_token_ids(tokenizer).values())
    n = min(max_new_tokens, model.config.block_size - len(prompt_ids))
    ids, shown = [], ""
    steps = model.generate_stream(np.array([prompt_ids]), n, temperature=temperature, top_k=top_k, top_p=top_p, rng=rng)
    for nxt in steps:
        token = int(nxt[0])
        if token in stops:
            return shown, True
        ids.append(token)
        text = tokenizer.decode(ids)
        if not text.endswith("\ufffd"):  # a byte-level BPE token may end inside a character: wait
            write(text[len(shown) :])
            shown = text
    return tokenizer.decode(ids), False


def chat_session(model, tokenizer, read_line, write, settings):
    """Talk until EOF (``read_line`` returns "") or Ctrl-C; ``write`` prints without a newline."""
    messages = [{"role": "system", "content": settings.system}] if settings.system else []
    rng = np.random.default_rng(settings.seed)
    block = model.config.block_size
    reserve = min(settings.max_new_tokens, max(block // 4, 1))
    while True:
        write("you> ")
        line = read_line()
        if not line:
            write("\n")
            return
        text = line.rstrip("\n")
        if not text.strip():
            continue
        try:
            tokenizer.encode(text)
            asked = messages + [{"role": "user", "content": text}]
            ids, messages, dropped = fit_window(asked, tokenizer, block, reserve)
        except DataError as e:
            write(f"(not sent: {e})\n")
            continue
        if dropped:
            write(f"(dropped the oldest {dropped} turn(s) to fit the {block}-token context)\n")
        write("bot> ")
        reply, stopped = stream_reply(
            model,
            tokenizer,
            ids,
            settings.max_new_tokens,
            write,
            settings.temperature,
            settings.top_k,
            settings.top_p,
            rng,
        )
        write("\n" if stopped else "\n(reply cut: it did not end its turn within the limit)\n")
        messages.append({"role": "assistant", "content": reply})
