"""Load and save HuggingFace GPT-2 checkpoints (``config.json`` + ``model.safetensors``).

npgpt's GPT *is* GPT-2's architecture with GPT-2's parameter names, so OpenAI's released
weights (``gpt2``, ``gpt2-medium`` ...) in a local HuggingFace folder load as they are:

    model = GPT.from_hf("path/to/gpt2")
    model.save_hf("path/to/out")                  # a folder transformers' GPT2LMHeadModel loads

``GPT.from_hf`` and ``GPT.save_hf`` (in gpt.py) call ``read_folder`` and ``write_folder`` here.

Three differences in the file layout, handled here:

### BEGIN SOLUTION 13.1
* HF's GPT-2 uses ``Conv1D`` layers, whose weights are stored input-major (in, out); npgpt's
  Linear (like ``torch.nn.Linear``) stores (out, in). ``c_attn``, ``c_proj`` and ``c_fc`` weights
  are transposed on the way in and out.
* Keys may start with ``transformer.`` (``save_pretrained`` of ``GPT2LMHeadModel``) or not (the
  original hub files). ``attn.bias`` / ``attn.masked_bias`` (old causal-mask buffers) are skipped.
* The output head is tied to ``wte``: a ``lm_head.weight`` in the file must equal ``wte`` and is
  not stored by ``save_hf`` (transformers re-ties it).
### END SOLUTION 13.1

Only safetensors files are read. PyTorch's ``pytorch_model.bin`` / ``.pt`` are pickles: loading
one can execute arbitrary code, so npgpt refuses them (see ``PICKLE_REFUSAL``).
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from ..backend import to_device
from .config import GPTConfig
from .module import mismatch_report

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
_BUFFER = re.compile(r"(^|\.)h\.\d+\.attn\.(bias|masked_bias)$")  # causal-mask buffers, not weights
_TANH_GELU = ("gelu_new", "gelu_pytorch_tanh")
_PICKLE_FILES = ("pytorch_model.bin", "model.bin", "model.pt", "model.pth", "model.ckpt")

PICKLE_REFUSAL = (
    "npgpt never loads pickle-based weights ({name}): unpickling a file can run arbitrary code. "
    "Convert the checkpoint to safetensors once, in an environment you trust, e.g.\n"
    "    from transformers import GPT2LMHeadModel\n"
    "    GPT2LMHeadModel.from_pretrained({folder!r}).save_pretrained({folder!r}, safe_serialization=True)\n"
    "which writes model.safetensors next to config.json."
)


def _is_conv1d(name):
    return name.endswith(CONV1D)


# ----------------------------------------------------------------------------- config
def config_from_hf(hf):
    """``GPTConfig`` from a GPT-2 ``config.json`` dict; ValueError for anything npgpt cannot build.

    ### BEGIN SOLUTION 13.2
    n_embd -> n_embd, n_layer, n_head, n_positions -> block_size, vocab_size,
    layer_norm_epsilon -> ln_eps. Dropout rates are not carried over (0: inference; set
    ``model.config``/dropout yourself to fine-tune with dropout).
    ### END SOLUTION 13.2
    """
    ### BEGIN SOLUTION 13.2
    mt = hf.get("model_type", "gpt2")
    if mt != "gpt2":
        raise ValueError(f"from_hf: model_type {mt!r} is not GPT-2; npgpt loads only model_type 'gpt2'")
    missing = [k for k in ("vocab_size", "n_embd", "n_layer", "n_head") if k not in hf]
    if "n_positions" not in hf and "n_ctx" not in hf:
        missing.append("n_positions")
    if missing:
        raise ValueError(f"from_hf: config.json lacks {missing}")
    act = hf.get("activation_function", "gelu_new")  # GPT2Config's default
    if act not in _TANH_GELU:
        raise ValueError(
            f"from_hf: activation_function {act!r} is not supported; npgpt's GPT uses the tanh "
            f"GELU of GPT-2 ({' or '.join(map(repr, _TANH_GELU))})"
        )
    n_inner = hf.get("n_inner")
    if n_inner is not None and n_inner != 4 * hf["n_embd"]:
        raise ValueError(f"from_hf: n_inner={n_inner}; npgpt's MLP is 4 * n_embd = {4 * hf['n_embd']} wide")
    for key, ok in (
        ("scale_attn_weights", True),
        ("scale_attn_by_inverse_layer_idx", False),
        ("add_cross_attention", False),
    ):
        if hf.get(key, ok) != ok:
            raise ValueError(f"from_hf: {key}={hf[key]!r} changes the architecture; npgpt supports only {key}={ok}")
    return GPTConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf.get("n_positions", hf.get("n_ctx")),
        n_layer=hf["n_layer"],
        n_head=hf["n_head"],
        n_embd=hf["n_embd"],
        dropout=0.0,
        bias=True,
        pos_encoding="learned",
        ln_eps=float(hf.get("layer_norm_epsilon", 1e-5)),
    )
    ### END SOLUTION 13.2


def config_to_hf(config):
    """A GPT-2 ``config.json`` dict for ``config`` (which must be GPT-2-shaped)."""
    if config.pos_encoding != "learned":
        raise ValueError(f"save_hf: GPT-2 has learned positions; pos_encoding={config.pos_encoding!r} has no HF form")
    if not config.bias:
        raise ValueError("save_hf: GPT-2 always has biases; a bias=False model has no HF GPT-2 form")
    if config.norm != "pre":
        raise ValueError(f"save_hf: GPT-2 is pre-LN; norm={config.norm!r} has no HF GPT-2 form")
    eos = 50256 if config.vocab_size > 50256 else None  # GPT-2's <|endoftext|> only if the vocabulary has it
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": config.dropout,
        "bos_token_id": eos,
        "embd_pdrop": config.dropout,
        "eos_token_id": eos,
        "initializer_range": 0.02,
        "layer_norm_epsilon": config.ln_eps,
        "model_type": "gpt2",
        "n_ctx": config.block_size,
        "n_embd": config.n_embd,
        "n_head": config.n_head,
        "n_inner": None,
        "n_layer": config.n_layer,
        "n_positions": config.block_size,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": config.dropout,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "tie_word_embeddings": True,
        "use_cache": True,
        "vocab_size": config.vocab_size,
    }


# ----------------------------------------------------------------------------- files
def _check_folder(folder):
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        raise FileNotFoundError(f"from_hf: no such folder {folder!r}")
    if not os.path.isdir(folder):
        raise NotADirectoryError(
            f"from_hf: {folder!r} is a file; pass the folder holding config.json and model.safetensors"
        )
    return folder


def _read_config(folder):
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"from_hf: {folder!r} has no config.json (a HuggingFace model folder has config.json and model.safetensors)"
        )
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"from_hf: {path} is not valid JSON: {e}") from None


def _load_safetensors(path):
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except TypeError as e:  # e.g. bfloat16, which NumPy has no dtype for
        raise ValueError(
            f"from_hf: cannot read {path} into NumPy ({e}); save the checkpoint in float32 or "
            "float16 (e.g. model.to(torch.float32).save_pretrained(...))"
        ) from None


def read_hf_weights(folder):
    """name -> NumPy array from ``model.safetensors`` (or the shards its index lists).

    Refuses pickle checkpoints with ``PICKLE_REFUSAL``; FileNotFoundError when there are no weights.
    """
    folder = _check_folder(folder)
    single = os.path.join(folder, "model.safetensors")
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.isfile(single):
        return _load_safetensors(single)
    if os.path.isfile(index):
        with open(index, encoding="utf-8") as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        weights = {}
        for shard in shards:
            weights.update(_load_safetensors(os.path.join(folder, shard)))
        return weights
    pickles = [
        n
        for n in sorted(os.listdir(folder))
        if n in _PICKLE_FILES or n.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl"))
    ]
    if pickles:
        raise ValueError(PICKLE_REFUSAL.format(name=", ".join(pickles), folder=folder))
    raise FileNotFoundError(f"from_hf: {folder!r} has no model.safetensors (files there: {sorted(os.listdir(folder))})")


def hf_to_npgpt_state(weights, config):
    """Map HF GPT-2 arrays (name -> array) to npgpt's names and layouts for ``config``.

    ### BEGIN SOLUTION 13.1
    Strip ``transformer.``, drop mask buffers and the tied ``lm_head.weight`` (checked equal to wte),
    transpose Conv1D weights (in, out) -> (out, in).
    ### END SOLUTION 13.1
    Raises ValueError listing every missing, unexpected or mis-shaped key (``mismatch_report``).
    """
    ### BEGIN SOLUTION 13.1
    state, unexpected, mis_shaped = {}, [], []
    lm_head = None
    for key, a in weights.items():
        name = key.removeprefix("transformer.")
        if _BUFFER.search(name):
            continue
        if name == "lm_head.weight":
            lm_head = a
            continue
        state["transformer." + name] = a
    model_shapes = _expected_shapes(config)
    for name in list(state):
        if name not in model_shapes:
            unexpected.append(name)
            del state[name]
            continue
        a, want = state[name], model_shapes[name]
        if _is_conv1d(name):
            if a.ndim != 2 or a.shape[::-1] != want:
                mis_shaped.append(f"{name}: file {a.shape}, expected Conv1D (in, out) {want[::-1]}")
                continue
            a = a.T
        elif a.shape != want:
            mis_shaped.append(f"{name}: file {a.shape}, expected {want}")
            continue
        state[name] = np.ascontiguousarray(a)
    missing = [n for n in model_shapes if n not in state]
    if missing or unexpected or mis_shaped:
        title = "from_hf: the weights do not fit a GPT-2 of this config.json"
        raise ValueError(mismatch_report(title, missing, unexpected, mis_shaped))
    if lm_head is not None and not np.array_equal(lm_head, state["transformer.wte.weight"]):
        raise ValueError(
            "from_hf: lm_head.weight differs from transformer.wte.weight; npgpt's GPT ties the "
            "output head to the token embedding and cannot hold a separate one"
        )
    return state
    ### END SOLUTION 13.1


def _expected_shapes(config):
    """npgpt name -> shape for a GPT-2 config, counted on paper (no model needed)."""
    C, V, T = config.n_embd, config.vocab_size, config.block_size
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C)}
    for i in range(config.n_layer):
        p = f"transformer.h.{i}."
        shapes.update(
            {
                p + "ln_1.weight": (C,),
                p + "ln_1.bias": (C,),
                p + "attn.c_attn.weight": (3 * C, C),
                p + "attn.c_attn.bias": (3 * C,),
                p + "attn.c_proj.weight": (C, C),
                p + "attn.c_proj.bias": (C,),
                p + "ln_2.weight": (C,),
                p + "ln_2.bias": (C,),
                p + "mlp.c_fc.weight": (4 * C, C),
                p + "mlp.c_fc.bias": (4 * C,),
                p + "mlp.c_proj.weight": (C, 4 * C),
                p + "mlp.c_proj.bias": (C,),
            }
        )
    shapes.update({"transformer.ln_f.weight": (C,), "transformer.ln_f.bias": (C,)})
    return shapes


# ----------------------------------------------------------------------------- folders
def read_folder(folder):
    """(``GPTConfig``, npgpt-layout state dict of NumPy arrays) from a local HuggingFace GPT-2
    folder (config.json + model.safetensors). Nothing is downloaded."""
    folder = _check_folder(folder)
    config = config_from_hf(_read_config(folder))
    return config, hf_to_npgpt_state(read_hf_weights(folder), config)


def npgpt_to_hf_state(model):
    """The model's state dict in HF GPT-2 layout: ``transformer.`` names, Conv1D weights (in, out),
    contiguous NumPy arrays (copied to the CPU)."""
    out = {}
    for name, a in model.state_dict().items():
        a = to_device(a, "cpu")
        out[name] = np.ascontiguousarray(a.T if _is_conv1d(name) else a)
    return out


def write_folder(model, folder):
    """Write ``model`` (a GPT) as a HuggingFace GPT-2 folder: config.json and model.safetensors."""
    from safetensors.numpy import save_file

    hf_config = config_to_hf(model.config)
    hf_config["torch_dtype"] = str(np.dtype(model.transformer.wte.weight.dtype))
    os.makedirs(folder, exist_ok=True)
    save_file(npgpt_to_hf_state(model), os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(hf_config, f, indent=2, sort_keys=True)
        f.write("\n")
    return folder
