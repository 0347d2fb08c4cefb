"""Instructor-only tests of assignment 13 (never handed out; ``python -m lessons.grade --hidden``).

They probe what the handed-out tests leave open: that reading a checkpoint or a config leaves the
caller's dict as it was (a loader that pops ``lm_head.weight`` or fills in defaults changes the
file's contents for whoever reads them next), and the configs of the released GPT-2 sizes.
"""

import numpy as np
import pytest

from lessons.a13_loading_gpt2.test_a13_loading_gpt2 import CFG, accepted, checkpoint, config_json
from npgpt.nn import GPTConfig
from npgpt.nn import hf as H


@pytest.mark.task("13.1", points=1)
def test_hidden_the_checkpoint_dict_is_left_as_it_was():
    config = GPTConfig(**CFG)
    weights, _ = checkpoint(config, seed=11, prefix="", extras=True)
    before = {k: v.copy() for k, v in weights.items()}
    accepted(H.hf_to_npgpt_state, weights, config, what="a hub checkpoint")
    assert sorted(weights) == sorted(before), "hf_to_npgpt_state added or removed entries of the dict it was given"
    changed = [k for k in before if not np.array_equal(weights[k], before[k])]
    assert not changed, f"hf_to_npgpt_state changed the caller's arrays in place: {changed}"


@pytest.mark.task("13.2", points=1)
@pytest.mark.parametrize(
    "size", [(50257, 1024, 24, 16, 1024), (50257, 1024, 36, 20, 1280), (50257, 1024, 48, 25, 1600)], ids=str
)
def test_hidden_the_released_gpt2_sizes_and_the_dict_is_left_as_it_was(size):
    V, T, L, Hh, C = size
    hf = config_json(vocab_size=V, n_positions=T, n_ctx=T, n_layer=L, n_head=Hh, n_embd=C)
    before = dict(hf)
    cfg = accepted(H.config_from_hf, hf, what=f"the config.json of a GPT-2 of width {C}")
    got = (cfg.vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.n_embd)
    assert got == size, f"GPTConfig (vocab_size, block_size, n_layer, n_head, n_embd) = {got}, expected {size}"
    assert hf == before, "config_from_hf changed the dict it was given"
