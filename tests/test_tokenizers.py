"""The interface every npgpt tokenizer shares (CharTokenizer and BPETokenizer alike)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from npgpt.data import DataError, TextDataset, split_index
from npgpt.tokenizers import BPETokenizer, CharTokenizer, Tokenizer, TokenizerError, load_tokenizer

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 5
SPECIALS = ["<|user|>", "<|assistant|>", "<|end|>"]


def make(kind):
    if kind == "char":
        return CharTokenizer.from_text(TEXT + "<|>")
    return BPETokenizer.train(TEXT, 300)


@pytest.fixture(params=["char", "bpe"])
def tok(request):
    return make(request.param)


def test_encode_returns_a_list_of_ints_and_decodes_back(tok):
    ids = tok.encode(TEXT)
    assert isinstance(ids, list) and all(type(i) is int for i in ids)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == TEXT
    assert tok.decode(np.array(ids)) == TEXT  # arrays and numpy integers too
    assert tok.encode("") == [] and tok.decode([]) == ""
    assert len(tok) == tok.vocab_size and tok.special_tokens == {}


@pytest.mark.parametrize("bad", [-1, "n", "n+5"])
def test_decode_rejects_out_of_range_ids_in_one_line(tok, bad):
    i = {"n": tok.vocab_size, "n+5": tok.vocab_size + 5}.get(bad, bad)
    with pytest.raises(TokenizerError, match="out of range") as info:
        tok.decode([0, i])
    assert str(i) in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, DataError) and isinstance(info.value, ValueError)
    with pytest.raises(TokenizerError, match="integers"):
        tok.decode([1.5])


def test_special_tokens_are_appended_and_leave_ids_alone(tok):
    chat = tok.with_special_tokens(SPECIALS)
    n = tok.vocab_size
    assert chat.special_tokens == {s: n + k for k, s in enumerate(SPECIALS)}
    assert chat.vocab_size == n + 3 and tok.vocab_size == n  # a new tokenizer; the old one unchanged
    assert chat.encode(TEXT) == tok.encode(TEXT)
    again = chat.with_special_tokens(["<|end|>", "<|system|>"])  # known names are kept, new ones appended
    assert again.special_tokens == {**chat.special_tokens, "<|system|>": n + 3}
    text = "<|user|>hear me<|end|><|assistant|>speak<|end|>"
    ids = chat.encode(text, allowed_special="all")
    assert ids[0] == chat.token_to_id("<|user|>") == n and ids[-1] == n + 2
    assert ids.count(n + 2) == 2 and chat.decode(ids) == text
    only_end = chat.encode(text, allowed_special={"<|end|>"})
    assert n not in only_end and only_end.count(n + 2) == 2
    assert chat.decode(only_end) == text
    with pytest.raises(TokenizerError, match="unknown special"):
        chat.encode(text, allowed_special={"<|nope|>"})


def test_a_special_name_not_allowed_is_ordinary_text():
    bpe = BPETokenizer.train(TEXT, 300).with_special_tokens(["<|end|>"])
    ids = bpe.encode("speak<|end|>")
    assert bpe.special_tokens["<|end|>"] not in ids and bpe.decode(ids) == "speak<|end|>"
    char = CharTokenizer.from_text("abc").with_special_tokens(["<|end|>"])
    with pytest.raises(TokenizerError, match="not in the vocabulary"):
        char.encode("a<|end|>")  # as ordinary text its characters are unknown
    assert char.encode("a<|end|>", allowed_special="all") == [0, 3]


def test_special_names_colliding_with_tokens_are_refused():
    with pytest.raises(TokenizerError, match="collides"):
        CharTokenizer.from_text("abc").with_special_tokens(["a"])
    with pytest.raises(TokenizerError, match="collides"):
        BPETokenizer.train(TEXT, 300).with_special_tokens(["e"])
    with pytest.raises(TokenizerError, match="non-empty"):
        CharTokenizer.from_text("abc").with_special_tokens([""])


def test_id_to_token_and_token_to_id():
    char = CharTokenizer.from_text("abc")
    assert char.id_to_token(1) == "b" and char.token_to_id("c") == 2
    bpe = BPETokenizer.train(TEXT, 300)
    assert bpe.id_to_token(ord("a")) == b"a" and bpe.token_to_id(b"a") == bpe.token_to_id("a") == ord("a")
    assert all(bpe.token_to_id(bpe.id_to_token(i)) == i for i in range(256))
    with pytest.raises(TokenizerError):
        char.token_to_id("z")
    with pytest.raises(TokenizerError, match="out of range"):
        bpe.id_to_token(bpe.vocab_size)


def test_save_load_round_trip_returns_the_same_kind(tok, tmp_path):
    chat = tok.with_special_tokens(SPECIALS)
    path = chat.save(tmp_path / "tok.json")
    for loaded in (type(chat).load(path), Tokenizer.load(path), load_tokenizer(path), load_tokenizer(chat.to_json())):
        assert type(loaded) is type(chat) and loaded == chat
        assert loaded.special_tokens == chat.special_tokens
        assert loaded.encode(TEXT + "<|end|>", allowed_special="all") == chat.encode(
            TEXT + "<|end|>", allowed_special="all"
        )
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert obj["format"] == "npgpt.tokenizer" and obj["version"] == 1 and obj["kind"] == chat.kind
    other = CharTokenizer if isinstance(chat, BPETokenizer) else BPETokenizer
    with pytest.raises(TokenizerError, match="not a " + other.__name__):
        other.load(path)


def test_old_char_tokenizer_files_still_load(tmp_path):
    old = json.dumps({"format": "npgpt.CharTokenizer", "version": 1, "chars": list("\n !abc")})
    tok = load_tokenizer(old)
    assert isinstance(tok, CharTokenizer) and tok.chars == list("\n !abc")
    assert CharTokenizer.from_json(old) == tok and tok.encode("cab !") == [5, 3, 4, 1, 2]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "not valid JSON"),
        ('{"format": "npgpt.tokenizer", "version": 1, "kind": "bpe", "merges": [[1', "not valid JSON"),
        ("[1, 2]", "not an npgpt tokenizer"),
        ('{"format": "something.else"}', "not an npgpt tokenizer"),
        ('{"format": "npgpt.tokenizer", "version": 99, "kind": "char", "chars": ["a"]}', "version 99"),
        ('{"format": "npgpt.tokenizer", "version": 1, "kind": "wordpiece"}', "unknown tokenizer kind"),
        ('{"format": "npgpt.tokenizer", "version": 1, "kind": "char"}', "malformed"),
        ('{"format": "npgpt.tokenizer", "version": 1, "kind": "char", "chars": "abc"}', "malformed"),
        (
            '{"format": "npgpt.tokenizer", "version": 1, "kind": "bpe", "pattern": "gpt2", "byte_ids": [0], "merges": []}',
            "malformed",
        ),
        (
            '{"format": "npgpt.tokenizer", "version": 1, "kind": "bpe", "pattern": "gpt2", "merges": [[300, 1]]}',
            "malformed",
        ),
    ],
)
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TokenizerError, match=message) as info:
        load_tokenizer(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_saved_file_is_an_error(tmp_path, tok):
    path = tok.save(tmp_path / "tok.json")
    path.write_text(path.read_text(encoding="utf-8")[:-10], encoding="utf-8")
    with pytest.raises(TokenizerError, match="broken|truncated|not valid JSON"):
        type(tok).load(path)
    with pytest.raises(TokenizerError, match="not found"):
        load_tokenizer(tmp_path / "missing.json")


def test_save_is_atomic(tmp_path, monkeypatch, tok):
    path = tok.save(tmp_path / "tok.json")
    before = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        tok.with_special_tokens(SPECIALS).save(path)
    assert path.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok.json"]  # no temporary left behind


@pytest.mark.parametrize("first", ["npgpt.tokenizers", "npgpt.data", "npgpt.tokenizers.bpe", "npgpt.data.tokenizer"])
def test_packages_import_in_any_order(first):
    code = f"import {first}; from npgpt.data import CharTokenizer as A; from npgpt.tokenizers import CharTokenizer as B; assert A is B"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dataset_cuts_the_text_at_the_same_character_for_every_tokenizer():
    cut = split_index(len(TEXT), 0.1)
    for tok in (CharTokenizer.from_text(TEXT), BPETokenizer.train(TEXT[:cut], 300)):
        ds = TextDataset(TEXT, tokenizer=tok)
        assert tok.decode(ds.train) == TEXT[:cut] and tok.decode(ds.val) == TEXT[cut:]
        assert ds.data.dtype == np.int64 and len(ds.data) == len(ds.train) + len(ds.val)
