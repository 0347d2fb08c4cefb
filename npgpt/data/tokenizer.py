"""The character tokenizer now lives in npgpt.tokenizers; ``npgpt.data.CharTokenizer`` still works."""

from ..tokenizers.char import CharTokenizer

__all__ = ["CharTokenizer"]
