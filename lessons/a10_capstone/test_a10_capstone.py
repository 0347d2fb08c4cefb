"""Grader of the capstone: train the character GPT on the shipped Shakespeare with YOUR code.

    python -m lessons.grade --assignment a10

Everything this run touches was written by you in the earlier assignments: LayerNorm (a06), the
positional encodings (a08), the GPT block (a09), AdamW, the schedule and clipping (a05), on top of
the autograd, softmax and cross-entropy of a01-a04. The text it writes at the end is greedy and
without a KV cache, so nothing passes through the sampler and the cache of a11, which come after
the capstone (in an a10 handout they are stubs). The test trains a small model for a fixed number of steps (about a
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


@pytest.mark.task("10.1", points=10)
@pytest.mark.slow
def test_your_gpt_learns_shakespeare():
    start = time.perf_counter()
    model, data = train()
    model.eval()
    val = evaluate(model, data.fixed_batches("val", 8, BATCH, BLOCK, seed=1))
    seconds = time.perf_counter() - start
    print(f"validation loss {val:.3f} nats after {STEPS} steps ({seconds:.0f} s)")
    assert val < VAL_BOUND, f"validation loss {val:.3f} after {STEPS} steps; it must fall below {VAL_BOUND}"
    # greedy and without a cache: the forward pass alone (the sampler and the KV cache are a11's)
    ids = model.generate(np.array([data.tokenizer.encode("ROMEO:")]), 40, temperature=0, use_cache=False)
    text = data.tokenizer.decode(ids[0].tolist())
    assert text.startswith("ROMEO:") and len(text) == 46, f"generation with your model gave {text!r}"
