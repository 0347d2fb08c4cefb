"""Character-level tokenizer: one token id per character."""

import json
import operator
from pathlib import Path

import numpy as np

from .errors import DataError

_FORMAT = "npgpt.CharTokenizer"
_MAX_LISTED = 100  # longer vocabularies are summarised by size in error messages


class CharTokenizer:
    """Maps each character of a fixed vocabulary to an id in [0, vocab_size).

    Id i is ``chars[i]``; ``from_text`` uses the sorted unique characters, so the
    same text always gives the same ids.
    """

    def __init__(self, chars):
        chars = list(chars)
        bad = [c for c in chars if not (isinstance(c, str) and len(c) == 1)]
        if bad:
            raise DataError(f"vocabulary entries must be single characters, got {bad[:5]!r}")
        if not chars:
            raise DataError("vocabulary is empty")
        if len(set(chars)) != len(chars):
            dup = sorted({c for c in chars if chars.count(c) > 1})
            raise DataError(f"vocabulary has duplicate characters: {dup!r}")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}
        # Lookup table indexed by code point (-1 = unknown): encodes 1 MB in ~ms.
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        self._table = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        self._table[codes] = np.arange(len(chars), dtype=np.int64)

    @classmethod
    def from_text(cls, text):
        """Vocabulary = sorted unique characters of ``text`` (a non-empty str)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if not text:
            raise DataError("cannot build a vocabulary from empty text")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self):
        return len(self.chars)

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __repr__(self):
        return f"CharTokenizer(vocab_size={self.vocab_size})"

    def encode(self, text):
        """str of length N -> int64 array of shape (N,). Unknown characters raise DataError."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        ids = np.full(codes.shape, -1, dtype=np.int64)
        known = codes < len(self._table)
        ids[known] = self._table[codes[known]]
        if (ids < 0).any():
            unknown = sorted(set(text[i] for i in np.flatnonzero(ids < 0)))
            raise DataError(
                f"cannot encode {len(unknown)} character(s) not in the vocabulary: "
                f"{', '.join(map(repr, unknown[:20]))}{' ...' if len(unknown) > 20 else ''}; "
                f"{self._allowed()}"
            )
        return ids

    def decode(self, ids):
        """Ids of shape (N,) -> str of length N.

        Accepts a list/tuple of ints, a numpy or cupy array, or anything with
        ``.tolist()`` (torch tensors too); a scalar id decodes to one character.
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()  # cupy/torch: copies to host
        if isinstance(ids, int):
            ids = [ids]
        out = []
        for i in ids:
            if isinstance(i, (list, tuple)):
                raise DataError("decode expects a 1-D sequence of ids; decode each row separately")
            try:
                k = operator.index(i)  # ints and numpy integers, not floats
            except TypeError:
                raise DataError(f"token ids must be integers, got {i!r}") from None
            if not 0 <= k < len(self.chars):
                raise DataError(f"token id {k} is out of range [0, {len(self.chars)})")
            out.append(self.chars[k])
        return "".join(out)

    def _allowed(self):
        if len(self.chars) > _MAX_LISTED:
            return f"the vocabulary has {len(self.chars)} characters"
        return f"allowed characters ({len(self.chars)}): {''.join(self.chars)!r}"

    def to_json(self):
        """Serialise to a JSON string (the ordered vocabulary)."""
        return json.dumps({"format": _FORMAT, "version": 1, "chars": self.chars}, ensure_ascii=False)

    @classmethod
    def from_json(cls, s):
        """Inverse of ``to_json``; ids are preserved exactly."""
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise DataError(f"tokenizer JSON is invalid: {e}") from None
        if not isinstance(obj, dict) or obj.get("format") != _FORMAT or "chars" not in obj:
            raise DataError(f"not a CharTokenizer JSON (expected format {_FORMAT!r})")
        return cls(obj["chars"])

    def save(self, path):
        """Write the JSON form to ``path`` (UTF-8)."""
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path):
        """Read a tokenizer written by ``save``."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"tokenizer file not found: {path}")
        return cls.from_json(path.read_text(encoding="utf-8"))
