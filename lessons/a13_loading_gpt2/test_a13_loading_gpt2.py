"""Grader of assignment 13 (loading GPT-2): 13.1 a checkpoint's names and layouts, 13.2 config.json.

    python -m lessons.grade --assignment a13
    pytest lessons/a13_loading_gpt2 --task 13.1

No file, torch or transformers is needed: the grader writes GPT-2 checkpoints itself, as the dict of
NumPy arrays that ``safetensors.numpy.load_file`` returns, in HuggingFace's naming (both layouts in
circulation) for tiny configs with random values, and compares what the student's code returns
with the state dict it started from (the instructor's own copy of the mapping, whose checkpoints are
recorded in ``expected.npz`` for a handout: ``lessons.expected``). Sizes are chosen so that no
two of V, T, C, 3C, 4C are equal: a weight in the wrong orientation cannot pass by accident. The
two tasks are separate functions: 13.1's tests build their GPTConfig directly, never through 13.2.
"""

import numpy as np
import pytest

from lessons.expected import Expected
from npgpt.nn import GPTConfig
from npgpt.nn import hf as H

expected = Expected(__file__)
CFG = dict(vocab_size=11, block_size=7, n_layer=2, n_head=2, n_embd=6)


def accepted(fn, *args, what):
    """``fn(*args)`` on an input it must accept; a ValueError (or a KeyError) fails the test with its message."""
    try:
        return fn(*args)
    except (ValueError, KeyError) as e:
        raise AssertionError(f"{what}: raised {type(e).__name__}: {e}") from None


def refusal(fn, *args, what):
    """The message of the ValueError ``fn(*args)`` must raise."""
    try:
        fn(*args)
    except ValueError as e:
        return str(e)
    except KeyError as e:
        raise AssertionError(f"{what}: raised KeyError {e} instead of a ValueError naming the key") from None
    raise AssertionError(f"{what} was accepted: it must raise ValueError")


# ----------------------------------------------------------------------------- 13.1 the state dict
def checkpoint(config, seed=0, dtype=np.float32, prefix="transformer.", extras=False):
    """(weights as a GPT-2 file holds them, the npgpt state dict they must become), for ``config``
    (CFG with its n_layer), as the instructor's own copy of the mapping makes them.

    ``prefix``: "transformer." (save_pretrained) or "" (the hub's original files); ``extras``: add
    the old causal-mask buffers of each block and a copy of the tied head, as the hub's files do."""
    return expected("checkpoint_reference", config.n_layer, seed, np.dtype(dtype).name, prefix, extras)


def assert_same_state(got, want, what):
    assert isinstance(got, dict), f"{what}: hf_to_npgpt_state must return a dict, got {type(got).__name__}"
    extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
    assert not extra and not missing, f"{what}: names not in npgpt's model {extra}; npgpt's names missing {missing}"
    for name, a in want.items():
        b = np.asarray(got[name])
        assert b.shape == a.shape, f"{what}: {name} has shape {b.shape}, npgpt's model holds {a.shape}"
        assert b.dtype == a.dtype, f"{what}: {name} has dtype {b.dtype}, the file's is {a.dtype}"
        assert np.array_equal(b, a), f"{what}: {name} holds other numbers than the file's entry"


@pytest.mark.task("13.1", points=3)
@pytest.mark.parametrize("n_layer", [1, 2])
def test_save_pretrained_layout(n_layer):
    config = GPTConfig(**{**CFG, "n_layer": n_layer})
    weights, want = checkpoint(config, seed=n_layer)
    got = accepted(H.hf_to_npgpt_state, weights, config, what="a save_pretrained checkpoint")
    assert_same_state(got, want, f"save_pretrained's layout, {n_layer} block(s)")


@pytest.mark.task("13.1", points=2)
@pytest.mark.parametrize("prefix", ["", "transformer."], ids=["hub", "prefixed"])
@pytest.mark.parametrize("n_layer", [2, 12])  # h.10.attn.bias: a buffer, whatever the block's number of digits
def test_hub_layout_with_mask_buffers_and_a_tied_head(prefix, n_layer):
    config = GPTConfig(**{**CFG, "n_layer": n_layer})
    weights, want = checkpoint(config, seed=3, prefix=prefix, extras=True)
    got = accepted(H.hf_to_npgpt_state, weights, config, what=f"a checkpoint with names {prefix!r}h.0...")
    assert_same_state(got, want, f"names {prefix!r}h.0..., with attn.bias/attn.masked_bias buffers and lm_head")


@pytest.mark.task("13.1", points=1)
def test_values_are_contiguous_and_keep_the_file_dtype():
    config = GPTConfig(**CFG)
    weights, want = checkpoint(config, seed=4, dtype=np.float16)
    got = accepted(H.hf_to_npgpt_state, weights, config, what="a float16 checkpoint")
    assert_same_state(got, want, "a float16 checkpoint")
    loose = [k for k, a in got.items() if not np.asarray(a).flags.c_contiguous]
    assert not loose, f"these arrays are not C-contiguous (a transposed view?): {loose}"


def problem_lines(message):
    """The lines of a mismatch_report: {"missing": line, "unexpected": line, "mis-shaped": line}."""
    found = {}
    for line in message.splitlines():
        for kind in ("missing", "unexpected", "mis-shaped"):
            if line.strip().startswith(kind + " keys"):
                found[kind] = line
    return found


@pytest.mark.task("13.1", points=2)
def test_a_file_that_does_not_fit_lists_every_problem():
    config = GPTConfig(**CFG)
    weights, _ = checkpoint(config, seed=5, prefix="", extras=True)
    del weights["h.1.ln_2.bias"]  # missing
    weights["h.2.mlp.c_fc.bias"] = np.zeros(24, np.float32)  # a third block in a 2-block config
    weights["h.0.mlp.c_fc.weight"] = np.ascontiguousarray(weights["h.0.mlp.c_fc.weight"].T)  # (out, in): (24, 6)
    weights["wpe.weight"] = np.zeros((8, 6), np.float32)  # one position too many
    message = refusal(H.hf_to_npgpt_state, weights, config, what="a file with a missing, an extra and bad shapes")
    lines = problem_lines(message)
    where = f"in the error message:\n{message}"
    assert "h.1.ln_2.bias" in lines.get("missing", ""), (
        f"the missing key h.1.ln_2.bias is not listed as missing {where}"
    )
    assert "h.2.mlp.c_fc.bias" in lines.get("unexpected", ""), f"h.2.mlp.c_fc.bias is not listed as unexpected {where}"
    bad = lines.get("mis-shaped", "")
    for name, shape in (("h.0.mlp.c_fc.weight", "(24, 6)"), ("wpe.weight", "(8, 6)")):
        assert name in bad and shape in bad, f"{name} (shape {shape} in the file) is not listed as mis-shaped {where}"
    for kind, line in lines.items():
        assert "lm_head" not in line and "attn.bias" not in line.replace("c_attn.bias", ""), (
            f"the tied head and the mask buffers are not problems, but the {kind} line names one {where}"
        )


@pytest.mark.task("13.1", points=1)
def test_a_missing_key_alone_is_an_error():
    config = GPTConfig(**CFG)
    weights, _ = checkpoint(config, seed=6)
    del weights["transformer.h.0.attn.c_attn.bias"]
    message = refusal(H.hf_to_npgpt_state, weights, config, what="a file without h.0.attn.c_attn.bias")
    assert "h.0.attn.c_attn.bias" in problem_lines(message).get("missing", ""), f"not named as missing:\n{message}"


@pytest.mark.task("13.1", points=1)
def test_an_untied_head_is_refused():
    config = GPTConfig(**CFG)
    weights, _ = checkpoint(config, seed=7, prefix="", extras=True)
    weights["lm_head.weight"] = weights["lm_head.weight"] + 1.0
    message = refusal(H.hf_to_npgpt_state, weights, config, what="an lm_head.weight that differs from wte")
    assert "lm_head.weight" in message, f"the error must name lm_head.weight:\n{message}"


# ----------------------------------------------------------------------------- 13.2 config.json
def config_json(**change):
    """A GPT-2 config.json as save_pretrained writes it (a tiny model), with ``change`` applied
    (a value of None removes the key)."""
    hf = {
        "activation_function": "gelu_new",
        "add_cross_attention": False,
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "embd_pdrop": 0.1,
        "layer_norm_epsilon": 1e-5,
        "model_type": "gpt2",
        "n_ctx": 7,
        "n_embd": 6,
        "n_head": 2,
        "n_inner": None,
        "n_layer": 2,
        "n_positions": 7,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "tie_word_embeddings": True,
        "vocab_size": 11,
    }
    hf.update(change)
    return {k: v for k, v in hf.items() if v is not None or k == "n_inner"}


MINIMAL = {"vocab_size": 11, "n_positions": 7, "n_embd": 6, "n_layer": 2, "n_head": 2}
GPT2_SMALL = config_json(vocab_size=50257, n_positions=1024, n_ctx=1024, n_embd=768, n_layer=12, n_head=12)
ACCEPTED = {
    "save_pretrained": (config_json(), dict(block_size=7, ln_eps=1e-5)),
    "gpt2-small": (GPT2_SMALL, dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)),
    "eps-1e-6": (config_json(layer_norm_epsilon=1e-6), dict(ln_eps=1e-6)),
    "minimal": (MINIMAL, dict(ln_eps=1e-5)),
    "only-n_ctx": ({k: v for k, v in MINIMAL.items() if k != "n_positions"} | {"n_ctx": 5}, dict(block_size=5)),
    "n_positions-wins": (config_json(n_positions=7, n_ctx=1024), dict(block_size=7)),
    "gelu_pytorch_tanh": (config_json(activation_function="gelu_pytorch_tanh"), {}),
    "n_inner-4C": (config_json(n_inner=24), {}),
}


@pytest.mark.task("13.2", points=3)
@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_a_gpt2_config_gives_its_gptconfig(case):
    hf, change = ACCEPTED[case]
    cfg = accepted(H.config_from_hf, dict(hf), what=f"config.json {case!r}")
    assert isinstance(cfg, GPTConfig), f"config_from_hf must return a GPTConfig, got {type(cfg).__name__}"
    want = {**CFG, "dropout": 0.0, "bias": True, "pos_encoding": "learned", "ln_eps": 1e-5, **change}
    for field, value in want.items():
        got = getattr(cfg, field)
        assert got == value and type(got) is type(value), (
            f"config.json {case!r}: GPTConfig.{field} = {got!r}, expected {value!r}"
        )


REFUSED = {
    "model_type-llama": (config_json(model_type="llama"), ["model_type"]),
    "exact-gelu": (config_json(activation_function="gelu"), ["activation_function"]),
    "relu": (config_json(activation_function="relu"), ["activation_function"]),
    "n_inner-2C": (config_json(n_inner=12), ["n_inner"]),
    "unscaled-attention": (config_json(scale_attn_weights=False), ["scale_attn_weights"]),
    "inverse-layer-scaling": (config_json(scale_attn_by_inverse_layer_idx=True), ["scale_attn_by_inverse_layer_idx"]),
    "cross-attention": (config_json(add_cross_attention=True), ["add_cross_attention"]),
    "no-vocab_size": ({k: v for k, v in MINIMAL.items() if k != "vocab_size"}, ["vocab_size"]),
    "no-n_head-no-n_embd": ({k: v for k, v in MINIMAL.items() if k not in ("n_head", "n_embd")}, ["n_head", "n_embd"]),
    "no-context-length": ({k: v for k, v in MINIMAL.items() if k != "n_positions"}, ["n_positions"]),
}


@pytest.mark.task("13.2", points=3)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_config_npgpt_cannot_compute_is_refused_by_name(case):
    hf, keys = REFUSED[case]
    message = refusal(H.config_from_hf, dict(hf), what=f"config.json {case!r}")
    named = [k for k in keys if k in message or (k == "n_positions" and "n_ctx" in message)]
    assert named == keys, f"config.json {case!r}: the ValueError must name {keys}; it says: {message}"
