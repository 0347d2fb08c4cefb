"""Loading, extending and saving the models of the chat path (policy and reward model).

Adding the chat tokens to a base model. A model trained by ``npgpt train`` has no ids for
``<|user|>``, ``<|assistant|>``, ``<|system|>``, ``<|end|>``. ``add_chat_tokens`` appends them to
the tokenizer (existing ids unchanged) and grows the token-embedding matrix by one row per new
token. npgpt ties the output head to that matrix (logits = x @ wte^T), so the same new row is
also the token's output weight. Each new row starts as the mean of the existing rows: its logit is
then the average of the other tokens' logits, neither certain nor impossible, and the input it
gives the first block looks like an ordinary token (Hewitt, 2021, "Initializing new word
embeddings for pretrained language models"). SFT then learns what the tokens mean.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import functional as F
from ..checkpoint import (
    LANGUAGE_MODEL,
    REWARD_MODEL,
    CheckpointError,
    checkpoint_dtype,
    load_weights,
    model_config,
    read_checkpoint,
    save_checkpoint,
)
from ..nn import GPT, GPTConfig, Linear, Module
from ..tokenizers import load_tokenizer
from .template import CHAT_TOKENS, chat_token_ids


def load_policy(checkpoint):
    """(GPT in train mode, tokenizer, checkpoint dict) from a checkpoint folder."""
    ck = read_checkpoint(checkpoint, kind=LANGUAGE_MODEL)
    if ck["tokenizer_json"] is None:
        raise CheckpointError(f"{ck['path']} holds no tokenizer.json: it cannot turn text into ids")
    tok = load_tokenizer(ck["tokenizer_json"])
    dtype = checkpoint_dtype(ck)
    model = GPT(model_config(ck), dtype=dtype)
    load_weights(model, ck)
    if tok.vocab_size > model.config.vocab_size:
        raise CheckpointError(
            f"{ck['path']}: the tokenizer has {tok.vocab_size} ids, the model only {model.config.vocab_size}"
        )
    return model, tok, ck


def add_chat_tokens(model, tokenizer):
    """(model, tokenizer) with the chat tokens; the same objects if they are there already.

    New embedding rows (= new output rows, the head is tied) are the mean of the old rows.
    """
    missing = [t for t in CHAT_TOKENS if t not in (tokenizer.special_tokens or {})]
    if not missing:
        return model, tokenizer
    tok = tokenizer.with_special_tokens(missing)
    state = model.state_dict()
    wte = np.asarray(state["transformer.wte.weight"])
    extra = tok.vocab_size - wte.shape[0]
    if extra > 0:
        mean_row = wte.mean(axis=0, keepdims=True)
        state["transformer.wte.weight"] = np.concatenate([wte, np.repeat(mean_row, extra, axis=0)])
    cfg = GPTConfig.from_dict({**model.config.to_dict(), "vocab_size": max(tok.vocab_size, wte.shape[0])})
    grown = GPT(cfg, rng=0, dtype=wte.dtype)
    grown.load_state_dict(state)
    chat_token_ids(tok)  # the chat tokens are there now
    return grown, tok


def save(path, model, tokenizer, stage, settings, state=None, optimizer=None):
    """An ordinary npgpt checkpoint (safetensors + JSON, written atomically) of a tuned model.

    ``stage`` (sft, reward, rl, dpo) and the command's settings go in config.json["train"];
    ``optimizer`` and ``state`` (step, generators) make it resumable.
    """
    cfg = model.config if isinstance(model, GPT) else model.gpt.config
    train = {"stage": stage, **(dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else settings)}
    train.setdefault("dtype", str(np.dtype(next(iter(model.parameters())).dtype)))
    config = {"model": cfg.to_dict(), "train": train}
    kind = REWARD_MODEL if isinstance(model, RewardModel) else LANGUAGE_MODEL
    if kind == REWARD_MODEL:
        config["reward_head"] = True  # what npgpt read before config.json said its kind
    return save_checkpoint(path, model, config, tokenizer, optimizer, state=state or {}, kind=kind)


def hidden_states(gpt, ids):
    """The GPT trunk without its output head: ln_f(blocks(embeddings(ids))), shape (B, T, C)."""
    t = gpt.transformer
    ids = gpt._check_ids(ids, "idx")
    x = F.embedding(ids, t.wte.weight)
    if gpt.config.pos_encoding != "rope":
        x = t.wpe(x, 0)
    x = t.drop(x)
    for block in t.h:
        x = block(x)
    return t.ln_f(x)


class RewardModel(Module):
    """A GPT trunk and a scalar head: r(prompt, reply) read at the reply's last token.

    ``model(ids, last) -> (B,)`` with ids (B, T) right-padded and ``last`` (B,) the index of each
    sequence's last real token (its ``<|end|>``). The model is causal, so that position has seen
    the whole conversation and none of the padding. The head starts at zero: every reward 0.
    """

    def __init__(self, config, dtype=np.float32):
        super().__init__()
        self.gpt = GPT(config, rng=0, dtype=dtype)
        self.head = Linear(config.n_embd, 1, dtype=dtype, rng=0)
        self.head.weight.data[...] = 0

    def forward(self, ids, last):
        h = hidden_states(self.gpt, ids)  # (B, T, C)
        h_last = h[np.arange(h.shape[0]), np.asarray(last)]  # (B, C)
        return self.head(h_last).reshape(-1)  # (B,)


def load_reward_model(checkpoint):
    """(RewardModel, tokenizer) from a checkpoint written by ``npgpt reward``."""
    ck = read_checkpoint(checkpoint, kind=REWARD_MODEL)
    dtype = checkpoint_dtype(ck)
    rm = RewardModel(model_config(ck), dtype=dtype)
    load_weights(rm, ck)
    return rm, load_tokenizer(ck["tokenizer_json"])
