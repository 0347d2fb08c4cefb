"""Grader of assignment 15 (from GPT to ChatGPT): 15.1 the loss mask, 15.2 the SFT targets, 15.3 and
15.4 the DPO loss forward and backward.

    python -m lessons.grade --assignment a15
    pytest lessons/a15_chat_tuning --task 15.2

Each task is compared with what the instructor's copy of the rule gives on the same case (recorded
in ``expected.npz`` for a handout: ``lessons.expected``); 15.2 gets its examples from the grader,
not from the template, and 15.4 gets z from the grader, so one mistake costs one task's points.
"""

import numpy as np
import pytest

from lessons.expected import Expected
from lessons.grading import assert_close, call_backward
from npgpt.chat.data import pad_batch
from npgpt.chat.template import CHAT_TOKENS, render
from npgpt.functional import cross_entropy
from npgpt.ops.chat_losses import DPOLoss
from npgpt.tensor import tensor
from npgpt.tokenizers import CharTokenizer

expected = Expected(__file__)
TOK = CharTokenizer.from_text("abcdefghijklmnopqrstuvwxyz ?!.").with_special_tokens(list(CHAT_TOKENS))
CONVERSATIONS = [
    [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello!"}],
    [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "who?"},
        {"role": "assistant", "content": "me"},
        {"role": "user", "content": "and?"},
        {"role": "assistant", "content": "you."},
    ],
    [{"role": "user", "content": "empty"}, {"role": "assistant", "content": ""}],
]


@pytest.mark.task("15.1", points=4)
@pytest.mark.parametrize("k", range(len(CONVERSATIONS)))
def test_mask_marks_the_answers_and_their_end(k):
    ids, mask = render(CONVERSATIONS[k], TOK)
    assert len(mask) == len(ids), f"one mask entry per id: {len(mask)} entries for {len(ids)} ids"
    want = expected("mask_reference", CONVERSATIONS[k])
    assert [bool(m) for m in mask] == want, f"mask {mask} for conversation {k}, expected {want}"


@pytest.mark.task("15.1", points=1)
def test_the_generation_prompt_is_not_learned():
    ids, mask = render(CONVERSATIONS[0][:1], TOK, add_generation_prompt=True)
    assert [bool(m) for m in mask] == [False] * len(ids), "a prompt for a reply has nothing to learn"


def examples():
    # (ids, mask) made by hand: the mask is True on the ids the model must learn
    return [
        ([5, 6, 7, 8, 9], [False, False, True, True, True]),
        ([1, 2, 3], [False, True, False]),
        ([4, 4, 4, 4, 4, 4, 4], [False, True, True, False, False, True, True]),
    ]


@pytest.mark.task("15.2", points=4)
def test_targets_are_the_next_learned_tokens():
    x, y = pad_batch(examples())
    want = expected("targets_reference", examples())
    assert y.shape == want.shape, f"y has shape {y.shape}, expected {want.shape}"
    assert np.array_equal(y, want), f"y =\n{y}\nexpected\n{want}"


@pytest.mark.task("15.2", points=2)
def test_the_sft_loss_counts_only_the_answer():
    x, y = pad_batch(examples())
    logits = np.random.default_rng(0).standard_normal((*x.shape, 10))
    loss = cross_entropy(tensor(logits), y).item()
    assert_close(
        loss, expected("sft_loss_reference", logits, y), "the SFT loss: mean -log p over the answer tokens only"
    )


def logps(seed, B=6, scale=4.0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(B) * scale for _ in range(4)]


@pytest.mark.task("15.3", points=3)
@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_dpo_loss_matches_the_formula(beta):
    args = logps(1)
    loss = DPOLoss.apply(*map(tensor, args), beta=beta).item()
    assert_close(loss, expected("dpo_reference", *args, beta), f"DPO loss with beta={beta}")


@pytest.mark.task("15.3", points=1)
def test_dpo_loss_is_stable_for_large_margins():
    pc, pr, rc, rr = (np.array([400.0, -400.0]), np.zeros(2), np.zeros(2), np.zeros(2))
    loss = DPOLoss.apply(*map(tensor, (pc, pr, rc, rr)), beta=1.0).item()
    assert np.isfinite(loss), "a margin of +-400 must not overflow"
    assert_close(loss, expected("dpo_reference", pc, pr, rc, rr, 1.0), "DPO loss at margins +-400")


@pytest.mark.task("15.4", points=4)
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_backward_matches_finite_differences(beta):
    args = logps(2)
    z = expected("dpo_saved_reference", *args, beta)
    g = 0.7
    grads = call_backward(DPOLoss, (z,), np.asarray(g), needs_input_grad=(True,) * 4, beta=beta)
    for k, name in enumerate(["dpc", "dpr", "drc", "drr"]):
        want = expected("dpo_vjp_reference", args, k, g, beta)
        assert_close(grads[k], want, f"{name} (beta={beta})", rtol=1e-6, atol=1e-9)
