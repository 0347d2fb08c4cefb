"""Grader of the capstone: train the character GPT on the shipped Shakespeare with YOUR code.

    python -m lessons.grade --assignment a16

Everything this run touches was written by you in the earlier assignments: LayerNorm (a05), the
positional encodings (a06), the GPT block (a08), AdamW, the schedule and clipping (a09), the
sampler and the KV cache (a10). The test trains a small model for a fixed number of steps (about a
minute on two CPU cores) and passes when the validation loss falls below VAL_BOUND; a model that
learns only letter frequencies stays near 3.3 nats, an untrained one at ln(vocabulary size) > 4.
"""

import time

import numpy as np
import pytest

import npgpt
from npgpt.data.dataset import TextDataset, load_text, shakespeare_path
from npgpt.nn import GPT, GPTConfig
from npgpt.optim import AdamW, CosineWarmup, clip_grad_norm_, param_groups_for_weight_decay, set_lr

STEPS, BATCH, BLOCK = 300, 16, 32
VAL_BOUND = 2.60  # nats per character


def evaluate(model, batches):
    with npgpt.no_grad():
        return float(np.mean([float(model(x, targets=y)[1].item()) for x, y in batches]))


def train(steps=STEPS):
    data = TextDataset(load_text(shakespeare_path()))
    cfg = GPTConfig(vocab_size=data.vocab_size, block_size=BLOCK, n_layer=2, n_head=4, n_embd=64, pos_encoding="rope")
    model = GPT(cfg, rng=0)
    opt = AdamW(param_groups_for_weight_decay(model.named_parameters(), 0.1), lr=3e-3, betas=(0.9, 0.99))
    sched = CosineWarmup(max_lr=3e-3, warmup_steps=20, max_steps=steps, min_lr=3e-4)
    rng = np.random.default_rng(0)
    for step in range(steps):
        x, y = data.get_batch("train", BATCH, BLOCK, rng)
        _, loss = model(x, targets=y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        set_lr(opt, sched(step))
        opt.step()
    return model, data


@pytest.mark.task("16.1", points=10)
@pytest.mark.slow
def test_your_gpt_learns_shakespeare():
    start = time.perf_counter()
    model, data = train()
    model.eval()
    val = evaluate(model, data.fixed_batches("val", 8, BATCH, BLOCK, seed=1))
    seconds = time.perf_counter() - start
    print(f"validation loss {val:.3f} nats after {STEPS} steps ({seconds:.0f} s)")
    assert val < VAL_BOUND, f"validation loss {val:.3f} after {STEPS} steps; it must fall below {VAL_BOUND}"
    ids = model.generate(
        np.array([data.tokenizer.encode("ROMEO:")]), 40, temperature=0.8, top_k=20, rng=np.random.default_rng(2)
    )
    text = data.tokenizer.decode(ids[0].tolist())
    assert text.startswith("ROMEO:") and len(text) == 46, f"generation with your sampler gave {text!r}"
