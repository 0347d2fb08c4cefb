"""``npgpt train --tokenizer char|bpe --vocab-size N``: BPE learned on the training split only, saved
with the checkpoint, used by ``npgpt sample`` and by resumed runs; old char checkpoints still load."""

import json

import numpy as np
import pytest

from npgpt.checkpoint import read_checkpoint, save_checkpoint
from npgpt.cli import main
from npgpt.commands.sample import load_for_sampling, sample_text
from npgpt.data import split_index
from npgpt.nn import GPT, GPTConfig
from npgpt.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer
from npgpt.train import TrainConfig

TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat.\n" * 40
VAL_ONLY = "zebra quokka narwhal\n" * 10  # words only the held-out 10% holds


def train_argv(out, data, *extra):
    return [
        "train",
        *("--data", str(data), "--out-dir", str(out), "--n-layer", "1", "--n-head", "2", "--n-embd", "16"),
        *("--block-size", "16", "--batch-size", "4", "--max-steps", "6", "--warmup-steps", "2"),
        *("--eval-interval", "3", "--eval-batches", "1", "--sample-chars", "0", "--no-progress"),
        *extra,
    ]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "text.txt"
    text = TEXT + VAL_ONLY
    assert split_index(len(text), 0.1) <= len(TEXT)  # the val-only words lie in the held-out 10%
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bpe_run(tmp_path_factory, data_file):
    out = tmp_path_factory.mktemp("bpe_run")
    assert main(train_argv(out, data_file, "--tokenizer", "bpe", "--vocab-size", "270")) == 0
    return out


def test_bpe_is_learned_on_the_training_split_and_saved(bpe_run, data_file):
    text = data_file.read_text(encoding="utf-8")
    ck = read_checkpoint(bpe_run / "checkpoint")
    tok = load_tokenizer(ck["tokenizer_json"])
    assert isinstance(tok, BPETokenizer) and tok.vocab_size == 270
    assert tok == BPETokenizer.train(text[: split_index(len(text), 0.1)], 270)
    learned = {tok.vocab[i] for i in range(256, len(tok.vocab))}
    assert not any(w in t for t in learned for w in (b"zeb", b"quo", b"nar", b"whal"))  # no val text seen
    assert ck["config"]["model"]["vocab_size"] == 270
    assert ck["config"]["train"]["tokenizer"] == "bpe" and ck["config"]["train"]["vocab_size"] == 270


def test_sample_decodes_with_the_checkpoint_tokenizer(bpe_run, capsys):
    model, tok = load_for_sampling(bpe_run / "checkpoint")
    assert isinstance(tok, BPETokenizer) and model.config.vocab_size == tok.vocab_size
    text = sample_text(bpe_run / "checkpoint", "the cat", 12, temperature=0.0)
    assert text.startswith("the cat") and len(text) > len("the cat") + 12  # BPE tokens are several characters
    ids = np.array([tok.encode("the cat")])
    greedy = model.generate(ids, 12, temperature=0)[0].tolist()
    assert text == tok.decode(greedy)
    assert (
        main(["sample", "--checkpoint", str(bpe_run / "checkpoint"), "--prompt", "a dog", "--max-new-tokens", "5"]) == 0
    )
    assert capsys.readouterr().out.startswith("a dog")


def test_resume_keeps_the_bpe_tokenizer_and_refuses_another(bpe_run, data_file, capsys):
    before = read_checkpoint(bpe_run / "checkpoint")["tokenizer_json"]
    assert main(["train", "--out-dir", str(bpe_run), "--resume", "--max-steps", "9", "--no-progress"]) == 0
    ck = read_checkpoint(bpe_run / "checkpoint")
    assert ck["state"]["step"] == 9 and ck["tokenizer_json"] == before
    capsys.readouterr()
    assert main(["train", "--out-dir", str(bpe_run), "--resume", "--tokenizer", "char"]) == 2
    assert "--tokenizer char conflicts" in capsys.readouterr().err


def test_default_stays_char(tmp_path):
    assert TrainConfig().tokenizer == "char"
    (tmp_path / "cats.txt").write_text(TEXT, encoding="utf-8")  # a char vocabulary needs every character in the 90%
    assert main(train_argv(tmp_path / "run", tmp_path / "cats.txt")) == 0
    tok = load_tokenizer(tmp_path / "run" / "checkpoint")
    assert isinstance(tok, CharTokenizer)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--tokenizer", "wordpiece"], "tokenizer must be char or bpe"),
        (["--tokenizer", "bpe", "--vocab-size", "100"], ">= 257"),
    ],
)
def test_bad_tokenizer_settings_are_one_line_errors(tmp_path, data_file, capsys, flags, message):
    assert main(train_argv(tmp_path, data_file, *flags)) == 2
    err = capsys.readouterr().err
    assert err.startswith("npgpt train: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "checkpoint").exists()


class _LegacyCharTokenizer:
    """Writes tokenizer.json as npgpt did before the tokenizers package (no "kind")."""

    def __init__(self, chars):
        self.chars = chars

    def to_json(self):
        return json.dumps({"format": "npgpt.CharTokenizer", "version": 1, "chars": self.chars})


def test_an_old_char_checkpoint_still_samples(tmp_path):
    chars = sorted(set(TEXT))
    model = GPT(GPTConfig(vocab_size=len(chars), block_size=16, n_layer=1, n_head=2, n_embd=16), rng=0)
    save_checkpoint(
        tmp_path / "ck",
        model,
        {"model": model.config.to_dict(), "train": {}},
        _LegacyCharTokenizer(chars),
        state={"step": 0},
    )
    _, tok = load_for_sampling(tmp_path / "ck")
    assert tok == CharTokenizer(chars)
    assert sample_text(tmp_path / "ck", "the ", 5, temperature=0).startswith("the ")
