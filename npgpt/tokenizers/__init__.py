"""Tokenizers: text <-> lists of int ids. All kinds share one interface.

- ``CharTokenizer``: one id per character (the Shakespeare model's default).
- ``BPETokenizer``: byte-level BPE, trainable on any text, or GPT-2's own (``from_gpt2``).

Both have ``vocab_size``, ``special_tokens`` (name -> id), ``encode(text, allowed_special=())``
-> list[int], ``decode(ids)`` -> str, ``id_to_token`` / ``token_to_id``, ``to_json`` /
``from_json``, ``save`` / ``load`` (one JSON file) and ``with_special_tokens(names)``.
``load_tokenizer`` reads any of them.
"""

from pathlib import Path

from .base import Tokenizer, TokenizerError, parse_json, read_text
from .bpe import BPETokenizer
from .char import CharTokenizer
from .pretokenize import GPT2_PATTERN, GPT4_PATTERN

__all__ = [
    "BPETokenizer",
    "CharTokenizer",
    "GPT2_PATTERN",
    "GPT4_PATTERN",
    "Tokenizer",
    "TokenizerError",
    "load_tokenizer",
]


def load_tokenizer(path_or_json):
    """Any npgpt tokenizer from a file path, a folder holding ``tokenizer.json`` (a checkpoint), a
    JSON string, or "gpt2" (GPT-2's own, ``BPETokenizer.from_gpt2()``)."""
    if isinstance(path_or_json, str) and path_or_json.lstrip().startswith("{"):
        return parse_json(path_or_json)
    if path_or_json == "gpt2" and not Path("gpt2").exists():
        return BPETokenizer.from_gpt2()
    path = Path(path_or_json)
    if path.is_dir():
        path = path / "tokenizer.json"
    return parse_json(read_text(path), source=str(path))
