"""What the page asks the model for: validated requests, streamed replies with per-token facts,
and the attention of one step.

Every number comes from npgpt's own forward pass with a KV cache: the prompt is run once (the
prefill) and each new token alone against the cached keys and values, as ``npgpt.generation``
does. For each step the stream reports the token, the probability it was drawn with (under the
temperature / top-k / top-p distribution it was sampled from; at temperature 0, greedy, the
model's own probability), and the 10 most likely tokens with the model's probability
(softmax of the raw logits) and the sampling probability.

One model serves every browser tab: each request has its own KV cache and random generator, and
a lock is held around each forward call (not the whole reply), so several replies stream at once,
interleaved step by step, and a forward never sees another request's attention switch.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from ..autograd import no_grad
from ..backend import to_device
from ..chat.chat_loop import fit_window
from ..chat.template import CHAT_TOKENS, ROLES, chat_token_ids
from ..data import DataError
from ..sampling import draw, filter_logits

TOP = 10  # alternatives shown per step
DIGITS = 7  # decimals of the probabilities sent (the page shows 3 significant digits)
MAX_TEMPERATURE = 100.0
MAX_MESSAGES = 10_000
MAX_TEXT = 20_000  # characters per message or prompt


class RequestError(ValueError):
    """A request the server refuses with a 4xx; ``status`` is the HTTP code, the text the message."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


@dataclass
class Settings:
    """Sampling settings of one request, checked: temperature 0 = greedy; None = no limit / no seed."""

    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    max_tokens: int = 200
    seed: int | None = None


def _number(body, key, default, kind, low, high):
    """body[key] as ``kind`` within [low, high], the default if absent or null; else RequestError."""
    v = body.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        raise RequestError(f"{key} must be a finite number, got {v!r}")
    if kind is int and v != int(v):
        raise RequestError(f"{key} must be an integer, got {v!r}")
    if not low <= v <= high:
        raise RequestError(f"{key} must be in [{low}, {high}], got {_short(v)}")
    return kind(v)


def _short(v) -> str:
    r = repr(v)
    return r if len(r) <= 24 else f"a number of {len(r)} digits"


def parse_settings(body, vocab_size, max_tokens_cap) -> Settings:
    """The sampling settings of a request body (a dict), each range-checked."""
    top_p = _number(body, "top_p", None, float, 0.0, 1.0)
    if top_p == 0.0:
        raise RequestError("top_p must be in (0, 1] (or null for no limit), got 0")
    max_tokens = _number(body, "max_tokens", min(200, max_tokens_cap), int, 1, max_tokens_cap)
    return Settings(
        temperature=_number(body, "temperature", 0.8, float, 0.0, MAX_TEMPERATURE),
        top_k=_number(body, "top_k", None, int, 1, vocab_size),
        top_p=top_p,
        max_tokens=max_tokens if max_tokens is not None else min(200, max_tokens_cap),
        seed=_number(body, "seed", None, int, 0, 2**63 - 1),
    )


class Session:
    """The served model: ``model`` (eval mode), ``tokenizer``, ``chat`` (has the chat tokens)."""

    def __init__(self, model, tokenizer, name, max_tokens=None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.block = model.config.block_size
        self.vocab = model.config.vocab_size
        self.max_tokens = min(max_tokens or self.block, self.block)
        try:
            self.special = chat_token_ids(tokenizer)
            self.chat = True
        except DataError:
            self.special = {}
            self.chat = False
        self.stops = set(self.special.values())
        self.special_ids = set((getattr(tokenizer, "special_tokens", None) or {}).values())
        self.device = "cpu" if isinstance(model.transformer.wte.weight.data, np.ndarray) else "cuda"
        self.lock = threading.Lock()  # held around each forward call
        self._tokens = {}  # id -> {id, text, special}

    def info(self) -> dict:
        c = self.model.config
        return {
            "name": self.name,
            "mode": "chat" if self.chat else "complete",
            "block_size": self.block,
            "vocab_size": self.vocab,
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_embd": c.n_embd,
            "max_tokens": self.max_tokens,
            "special_tokens": list(CHAT_TOKENS) if self.chat else [],
        }

    def token(self, i) -> dict:
        """{id, text, special} of token id ``i`` (special: a template token such as <|end|>); a copy."""
        i = int(i)
        if i not in self._tokens:  # decoded once per id: a step shows 11 tokens
            self._tokens[i] = {"id": i, "text": self.tokenizer.decode([i]), "special": i in self.special_ids}
        return dict(self._tokens[i])

    # ------------------------------------------------------------------ requests
    def prompt_ids(self, body, settings) -> tuple[list[int], int]:
        """(prompt ids, turns dropped) of a generate request: the chat template (or the plain
        prompt of a base model) followed by ``prefix`` (ids the reply must start with)."""
        prefix = self.check_ids(body.get("prefix", []), "prefix", allow_empty=True)
        reserve = len(prefix) + min(settings.max_tokens, max(self.block // 4, 1))
        try:
            if self.chat:
                msgs = self._messages(body)
                recent = self._recent(msgs)
                ids, _, dropped = fit_window(recent, self.tokenizer, self.block, reserve)
                dropped += (len(msgs) - len(recent)) // 2
            else:
                ids, dropped = self._completion_prompt(body, prefix), 0
        except DataError as e:  # unknown character, too long for the context
            raise RequestError(str(e)) from None
        ids = ids + prefix
        if len(ids) >= self.block:
            raise RequestError(f"the prompt is {len(ids)} tokens; the model's context is {self.block}: shorten it")
        return ids, dropped

    def _messages(self, body):
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs or len(msgs) > MAX_MESSAGES:
            raise RequestError(f"messages must be a list of 1 to {MAX_MESSAGES} messages")
        for m in msgs:
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise RequestError('each message must be {"role": "system"|"user"|"assistant", "content": "text"}')
            if len(m["content"]) > MAX_TEXT:
                raise RequestError(f"a message is longer than {MAX_TEXT} characters")
        if msgs[-1]["role"] != "user":
            raise RequestError("the last message must be the user's")
        return [{"role": m["role"], "content": m["content"]} for m in msgs]

    def _recent(self, msgs):
        """The newest messages that could fit the window (and a leading system message).

        The page sends the whole conversation each time; encoding each message once from the
        newest back keeps a long conversation from costing ``fit_window`` a render per old turn.
        One message more than fits is kept, and the kept part starts at a user's message, so
        ``fit_window`` makes the final cut (and its message when even the last one is too long).
        """
        system = msgs[:1] if msgs[0]["role"] == "system" else []
        rest, budget, start = msgs[len(system) :], self.block, len(msgs) - len(system)
        while start > 0 and budget >= 0:
            start -= 1
            budget -= len(self.tokenizer.encode(rest[start]["content"])) + 2  # + <|role|> and <|end|>
        while start > 0 and rest[start]["role"] != "user":
            start -= 1
        return system + rest[start:]

    def _completion_prompt(self, body, prefix):
        text = body.get("prompt")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise RequestError(f"prompt must be a string of at most {MAX_TEXT} characters")
        ids = list(self.tokenizer.encode(text)) if text else []
        if not ids and not prefix:
            raise RequestError("the prompt is empty: type the start of a text")
        return [int(i) for i in ids]

    def check_ids(self, ids, what="ids", allow_empty=False) -> list[int]:
        """A JSON list of token ids, each an int in [0, vocab), at most block_size of them."""
        if not isinstance(ids, list) or len(ids) > self.block or (not ids and not allow_empty):
            raise RequestError(f"{what} must be a list of 1 to {self.block} token ids")
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.vocab:
                raise RequestError(f"{what}: token ids must be integers in [0, {self.vocab}), got {i!r}")
        return list(ids)

    # ------------------------------------------------------------------ the model
    def _forward(self, ids, cache, attention=False):
        """Last-position logits (V,) float64 on the host; the lock keeps forwards one at a time."""
        x = to_device(np.asarray([ids], dtype=np.int64), self.device)
        layers = [b.attn for b in self.model.transformer.h]
        with self.lock, no_grad():
            if not attention:
                logits, _ = self.model(x, cache=cache, last_only=True)
                return np.asarray(to_device(logits.data[0, -1], "cpu"), dtype=np.float64), None
            for a in layers:
                a.record_attention = True
            try:
                logits, _ = self.model(x, cache=cache, last_only=True)
                att = [to_device(a.last_attention[0], "cpu") for a in layers]
            finally:
                for a in layers:
                    a.record_attention, a.last_attention = False, None
        return np.asarray(to_device(logits.data[0, -1], "cpu"), dtype=np.float64), att

    def step_info(self, logits, settings):
        """(model probabilities p, sampling probabilities q, filtered logits z or None if greedy)."""
        p = _softmax(logits)
        if settings.temperature == 0:
            q = np.zeros_like(p)
            q[int(np.argmax(logits))] = 1.0
            return p, q, None
        z = filter_logits(logits[None], settings.temperature, settings.top_k, settings.top_p)
        return p, _softmax(z[0]), z

    def top(self, p, q) -> list[dict]:
        """The ``TOP`` most likely tokens under the model: {id, text, special, p, q}.

        Probabilities are rounded to ``DIGITS`` decimals: shorter JSON, quicker to write per step.
        """
        k = min(TOP, p.size)
        best = np.argpartition(-p, k - 1)[:k]
        best = best[np.argsort(-p[best], kind="stable")]
        ps, qs = np.round(p[best], DIGITS).tolist(), np.round(q[best], DIGITS).tolist()
        return [{**self.token(i), "p": a, "q": b} for i, a, b in zip(best.tolist(), ps, qs)]

    def stream(self, ids, settings):
        """Yield one dict per new token: {step, id, text, special, prob, p, top}; the last yielded
        dict may be {"stop": reason} with reason "end" (a chat token) or "length"."""
        rng = np.random.default_rng(settings.seed)
        n = min(settings.max_tokens, self.block - len(ids))
        cache, feed = self.model.new_cache(), list(ids)
        for step in range(n):
            logits, _ = self._forward(feed, cache)
            p, q, z = self.step_info(logits, settings)
            nxt = int(np.argmax(logits)) if z is None else int(draw(z, rng.random((1, 1)))[0])
            prob = round(float(p[nxt] if z is None else q[nxt]), DIGITS)
            yield {
                "step": step,
                **self.token(nxt),
                "prob": prob,
                "p": round(float(p[nxt]), DIGITS),
                "top": self.top(p, q),
            }
            if nxt in self.stops:
                yield {"stop": "end"}
                return
            feed = [nxt]
        yield {"stop": "length"}

    def inspect(self, ids, settings) -> dict:
        """What the model saw when it chose the token after ``ids``: the context tokens, the
        attention (n_layer, n_head, len(ids)) of the last position, and the top alternatives."""
        logits, att = self._forward(ids, self.model.new_cache(), attention=True)
        p, q, _ = self.step_info(logits, settings)
        return {
            "context": [self.token(i) for i in ids],
            "attention": [np.round(a, 5).tolist() for a in att],
            "top": self.top(p, q),
        }


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()
