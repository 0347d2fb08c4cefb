"""``npgpt tokenize``: train a BPE tokenizer on a text file, or show how a tokenizer cuts a text.

npgpt tokenize --train data.txt --vocab-size 1024 --out tok.json
npgpt tokenize --tokenizer gpt2 --text "Tokenization isn't free."   # or tok.json, or a checkpoint's
"""

from __future__ import annotations

import sys
import time

from ..data import DataError, load_text
from ..settings import Range
from ..tokenizers import BPETokenizer, load_tokenizer
from .flags import help_with_range


def show_tokens(tok, ids) -> str:
    """Token boundaries made visible: each token between "|", whitespace escaped, cut bytes in hex.

    "Hello  world!" with GPT-2 -> |Hello| | world|!|
    """
    pieces = []
    for i in ids:
        t = tok.id_to_token(i)
        if isinstance(t, bytes):
            try:
                t = t.decode("utf-8")
            except UnicodeDecodeError:  # a character cut between tokens: show its bytes
                t = "<" + " ".join(f"{b:02x}" for b in t) + ">"
        pieces.append(t.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r"))
    return "|" + "|".join(pieces) + "|" if pieces else "(no tokens)"


def train_command(args, out=None) -> None:
    out = out or sys.stdout
    text = load_text(args.train)
    t0 = time.perf_counter()
    tok = BPETokenizer.train(text, args.vocab_size, pattern=args.pattern, special_tokens=args.special)
    seconds = time.perf_counter() - t0
    path = tok.save(args.out)  # written only once training succeeded, atomically
    n = len(tok.encode(text))
    print(f"trained {tok!r} on {args.train} ({len(text):,} characters) in {seconds:.1f} s", file=out)
    print(f"{len(text) / n:.2f} characters per token on that text; saved to {path}", file=out)
    shown = ", ".join(show_tokens(tok, [i]) for i in range(256, min(256 + 20, len(tok.vocab))))
    print(f"first merges: {shown}", file=out)


def encode_command(args, out=None) -> None:
    out = out or sys.stdout
    tok = load_tokenizer(args.tokenizer)
    text = args.text if args.text is not None else _read(args.file)
    ids = tok.encode(text, allowed_special="all" if args.allow_special else ())
    print(
        f"{len(text):,} characters -> {len(ids):,} tokens ({len(text) / max(len(ids), 1):.2f} characters per token)",
        file=out,
    )
    print(show_tokens(tok, ids), file=out)
    print(" ".join(map(str, ids)), file=out)


def _read(path):
    return load_text(path)


VOCAB = Range(int, low=256)  # the 256 bytes, then merges and special tokens


def add_parser(sub):
    p = sub.add_parser("tokenize", help="train a BPE tokenizer, or show how a tokenizer cuts text into tokens")
    train = p.add_argument_group("train a byte-level BPE tokenizer")
    train.add_argument("--train", metavar="FILE", help="UTF-8 text file to learn merges from")
    train.add_argument(
        "--vocab-size",
        type=VOCAB.parse,
        default=1024,
        help=help_with_range("tokens in all: 256 bytes + merges + specials", VOCAB, 1024),
    )
    train.add_argument(
        "--pattern", default="gpt2", help="pre-split regex: gpt2, gpt4 or a regex (default: %(default)s)"
    )
    train.add_argument(
        "--special", nargs="*", default=[], metavar="NAME", help="special tokens to add, e.g. '<|endoftext|>'"
    )
    train.add_argument("--out", default="tokenizer.json", help="where to save it (default: %(default)s)")
    show = p.add_argument_group("show tokens")
    show.add_argument(
        "--tokenizer", metavar="TOK", help="a tokenizer JSON file, a checkpoint's tokenizer.json, or 'gpt2'"
    )
    show.add_argument("--text", help="text to encode")
    show.add_argument("--file", help="file to encode instead of --text")
    show.add_argument(
        "--allow-special", action="store_true", help="read special-token names in the text as special tokens"
    )
    p.set_defaults(func=main)


def main(args) -> int:
    try:
        if (args.train is None) == (args.tokenizer is None):
            raise DataError("give either --train FILE (to learn a tokenizer) or --tokenizer TOK (to encode a text)")
        if args.train is not None:
            train_command(args)
        else:
            if (args.text is None) == (args.file is None):
                raise DataError("give the text to encode with --text or --file (one of them)")
            encode_command(args)
    except (DataError, OSError) as e:
        print(f"npgpt tokenize: {e}", file=sys.stderr)
        return 2
    return 0
