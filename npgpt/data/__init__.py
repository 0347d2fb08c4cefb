"""Data for npgpt: the shipped Shakespeare corpus, batching (CharTokenizer lives in npgpt.tokenizers).

Depends only on numpy and the standard library. Typical use::

    text = load_text(shakespeare_path())
    ds = TextDataset(text)  # character vocabulary built from the text
    x, y = ds.get_batch("train", 32, 128, np.random.default_rng(0))  # (32, 128) int64 each
"""

from .dataset import TextDataset, load_text, shakespeare_path, split_index
from .errors import DataError
from .tokenizer import CharTokenizer

__all__ = ["CharTokenizer", "DataError", "TextDataset", "load_text", "shakespeare_path", "split_index"]
