"""What every npgpt tokenizer shares: id checks, special tokens, and the one-file JSON format.

A tokenizer maps text to a list of int ids and back. Ordinary tokens have ids [0, n); special
tokens (``<|endoftext|>``, a chat template's ``<|user|>`` ...) come after them, at n, n + 1, ...
Special tokens are only produced by ``encode`` when asked for with ``allowed_special``: text that
merely contains ``"<|end|>"`` is otherwise ordinary text (as ``tiktoken``'s ``encode_ordinary``).

File format (one JSON object, written atomically, never pickled)::

    {"format": "npgpt.tokenizer", "version": 1, "kind": "char" | "bpe", ..., "special_tokens": {name: id}}
"""

from __future__ import annotations

import json
import operator
import os
import re
import tempfile
from pathlib import Path

from ..errors import DataError

FORMAT = "npgpt.tokenizer"
VERSION = 1
LEGACY_CHAR_FORMAT = "npgpt.CharTokenizer"  # the char tokenizer's files before this package existed


class TokenizerError(DataError):
    """A tokenizer was given bad input: an unknown id, a malformed file, an impossible vocabulary size."""


def check_ids(ids, vocab_size) -> list[int]:
    """Ids as a list of Python ints, each in [0, vocab_size), or a one-line TokenizerError.

    Accepts a list/tuple of ints, a numpy or cupy array, anything with ``.tolist()`` (torch tensors)
    and a single int.
    """
    if hasattr(ids, "tolist"):
        ids = ids.tolist()  # cupy/torch: copies to the host
    if isinstance(ids, int):
        ids = [ids]
    out = []
    for i in ids:
        if isinstance(i, (list, tuple)):
            raise TokenizerError("decode expects a 1-D sequence of ids; decode each row separately")
        try:
            k = operator.index(i)  # ints and numpy integers, not floats
        except TypeError:
            raise TokenizerError(f"token ids must be integers, got {i!r}") from None
        if not 0 <= k < vocab_size:
            raise TokenizerError(f"token id {k} is out of range [0, {vocab_size})")
        out.append(k)
    return out


def check_special_names(names, existing) -> list[str]:
    """New special-token names in order, without those already in ``existing``; bad names raise."""
    if isinstance(names, str):
        names = [names]
    new = []
    for name in names:
        if not isinstance(name, str) or not name:
            raise TokenizerError(f"special token names must be non-empty strings, got {name!r}")
        if name not in existing and name not in new:
            new.append(name)
    return new


def allowed_set(allowed_special, special_tokens) -> set[str]:
    """``allowed_special`` ("all", or a collection of names) as a set of known special-token names."""
    if allowed_special == "all":
        return set(special_tokens)
    if isinstance(allowed_special, str):
        allowed_special = {allowed_special}
    allowed = set(allowed_special)
    unknown = sorted(allowed - set(special_tokens))
    if unknown:
        raise TokenizerError(f"allowed_special names unknown special tokens {unknown}; known: {sorted(special_tokens)}")
    return allowed


def split_on_specials(text, allowed):
    """Yield (piece, is_special) for ``text`` cut at each occurrence of an allowed special token.

    Longer names are tried first, so ``<|end|>`` is not found inside ``<|endoftext|>``.
    """
    if not allowed:
        if text:
            yield text, False
        return
    pattern = "(" + "|".join(re.escape(s) for s in sorted(allowed, key=lambda s: (-len(s), s))) + ")"
    for k, piece in enumerate(re.split(pattern, text)):
        if piece:
            yield piece, k % 2 == 1  # re.split puts the captured separators at odd positions


KINDS: dict[str, type] = {}  # "char" -> CharTokenizer, "bpe" -> BPETokenizer


class Tokenizer:
    """Base class: subclasses define ``kind``, ``to_dict``/``_from_dict``, encode/decode and specials."""

    kind = ""

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict:
        raise NotImplementedError

    def to_json(self) -> str:
        """The whole tokenizer as one JSON string (the file ``save`` writes)."""
        obj = {"format": FORMAT, "version": VERSION, "kind": self.kind, **self.to_dict()}
        return json.dumps(obj, ensure_ascii=False)

    @classmethod
    def from_json(cls, s, source="tokenizer JSON"):
        """Inverse of ``to_json``; returns whichever kind the JSON holds. ``source`` names it in errors."""
        tok = parse_json(s, source)
        if cls is not Tokenizer and not isinstance(tok, cls):
            raise TokenizerError(f"{source} holds a {tok.kind!r} tokenizer, not a {cls.__name__}")
        return tok

    @classmethod
    def _from_dict(cls, obj: dict):
        """Build from the parsed JSON object; may raise KeyError/TypeError/ValueError on bad fields."""
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            KINDS[cls.kind] = cls  # from_json finds each kind here

    def save(self, path) -> Path:
        """Write ``to_json()`` to ``path`` atomically (a crash leaves the old file or the new one)."""
        path = Path(path)
        write_atomic(path, self.to_json())
        return path

    @classmethod
    def load(cls, path):
        """Read a tokenizer written by ``save``; any problem is a one-line error naming the file."""
        return cls.from_json(read_text(path), source=str(path))

    # --- shared conveniences -------------------------------------------------------------
    def __len__(self):
        return self.vocab_size

    def __eq__(self, other):
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    __hash__ = None


def parse_json(s, source="tokenizer JSON"):
    """A tokenizer from its JSON text; every problem with the text is one TokenizerError naming ``source``."""
    try:
        obj = json.loads(s)
    except (json.JSONDecodeError, TypeError) as e:
        raise TokenizerError(f"{source} is not valid JSON (truncated?): {e}") from None
    if not isinstance(obj, dict):
        raise TokenizerError(f"{source} is not an npgpt tokenizer (expected a JSON object)")
    if obj.get("format") == LEGACY_CHAR_FORMAT:  # written before the tokenizers package: char only
        obj = {**obj, "format": FORMAT, "version": VERSION, "kind": "char"}
    if obj.get("format") != FORMAT:
        raise TokenizerError(f"{source} is not an npgpt tokenizer (format {obj.get('format')!r}, expected {FORMAT!r})")
    if obj.get("version") != VERSION:
        raise TokenizerError(
            f"{source} has tokenizer format version {obj.get('version')!r}; this npgpt reads {VERSION}"
        )
    kind = obj.get("kind")
    if kind not in KINDS:
        raise TokenizerError(f"{source} holds an unknown tokenizer kind {kind!r} (known: {sorted(KINDS)})")
    try:
        return KINDS[kind]._from_dict(obj)
    except TokenizerError as e:
        raise TokenizerError(f"{source} is malformed: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise TokenizerError(f"{source} is malformed: {type(e).__name__}: {e}") from None


def read_text(path) -> str:
    path = Path(path)
    if not path.is_file():
        raise TokenizerError(f"tokenizer file not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerError(f"cannot read tokenizer file {path}: {e}") from None


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, fsync it, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
