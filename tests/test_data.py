"""Tests for npgpt.data: shipped corpus, CharTokenizer, load_text, TextDataset."""

import numpy as np
import pytest

from npgpt.data import CharTokenizer, DataError, TextDataset, load_text, shakespeare_path

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20


@pytest.fixture(scope="module")
def corpus():
    return load_text(shakespeare_path())


# --- shipped corpus -------------------------------------------------------


def test_corpus_exists_and_is_about_1mb(corpus):
    assert shakespeare_path().is_file()
    assert 1_000_000 <= len(corpus) <= 1_150_000


def test_corpus_is_clean_ascii(corpus):
    assert corpus.isascii()
    assert "\r" not in corpus and "\t" not in corpus
    assert "\n\n\n\n" not in corpus  # 3+ blank lines were collapsed
    assert corpus.endswith("\n") and not corpus.endswith("\n\n")
    assert not any(line != line.rstrip() for line in corpus.split("\n"))
    assert "gutenberg" not in corpus.lower()
    assert corpus.startswith("HAMLET, PRINCE OF DENMARK\n")
    assert 60 <= len(set(corpus)) <= 100


# --- tokenizer ------------------------------------------------------------


def test_tokenizer_vocab_is_sorted_unique():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == sorted(set("hello world"))
    assert tok.vocab_size == len(tok) == 8


def test_tokenizer_round_trip(corpus):
    tok = CharTokenizer.from_text(corpus)
    ids = tok.encode(corpus[:5000])  # a list of Python ints, as every npgpt tokenizer returns
    assert isinstance(ids, list) and len(ids) == 5000 and all(type(i) is int for i in ids)
    assert min(ids) >= 0 and max(ids) < tok.vocab_size
    assert tok.decode(ids) == corpus[:5000]
    assert tok.decode(np.array(ids)) == corpus[:5000]
    assert tok.decode(list(np.array(ids))) == corpus[:5000]  # numpy integer scalars
    assert tok.encode("") == [] and tok.decode([]) == ""


@pytest.mark.torch
def test_decode_accepts_anything_with_tolist(torch):
    tok = CharTokenizer.from_text("abc")
    assert tok.decode(torch.tensor([2, 0, 1])) == "cab"


def test_unknown_character_error_names_it():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(DataError) as info:
        tok.encode("abz\u00e9")
    msg = str(info.value)
    assert repr("z") in msg and repr("\u00e9") in msg
    assert "abc" in msg  # says what is allowed
    assert isinstance(info.value, ValueError)


def test_decode_rejects_bad_ids():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(DataError, match="out of range"):
        tok.decode([0, 3])
    with pytest.raises(DataError):
        tok.decode([[0, 1]])


def test_json_save_load_round_trip(tmp_path, corpus):
    tok = CharTokenizer.from_text(corpus + "\u00e9\u2014")  # non-ASCII survives too
    assert CharTokenizer.from_json(tok.to_json()) == tok
    path = tmp_path / "tok.json"
    tok.save(path)
    loaded = CharTokenizer.load(path)
    assert loaded.chars == tok.chars
    np.testing.assert_array_equal(loaded.encode(corpus[:1000]), tok.encode(corpus[:1000]))
    with pytest.raises(DataError):
        CharTokenizer.from_json('{"chars": "oops"}')


# --- load_text --------------------------------------------------------------


def test_load_text_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(DataError, match="not found") as info:
        load_text(path)
    assert str(path) in str(info.value)


def test_load_text_directory_and_empty(tmp_path):
    with pytest.raises(DataError, match="directory"):
        load_text(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_text(empty)


def test_load_text_non_utf8_reports_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"hello \xe9t\xe9")  # Latin-1, first bad byte at offset 6
    with pytest.raises(DataError, match="UTF-8") as info:
        load_text(path)
    assert "offset 6" in str(info.value)


def test_load_text_reads_utf8(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_bytes("caf\u00e9\n".encode("utf-8"))
    assert load_text(path) == "caf\u00e9\n"


# --- TextDataset --------------------------------------------------------------


def test_batches_shapes_dtypes_and_shift():
    ds = TextDataset(TEXT)
    x, y = ds.get_batch("train", 4, 16, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 16)
    assert x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    for row_x, row_y in zip(x, y):  # every window really is in the train text
        window = ds.tokenizer.decode(row_x) + ds.tokenizer.decode(row_y[-1:])
        assert window in ds.tokenizer.decode(ds.train)


def test_windows_stay_in_bounds():
    ds = TextDataset("abcdefghij", val_fraction=0.0)
    x, y = ds.get_batch("train", 200, 9, np.random.default_rng(1))  # only one window fits
    assert (x == ds.tokenizer.encode("abcdefghi")).all()
    assert (y == ds.tokenizer.encode("bcdefghij")).all()


def test_seeded_batches_are_reproducible():
    ds = TextDataset(TEXT)
    a = ds.get_batch("val", 3, 8, np.random.default_rng(42))
    b = ds.get_batch("val", 3, 8, np.random.default_rng(42))
    np.testing.assert_array_equal(a[0], b[0])
    f1 = ds.fixed_batches("val", 5, 3, 8, seed=7)
    f2 = ds.fixed_batches("val", 5, 3, 8, seed=7)
    assert len(f1) == 5
    for (x1, y1), (x2, y2) in zip(f1, f2):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_val_split_is_last_ten_percent(corpus):
    ds = TextDataset(corpus)
    n = len(corpus)
    assert len(ds.train) + len(ds.val) == n
    assert len(ds.val) == n - int(n * 0.9)
    np.testing.assert_array_equal(ds.val, ds.tokenizer.encode(corpus[int(n * 0.9) :]))
    np.testing.assert_array_equal(ds.train, ds.tokenizer.encode(corpus[: int(n * 0.9)]))
    assert f"{len(ds.val):,}" in ds.describe() and "vocab_size=" in ds.describe()


def test_too_short_split_raises():
    ds = TextDataset("x" * 100)  # val has 10 tokens
    with pytest.raises(DataError, match="10 tokens"):
        ds.get_batch("val", 2, 10, np.random.default_rng(0))
    ds.get_batch("val", 2, 9, np.random.default_rng(0))  # 10 tokens is exactly enough


def test_bad_arguments_raise():
    ds = TextDataset(TEXT)
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match="split"):
        ds.get_batch("test", 2, 4, rng)
    with pytest.raises(DataError, match="block_size"):
        ds.get_batch("train", 2, 0, rng)
    with pytest.raises(TypeError):
        ds.get_batch("train", 2, 4, 0)
    with pytest.raises(DataError):
        TextDataset("")
    with pytest.raises(DataError, match="not in the vocabulary"):
        TextDataset("abc!", tokenizer=CharTokenizer.from_text("abc"))
