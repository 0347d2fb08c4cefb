"""Autoregressive generation with an exact KV cache (``GPT.generate`` / ``GPT.generate_stream``).

A GPT predicts the next token from the ones before it; generating means: run the model, pick a
token from the last position's distribution (``npgpt.sampling``), append it, repeat.

The KV cache. Running the whole context again for every new token recomputes the keys and
values of all earlier tokens, which never change (each position only sees the past). The cache
keeps them: the prompt is run once (the "prefill"), and each later step runs only the one new
token, whose query attends to the cached keys. The logits are the same as a full forward pass
over the same context, to rounding, because the computation is the same.

Past the context window. A model with learned positions has no embedding for position
``block_size``, so, like nanoGPT, generation crops the context to its last ``block_size`` tokens.
The cropped window starts at a new first token, which shifts every token's position, so the
cached keys no longer apply: each step beyond the window runs a full forward over the cropped
window (a fresh prefill). That keeps generation exact and equal to cropping without a cache;
the cache speeds up generation only while prompt + new tokens fit in the window.
"""

from __future__ import annotations

import numpy as np

from .autograd import no_grad
from .backend import as_generator, device_of, get_array_module, to_device
from .sampling import check_sampling_args, sample_next
from .tensor import array_of


def generate_stream(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, rng=None, use_cache=True):
    """Yield (B,) arrays of new token ids one step at a time; ``idx`` (B, T) int is the prompt."""
    check_sampling_args(temperature, top_k, top_p)
    if int(max_new_tokens) != max_new_tokens or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens}")
    ids = _prompt_ids(model, idx)
    rng = as_generator(rng)
    # the checks above run at the call; the steps below only when the caller starts iterating
    return _steps(model, ids, int(max_new_tokens), temperature, top_k, top_p, rng, use_cache)


def _steps(model, ids, max_new_tokens, temperature, top_k, top_p, rng, use_cache):
    xp = get_array_module(ids)
    block = model.config.block_size
    was_training = model.training
    model.eval()
    cache = None
    try:
        with no_grad():
            for _ in range(max_new_tokens):
                if use_cache and cache is not None and cache[0].length < block:
                    logits, _ = model(ids[:, -1:], cache=cache, last_only=True)  # one new token
                else:
                    cache = model.new_cache() if use_cache else None
                    logits, _ = model(ids[:, -block:], cache=cache, last_only=True)  # (re)fill the window
                nxt = sample_next(logits.data[:, -1, :], temperature, top_k, top_p, rng)
                ids = xp.concatenate([ids, nxt[:, None].astype(ids.dtype)], axis=1)
                yield nxt
    finally:
        model.train(was_training)


def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, rng=None, use_cache=True):
    """The prompt followed by ``max_new_tokens`` generated ids: (B, T + max_new_tokens) int array.

    temperature 0 is greedy decoding; ``top_k`` / ``top_p`` restrict sampling (``npgpt.sampling``).
    """
    ids = _prompt_ids(model, idx)
    new = list(generate_stream(model, ids, max_new_tokens, temperature, top_k, top_p, rng, use_cache))
    xp = get_array_module(ids)
    return xp.concatenate([ids] + [n[:, None].astype(ids.dtype) for n in new], axis=1) if new else ids


def _prompt_ids(model, idx):
    """The prompt as a (B, T) int array on the model's device (a 1-D prompt is one sequence)."""
    ids = array_of(idx)
    ids = np.asarray(ids) if isinstance(ids, (list, tuple)) else ids
    ids = to_device(ids, device_of(model.transformer.wte.weight.data))
    if ids.ndim == 1:
        ids = ids[None, :]
    if ids.shape[1] == 0:
        raise ValueError("generate: the prompt is empty; give at least one token")
    return ids
