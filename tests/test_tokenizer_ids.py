"""Every tokenizer refuses ids outside its vocabulary, negative ones included, with a clear error.

A negative id must not wrap around Python-style (``decode([0, -1])`` returning the last token): it is
always a bug upstream (an ignore index such as -100 left in, an overflowed integer), and decoding it
silently would hide that bug. Add each new tokenizer to ``TOKENIZERS``.
"""

import numpy as np
import pytest

from npgpt.data import CharTokenizer, DataError

TEXT = "hello world"

TOKENIZERS = {
    "char": lambda: CharTokenizer.from_text(TEXT),
}


@pytest.fixture(params=list(TOKENIZERS))
def tok(request):
    return TOKENIZERS[request.param]()


def test_every_id_in_range_decodes(tok):
    ids = np.arange(tok.vocab_size)
    assert len(tok.decode(ids)) >= 1
    assert tok.decode(tok.encode(TEXT)) == TEXT


@pytest.mark.parametrize("bad", [-1, -2, -100, "vocab_size", "vocab_size+1", 2**63 - 1])
@pytest.mark.parametrize("wrap", [list, np.array], ids=["list", "array"])
def test_out_of_range_ids_are_an_error(tok, bad, wrap):
    V = tok.vocab_size
    bad = {"vocab_size": V, "vocab_size+1": V + 1}.get(bad, bad)
    with pytest.raises(DataError, match=rf"token id {bad} is out of range \[0, {V}\)") as info:
        tok.decode(wrap([0, bad, 1]))
    assert isinstance(info.value, ValueError)  # callers may catch ValueError


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8])
def test_out_of_range_ids_of_any_integer_dtype_are_an_error(tok, dtype):
    bad = -1 if np.issubdtype(dtype, np.signedinteger) else np.iinfo(dtype).max
    with pytest.raises(DataError, match="out of range"):
        tok.decode(np.array([0, bad], dtype=dtype))


def test_a_single_negative_id_is_an_error(tok):
    with pytest.raises(DataError, match="out of range"):
        tok.decode(-1)
    with pytest.raises(DataError, match="out of range"):
        tok.decode(np.int64(-1))
