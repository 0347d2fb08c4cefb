"""The pre-split regexes: text is cut into chunks first, and BPE merges never cross a chunk.

Without the split, frequent sequences that straddle words ("e t", "d." ...) would be merged and
every word would get several tokens depending on its neighbours ("dog", "dog.", "dog!" ...).
GPT-2's pattern keeps apart: English contractions, letters (with one leading space), numbers,
other symbols, and whitespace (a run of spaces leaves its last space to the next word).
"""

from __future__ import annotations

import re

import regex

from .base import TokenizerError

# GPT-2 (Radford et al., 2019): contractions | letters | numbers | other symbols | spaces
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# GPT-4's cl100k_base: contractions in any case, numbers cut into groups of at most 3 digits,
# a punctuation run keeps its trailing newlines, whitespace at the very end stays one piece, and a
# newline run stays apart from spaces. Possessive quantifiers (++, ?+) never give back characters.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}

# GPT-2's pattern for ASCII text, for Python's ``re``, which runs it about twice as fast as
# ``regex`` runs GPT2_PATTERN. Same chunks: on ASCII, \p{L} is [A-Za-z], \p{N} is [0-9] and \s is
# [ \t\n\v\f\r] in both (a test compares the classes on all 128 characters and the splits on text).
GPT2_ASCII = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""", re.ASCII)


def resolve_pattern(pattern: str) -> str:
    """A pattern name ("gpt2", "gpt4") or a regex (for the ``regex`` package) -> the regex."""
    if not isinstance(pattern, str) or not pattern:
        raise TokenizerError(f"pattern must be 'gpt2', 'gpt4' or a regex string, got {pattern!r}")
    return PATTERNS.get(pattern, pattern)


def compile_pattern(pattern: str):
    """The compiled regex for a pattern name or regex string; a bad regex is a one-line error."""
    text = resolve_pattern(pattern)
    try:
        return regex.compile(text)
    except regex.error as e:
        raise TokenizerError(f"pre-split pattern {text!r} is not a valid regex: {e}") from None


def split_text(text: str, pattern: str = "gpt2") -> list[str]:
    """The chunks of ``text`` (they concatenate back to ``text`` for the built-in patterns)."""
    return compile_pattern(pattern).findall(text)
