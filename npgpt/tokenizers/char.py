"""Character-level tokenizer: one token id per character."""

from __future__ import annotations

import numpy as np

from .base import Tokenizer, TokenizerError, allowed_set, check_ids, check_special_names, split_on_specials

_MAX_LISTED = 100  # longer vocabularies are summarised by size in error messages


class CharTokenizer(Tokenizer):
    """Maps each character of a fixed vocabulary to an id in [0, len(chars)).

    Id i is ``chars[i]``; ``from_text`` uses the sorted unique characters, so the same text always
    gives the same ids. Special tokens (``special_tokens``, name -> id) follow the characters.

    ``encode`` raises for a character outside the vocabulary. A special token's name that appears
    in the text without being allowed is encoded character by character, so it raises too unless
    every one of its characters is in the vocabulary.
    """

    kind = "char"

    def __init__(self, chars, special_tokens=()):
        chars = list(chars)
        bad = [c for c in chars if not (isinstance(c, str) and len(c) == 1)]
        if bad:
            raise TokenizerError(f"vocabulary entries must be single characters, got {bad[:5]!r}")
        if not chars:
            raise TokenizerError("vocabulary is empty")
        if len(set(chars)) != len(chars):
            dup = sorted({c for c in chars if chars.count(c) > 1})
            raise TokenizerError(f"vocabulary has duplicate characters: {dup!r}")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}
        # Lookup table indexed by code point (-1 = unknown): encodes 1 MB in ~ms.
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        self._table = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        self._table[codes] = np.arange(len(chars), dtype=np.int64)
        self.special_tokens = {}
        for name in check_special_names(special_tokens, {}):
            if name in self.stoi:
                raise TokenizerError(f"special token {name!r} collides with the vocabulary character {name!r}")
            self.special_tokens[name] = len(chars) + len(self.special_tokens)
        self._special_names = {i: s for s, i in self.special_tokens.items()}

    @classmethod
    def from_text(cls, text, special_tokens=()):
        """Vocabulary = sorted unique characters of ``text`` (a non-empty str)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if not text:
            raise TokenizerError("cannot build a vocabulary from empty text")
        return cls(sorted(set(text)), special_tokens)

    def with_special_tokens(self, names):
        """A new tokenizer with ``names`` appended as special tokens (ids of existing tokens unchanged)."""
        return CharTokenizer(self.chars, [*self.special_tokens, *check_special_names(names, self.special_tokens)])

    @property
    def vocab_size(self):
        return len(self.chars) + len(self.special_tokens)

    def __repr__(self):
        extra = f", special_tokens={self.special_tokens}" if self.special_tokens else ""
        return f"CharTokenizer(vocab_size={self.vocab_size}{extra})"

    # --- text <-> ids ------------------------------------------------------------------------
    def encode(self, text, allowed_special=()) -> list[int]:
        """str -> list of ids, one per character (and one per allowed special token).

        ``allowed_special``: "all" or a collection of special-token names that ``text`` may hold.
        Unknown characters raise a TokenizerError naming them.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects str, got {type(text).__name__}")
        allowed = allowed_set(allowed_special, self.special_tokens)
        if not allowed:
            return self._encode_ordinary(text)
        ids = []
        for piece, special in split_on_specials(text, allowed):
            ids.extend([self.special_tokens[piece]] if special else self._encode_ordinary(piece))
        return ids

    def _encode_ordinary(self, text) -> list[int]:
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        ids = np.full(codes.shape, -1, dtype=np.int64)
        known = codes < len(self._table)
        ids[known] = self._table[codes[known]]
        if (ids < 0).any():
            unknown = sorted(set(text[i] for i in np.flatnonzero(ids < 0)))
            raise TokenizerError(
                f"cannot encode {len(unknown)} character(s) not in the vocabulary: "
                f"{', '.join(map(repr, unknown[:20]))}{' ...' if len(unknown) > 20 else ''}; "
                f"{self._allowed()}"
            )
        return ids.tolist()

    def decode(self, ids) -> str:
        """Ids of shape (N,) -> str; special ids decode to their names.

        Accepts a list/tuple of ints, a numpy or cupy array, or anything with ``.tolist()``
        (torch tensors too); a scalar id decodes to one character. Out-of-range ids raise.
        """
        n = len(self.chars)
        return "".join(self.chars[k] if k < n else self._special_names[k] for k in check_ids(ids, self.vocab_size))

    def id_to_token(self, i) -> str:
        """The character (or special token name) of id ``i``."""
        return self.decode([i])

    def token_to_id(self, s) -> int:
        """The id of one character or special-token name."""
        if s in self.special_tokens:
            return self.special_tokens[s]
        if s not in self.stoi:
            raise TokenizerError(f"{s!r} is not a token of this CharTokenizer")
        return self.stoi[s]

    def _allowed(self):
        if len(self.chars) > _MAX_LISTED:
            return f"the vocabulary has {len(self.chars)} characters"
        return f"allowed characters ({len(self.chars)}): {''.join(self.chars)!r}"

    # --- serialisation -------------------------------------------------------------------------
    def to_dict(self):
        return {"chars": self.chars, "special_tokens": self.special_tokens}

    @classmethod
    def _from_dict(cls, obj):
        chars = obj["chars"]
        if not isinstance(chars, list):
            raise TokenizerError(f"'chars' must be a list of characters, got {type(chars).__name__}")
        specials = obj.get("special_tokens", {})
        tok = cls(chars, list(specials))
        if tok.special_tokens != specials:
            raise TokenizerError(f"special token ids {specials} do not follow the {len(chars)} characters in order")
        return tok
