"""Train the small character GPT that the lessons and the website draw pictures of.

    python tools/make_pretrained.py            # writes npgpt/data/pretrained/shakespeare_char/

Trains with ``npgpt.train`` (fixed seed, the shipped Shakespeare corpus) in a temporary folder, then
saves the model alone (no optimizer state) as an npgpt checkpoint folder (safetensors + JSON, kept
under 2 MB so it ships inside the package) and writes PROVENANCE.md beside it: the settings, the
losses reached, the time taken, the versions used and the sha256 of the weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import npgpt
from npgpt.checkpoint import read_checkpoint, save_checkpoint
from npgpt.data import CharTokenizer
from npgpt.nn import GPT, GPTConfig
from npgpt.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "npgpt" / "data" / "pretrained" / "shakespeare_char"

# small enough to ship (4 x 12 x 96^2 weights ~ 0.45M parameters, 1.8 MB of float32), big enough
# that its attention heads and embeddings show structure
SETTINGS = dict(
    n_layer=4,
    n_head=4,
    n_embd=96,
    block_size=64,
    batch_size=16,
    max_steps=1000,
    lr=3e-3,
    min_lr=3e-4,
    warmup_steps=50,
    eval_interval=100,
    eval_batches=10,
    seed=1337,
    sample_chars=0,
    progress=False,
)


def provenance(cfg, result, seconds, n_params, sha, size) -> str:
    rows = "\n".join(f"| `{k}` | `{v}` |" for k, v in dataclasses.asdict(cfg).items() if k != "out_dir")
    curve = "\n".join(f"| {h['step']} | {h['train_loss']:.4f} | {h['val_loss']:.4f} |" for h in result.history)
    return f"""# shakespeare_char: provenance

A character-level GPT trained by `tools/make_pretrained.py` on the Shakespeare corpus shipped in
`npgpt/data/shakespeare.txt` (first 90% for training, last 10% held out). Load it with
`npgpt.pretrained.load_pretrained()`; rebuild it with `python tools/make_pretrained.py`.

- model: {cfg.n_layer} layers, {cfg.n_head} heads, width {cfg.n_embd}, context {cfg.block_size},
  learned positions, {n_params:,} parameters (float32)
- result: train loss {result.train_loss:.4f}, **val loss {result.val_loss:.4f}** (nats per character)
  after {result.step} steps
- time: {seconds:.0f} s on {platform.machine()} ({platform.system()}, {os.cpu_count()} cores), numpy {np.__version__},
  python {platform.python_version()}, npgpt {npgpt.__version__}
- `model.safetensors`: {size:,} bytes, sha256 `{sha}`

The same script, settings and seed give the same weights on the same numpy build (float32 sums
may differ in the last bits across BLAS builds).

## Settings (`npgpt.train.TrainConfig`)

| setting | value |
|---|---|
{rows}

## Loss curve

| step | train | val |
|---|---|---|
{curve}
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--max-steps", type=int, default=SETTINGS["max_steps"])
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(**dict(SETTINGS, max_steps=args.max_steps), out_dir=tmp)
        t0 = time.time()
        result = train(cfg, log=lambda m: print(m, file=sys.stderr))
        seconds = time.time() - t0
        ck = read_checkpoint(Path(tmp) / "checkpoint")
    model = GPT(GPTConfig.from_dict(ck["config"]["model"]))
    model.load_state_dict(ck["model"])
    tok = CharTokenizer.from_json(ck["tokenizer_json"])
    state = {"step": result.step, "history": result.history}
    save_checkpoint(args.out, model, ck["config"], tok, state=state)
    weights = args.out / "model.safetensors"
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    text = provenance(cfg, result, seconds, model.num_parameters(), sha, weights.stat().st_size)
    (args.out / "PROVENANCE.md").write_text(text, encoding="utf-8")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({total:,} bytes): val loss {result.val_loss:.4f} in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
