"""The instructor's reference rules of assignment 13 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``)."""

import numpy as np

from npgpt.nn import GPTConfig

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
CFG = dict(vocab_size=11, block_size=7, n_layer=2, n_head=2, n_embd=6)


def npgpt_shapes_reference(config):
    """npgpt's name -> shape for a GPT-2 config (the grader's own count: (out, in) Linear weights)."""
    C, V, T = config.n_embd, config.vocab_size, config.block_size
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C)}
    for i in range(config.n_layer):
        p = f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            shapes[p + ln + ".weight"] = shapes[p + ln + ".bias"] = (C,)
        shapes[p + "attn.c_attn.weight"], shapes[p + "attn.c_attn.bias"] = (3 * C, C), (3 * C,)
        shapes[p + "attn.c_proj.weight"], shapes[p + "attn.c_proj.bias"] = (C, C), (C,)
        shapes[p + "mlp.c_fc.weight"], shapes[p + "mlp.c_fc.bias"] = (4 * C, C), (4 * C,)
        shapes[p + "mlp.c_proj.weight"], shapes[p + "mlp.c_proj.bias"] = (C, 4 * C), (C,)
    shapes["transformer.ln_f.weight"] = shapes["transformer.ln_f.bias"] = (C,)
    return shapes


def checkpoint_reference(n_layer, seed, dtype, prefix, extras):
    """(weights as a GPT-2 file holds them, the npgpt state dict they must become).

    ``prefix``: "transformer." (save_pretrained) or "" (the hub's original files); ``extras``: add
    the old causal-mask buffers of each block and a copy of the tied head, as the hub's files do."""
    config = GPTConfig(**(CFG | {"n_layer": n_layer}))
    rng = np.random.default_rng(seed)
    state = {k: rng.standard_normal(s).astype(dtype) for k, s in npgpt_shapes_reference(config).items()}
    weights = {}
    for name, a in state.items():
        hf_name = prefix + name.removeprefix("transformer.")
        weights[hf_name] = np.ascontiguousarray(a.T) if name.endswith(CONV1D) else a.copy()  # Conv1D: (in, out)
    if extras:
        T = config.block_size
        for i in range(config.n_layer):
            weights[f"{prefix}h.{i}.attn.bias"] = np.tril(np.ones((T, T), dtype))[None, None]
            weights[f"{prefix}h.{i}.attn.masked_bias"] = np.array(-1e4, dtype)
        weights["lm_head.weight"] = state["transformer.wte.weight"].copy()
    return weights, state
