"""Loading text and cutting it into (x, y) training batches."""

from importlib import resources
from pathlib import Path

import numpy as np

from .errors import DataError
from .tokenizer import CharTokenizer

SPLITS = ("train", "val")


def shakespeare_path():
    """Path of the shipped corpus, npgpt/data/shakespeare.txt (about 1 MB)."""
    res = resources.files(__package__).joinpath("shakespeare.txt")
    path = res if isinstance(res, Path) else Path(__file__).with_name("shakespeare.txt")
    if not path.is_file():
        raise DataError(f"shipped corpus missing: {path} (is data/*.txt in the package data?)")
    return path


def load_text(path):
    """Read a whole UTF-8 text file and return it as str.

    Raises DataError for a missing path, a directory, an empty file or bytes
    that are not valid UTF-8 (with the byte offset of the first bad byte).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"text file not found: {path}")
    if path.is_dir():
        raise DataError(f"expected a text file, got a directory: {path}")
    raw = path.read_bytes()
    if not raw:
        raise DataError(f"text file is empty: {path}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not valid UTF-8: byte 0x{raw[e.start]:02x} at byte offset {e.start} ({e.reason})"
        ) from None


def split_index(n_chars, val_fraction=0.1):
    """The character where validation text starts: the first (1 - val_fraction) is for training."""
    return int(n_chars * (1.0 - val_fraction))


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class TextDataset:
    """A text encoded once into int64 token ids, split into train and val.

    ``tokenizer`` is any npgpt tokenizer (default: a CharTokenizer built from ``text``).
    The text is cut at character ``split_index(len(text), val_fraction)``: ``train`` holds the ids
    of the text before it, ``val`` those of the rest (the last 10% by default), so validation
    text is never trained on.
    """

    def __init__(self, text, tokenizer=None, val_fraction=0.1):
        if not isinstance(text, str) or not text:
            raise DataError("TextDataset needs a non-empty str")
        if not 0.0 <= val_fraction < 1.0:
            raise DataError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
        self.tokenizer = tokenizer if tokenizer is not None else CharTokenizer.from_text(text)
        self.val_fraction = val_fraction
        # split the *text*, then encode each part: the cut is at the same character for every
        # tokenizer, and a tokenizer learned on text[:cut] never saw the validation text
        cut = split_index(len(text), val_fraction)
        train = self.tokenizer.encode(text[:cut])
        self.data = np.asarray(train + self.tokenizer.encode(text[cut:]), dtype=np.int64)  # (N,)
        self.train = self.data[: len(train)]  # views, no copies
        self.val = self.data[len(train) :]

    @property
    def vocab_size(self):
        return self.tokenizer.vocab_size

    def split(self, name):
        """The (N_split,) int64 ids of 'train' or 'val'."""
        if name not in SPLITS:
            raise DataError(f"split must be one of {SPLITS}, got {name!r}")
        return self.train if name == "train" else self.val

    def get_batch(self, split, batch_size, block_size, rng):
        """Sample batch_size random windows of block_size + 1 tokens.

        Returns (x, y), both int64 arrays of shape (B, T) = (batch_size,
        block_size), with y[:, t] = x[:, t + 1] in the text: y is the next
        token to predict at each position. ``rng`` is a numpy.random.Generator
        (seeded by the caller for reproducibility).
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        B = _positive_int("batch_size", batch_size)
        T = _positive_int("block_size", block_size)
        data = self.split(split)
        if len(data) < T + 1:
            raise DataError(f"{split} split has {len(data)} tokens, but block_size={T} needs at least {T + 1}")
        starts = rng.integers(0, len(data) - T, size=B)  # last start = len - T - 1
        windows = data[starts[:, None] + np.arange(T + 1)]  # (B, T+1)
        return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])

    def fixed_batches(self, split, n_batches, batch_size, block_size, seed):
        """The same n_batches (x, y) pairs for the same seed: for comparable evals."""
        n = _positive_int("n_batches", n_batches)
        rng = np.random.default_rng(seed)
        return [self.get_batch(split, batch_size, block_size, rng) for _ in range(n)]

    def describe(self):
        """One-line summary: size, vocabulary and split lengths."""
        return (
            f"{len(self.data):,} tokens, vocab_size={self.vocab_size}, "
            f"train={len(self.train):,}, val={len(self.val):,} "
            f"(val_fraction={self.val_fraction})"
        )

    def __repr__(self):
        return f"TextDataset({self.describe()})"
