"""BPETokenizer.train and the merge loops: held equal to plain, obviously-correct references."""

import os
import random
import re

import numpy as np
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from npgpt.data import load_text, shakespeare_path
from npgpt.tokenizers import GPT2_PATTERN, GPT4_PATTERN, BPETokenizer, TokenizerError, load_tokenizer
from npgpt.tokenizers import merges as M
from npgpt.tokenizers.pretokenize import GPT2_ASCII, split_text

SMALL = [
    "aaabdaaabac",
    "hello hello hello world, the world is wide; hello again!",
    "low lower lowest newer newest wider widest " * 3,
    "Café, naïve 日本語 日本 😀😀 2024 ... !!!\n\n  x",
]


def reference_train(text, n_merges, pattern):
    """The textbook loop, written independently of npgpt: split with the regex, take every chunk's
    UTF-8 bytes, then repeat: count all adjacent pairs in all chunks, merge the most frequent (ties:
    the smallest pair) everywhere, left to right."""
    chunks = [list(c.encode("utf-8")) for c in regex.findall(pattern, text)]
    merges = []
    for k in range(n_merges):
        counts = {}
        for c in chunks:
            for pair in zip(c, c[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        top = max(counts.values())
        pair = min(p for p, n in counts.items() if n == top)
        merges.append(pair)
        for c in chunks:
            i = 0
            while i < len(c) - 1:
                if (c[i], c[i + 1]) == pair:
                    c[i : i + 2] = [256 + k]
                i += 1
    return merges


def reference_encode(text, merges, pattern):
    """Encode by replaying every merge in learned order over every chunk (slow and plain)."""
    out = []
    for chunk in regex.findall(pattern, text):
        ids = list(chunk.encode("utf-8"))
        for k, pair in enumerate(merges):
            ids = M.merge(ids, pair, 256 + k)
        out += ids
    return out


@pytest.mark.parametrize("pattern", ["gpt2", "gpt4"])
@pytest.mark.parametrize("k", range(len(SMALL)))
def test_train_learns_the_reference_merges_in_order(k, pattern):
    text = SMALL[k]
    regex_text = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}[pattern]
    expected = reference_train(text, 1000, regex_text)  # every merge the text allows
    tok = BPETokenizer.train(text, 256 + len(expected), pattern=pattern)
    assert tok.merges == expected
    assert tok.encode(text) == reference_encode(text, expected, regex_text)
    assert tok.decode(tok.encode(text)) == text


def test_train_on_a_corpus_slice_matches_the_reference():
    text = load_text(shakespeare_path())[:3000]
    expected = reference_train(text, 60, GPT2_PATTERN)
    assert BPETokenizer.train(text, 256 + 60).merges == expected
    assert BPETokenizer.train(text, 256 + 60, special_tokens=["<|end|>"]).merges == expected[:-1]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.lists(st.integers(0, 5), min_size=1, max_size=12).map(tuple), st.integers(1, 4), max_size=8))
def test_incremental_training_equals_the_recount_loop(words):
    assert M.train(words, 40) == M.train_simple(words, 40)


def test_fast_merge_loop_equals_the_readable_one():
    rng = random.Random(0)
    text = load_text(shakespeare_path())[:20000]
    tok = BPETokenizer.train(text, 600)
    for _ in range(300):
        n = rng.choice([0, 1, 2, 3, 8, 40, M.SHORT, M.SHORT + 1, 300])
        ids = [rng.choice(b"etaoin shrdlu\n") for _ in range(n)]
        expected = M.bpe_encode_simple(ids, tok.ranks)
        assert M.bpe_encode(ids, tok.ranks) == M.bpe_encode_heap(ids, tok.ranks) == expected
    runs = [[ord("e")] * 101, [ord(" ")] * 64, list(b"ab" * 50)]  # overlapping pairs
    for ids in runs:
        assert M.bpe_encode(ids, tok.ranks) == M.bpe_encode_heap(ids, tok.ranks) == M.bpe_encode_simple(ids, tok.ranks)
    chunks = [
        [rng.choice(b"etaoin shrdlu\n") for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 13, M.SHORT, M.SHORT + 1]))]
        for _ in range(600)
    ]  # several lengths with more than M.FEW chunks each (the NumPy rows), a few with fewer, long ones
    chunks += [bytes(c) for c in chunks[:50]] + runs
    table = M.RankTable(tok.ranks)
    pairs = [*tok.ranks, *((rng.randrange(600), rng.randrange(600)) for _ in range(3000))]  # merged or not
    a, b = np.array(pairs).T
    assert table.ranks(a, b).tolist() == [tok.ranks.get(p, M._NEVER) for p in pairs]
    assert M.bpe_encode_many(chunks, table) == [M.bpe_encode_simple(c, tok.ranks) for c in chunks]
    assert M.merge([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]
    assert M.get_stats([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}


@pytest.mark.parametrize("pattern", ["gpt2", "gpt4"])
def test_trained_tokenizer_encodes_like_tiktoken_with_the_same_ranks(pattern):
    tiktoken = _require("tiktoken")
    text = load_text(shakespeare_path())
    tok = BPETokenizer.train(text[:200_000], 700, pattern=pattern)
    ranks = {tok.vocab[i]: i for i in range(len(tok.vocab))}
    enc = tiktoken.Encoding(f"npgpt-{pattern}", pat_str=tok.pattern, mergeable_ranks=ranks, special_tokens={})
    probe = text[-100_000:] + "\n".join(["It's 12345 naïve 日本 😀", "  \t\n\n x", "WE'LL 'Re"])
    assert tok.encode(probe) == enc.encode_ordinary(probe)


def _require(module):
    try:
        return pytest.importorskip(module, reason=f"{module} not installed: cross-check skipped")
    except pytest.skip.Exception:
        if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
            pytest.fail(f"NPGPT_REQUIRE_TORCH=1 but {module} does not import (pip install -e '.[reference]')")
        raise


def _cl100k_pattern():
    """tiktoken's own cl100k_base pattern (cl100k_base() would download the ranks; the pattern is a
    string constant of that function, or of the module in some versions)."""
    openai_public = _require("tiktoken_ext.openai_public")
    consts = [getattr(openai_public, "cl100k_pat_str", None), *openai_public.cl100k_base.__code__.co_consts]
    found = [c for c in consts if isinstance(c, str) and "\\p{L}" in c and "\\p{N}{1,3}" in c]
    if not found:
        pytest.skip("this tiktoken version keeps cl100k's pattern elsewhere")
    return found[0]


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_gpt4_pattern_splits_as_tiktoken_cl100k(text):
    assert split_text(text, "gpt4") == regex.findall(_cl100k_pattern(), text)
    assert "".join(split_text(text, "gpt2")) == text and "".join(split_text(text, "gpt4")) == text


def test_gpt2_ascii_pattern_has_the_classes_of_gpt2s_on_ascii():
    for c in map(chr, range(128)):
        for ours, gpt2s in (("[A-Za-z]", r"\p{L}"), ("[0-9]", r"\p{N}"), (r"\s", r"\s"), (r"\S", r"\S")):
            assert bool(re.fullmatch(ours, c, re.ASCII)) == bool(regex.fullmatch(gpt2s, c)), (repr(c), ours)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)) | st.text(alphabet=" \t\n\r\x0b\x0c\x1c'sdtlmrevA1!_"))
def test_gpt2_ascii_pattern_splits_as_gpt2s_pattern(text):
    assert GPT2_ASCII.findall(text) == regex.findall(GPT2_PATTERN, text)


def test_special_tokens_are_never_split_or_merged_into():
    text = SMALL[2]
    specials = ["<|endoftext|>", "<|user|>", "<|end|>"]
    tok = BPETokenizer.train(text, 256 + 20 + 3, special_tokens=specials)
    n = 256 + 20
    assert tok.special_tokens == {s: n + k for k, s in enumerate(specials)}
    assert all(a < n and b < n for a, b in tok.merges)
    doc = "<|user|>lower<|end|>newest<|endoftext|><|endoftext|>"
    ids = tok.encode(doc, allowed_special="all")
    assert ids == [n + 1, *tok.encode("lower"), n + 2, *tok.encode("newest"), n, n]
    assert tok.decode(ids) == doc
    assert all(i < n for i in tok.encode(doc))  # not allowed: plain text, split into bytes and merges


def test_training_is_deterministic_and_saves_exactly(tmp_path):
    text = load_text(shakespeare_path())[:50_000]
    a, b = BPETokenizer.train(text, 400), BPETokenizer.train(text, 400)
    assert a.merges == b.merges
    loaded = load_tokenizer(a.save(tmp_path / "bpe.json"))
    assert loaded == a and loaded.encode(text[:5000]) == a.encode(text[:5000])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"text": "", "vocab_size": 300}, "empty"),
        ({"text": "abc", "vocab_size": 255}, ">= 256"),
        ({"text": "abc", "vocab_size": 257, "special_tokens": ["<|a|>", "<|b|>"]}, ">= 258"),
        ({"text": "abc", "vocab_size": True}, "integer"),
        ({"text": "abc", "vocab_size": 300.0}, "integer"),
        ({"text": "abc abc", "vocab_size": 1000}, "at most 259 tokens"),
        ({"text": "hi <|end|> there", "vocab_size": 260, "special_tokens": ["<|end|>"]}, "occurs in the training text"),
        ({"text": "abc", "vocab_size": 260, "pattern": "(unclosed"}, "not a valid regex"),
    ],
)
def test_bad_training_input_is_a_one_line_error(kwargs, message, tmp_path):
    with pytest.raises(TokenizerError, match=message) as info:
        BPETokenizer.train(**kwargs)
    assert "\n" not in str(info.value)


def test_train_to_exactly_the_largest_possible_vocabulary():
    tok = BPETokenizer.train("abc abc", 259)  # chunks "abc", " abc": merges ab, abc, then " " + abc
    assert tok.vocab_size == 259 and tok.encode("abc abc") == [257, 258]
