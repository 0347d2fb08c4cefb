"""Shared by the ``npgpt serve`` tests: a tiny trained checkpoint and a server running in a thread."""

from __future__ import annotations

import contextlib
import threading

from npgpt.chat.model import add_chat_tokens, load_policy, save
from npgpt.serve import Server, load_session
from npgpt.train import TrainConfig, train


def make_checkpoints(folder):
    """(chat checkpoint, base checkpoint): a 1-layer, 16-wide character GPT trained 4 steps on the
    shipped text, and the same model given the chat tokens as ``npgpt sft`` gives them."""
    cfg = TrainConfig(
        out_dir=str(folder / "base"), n_layer=1, n_head=2, n_embd=16, block_size=64, max_steps=4, warmup_steps=1
    )
    cfg = TrainConfig(**{**cfg.__dict__, "eval_interval": 4, "eval_batches": 1, "sample_chars": 0, "progress": False})
    train(cfg, log=lambda *a: None)
    base = folder / "base" / "checkpoint"
    model, tok, _ = load_policy(base)
    model, tok = add_chat_tokens(model, tok)
    save(folder / "chat", model, tok, "sft", {"note": "base + chat tokens, for the serve tests"})
    return folder / "chat", base


@contextlib.contextmanager
def running(checkpoint, **kw):
    """A ``Server`` on ``checkpoint`` at a free port of 127.0.0.1, serving from a thread."""
    server = Server(load_session(checkpoint), "127.0.0.1", 0, **kw)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
