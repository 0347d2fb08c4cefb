"""``npgpt.induction``: the head detectors on constructed attention patterns, the task's data, and
(slow) the phase change, the two heads and the ablation in a trained two-layer attention-only model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from npgpt.induction import (
    AttentionOnly,
    ablate,
    half_losses,
    head_scores,
    in_context_loss_drop,
    induction_score,
    induction_targets,
    next_token_targets,
    phase_change_step,
    previous_token_score,
    repeated_tokens,
    train_induction,
)

IDS = np.array([5, 2, 7, 1, 9, 5, 2, 7, 1, 9])  # a block of 5 tokens, then the same block


def rows(T, picks):
    """Attention pattern (T, T): each query i puts all its weight on key picks(i)."""
    att = np.zeros((T, T))
    for i in range(T):
        att[i, picks(i)] = 1.0
    return att


def test_induction_targets_point_one_past_the_earlier_occurrence():
    target = induction_targets(IDS)
    for i in range(5, 10):  # the repeat: token at i occurred at i - 5, followed by position i - 4
        assert np.flatnonzero(target[i]).tolist() == [i - 4]
    assert not target[:5].any()  # the first block has nothing earlier to look up


def test_an_induction_pattern_scores_one_and_a_previous_token_pattern_does_not():
    T = len(IDS)
    induction = rows(T, lambda i: i - 4 if i >= 5 else 0)
    previous = rows(T, lambda i: max(i - 1, 0))
    assert induction_score(induction, IDS) == 1.0
    assert induction_score(previous, IDS) == 0.0
    assert previous_token_score(previous) == 1.0
    assert previous_token_score(induction) == pytest.approx(1 / 9)  # only i = 1 -> 0 happens to be i - 1


def test_a_uniform_causal_pattern_scores_one_over_the_context():
    T = len(IDS)
    uniform = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    assert induction_score(uniform, IDS) == pytest.approx(np.mean([1 / (i + 1) for i in range(5, 10)]))


def test_scores_take_leading_axes():
    T = len(IDS)
    maps = np.stack([rows(T, lambda i: max(i - 1, 0)), rows(T, lambda i: i - 4 if i >= 5 else 0)])  # (H=2, T, T)
    maps = maps[None, None]  # (L=1, B=1, H, T, T)
    prev, ind = head_scores(maps, IDS[None])
    assert prev.shape == ind.shape == (1, 2)
    assert prev[0].tolist() == [1.0, pytest.approx(1 / 9)] and ind[0].tolist() == [0.0, 1.0]


def test_induction_score_needs_a_repeat():
    with pytest.raises(ValueError, match="occurs twice"):
        induction_score(np.eye(4), np.arange(4))


def test_repeated_tokens_repeat_a_block_of_varying_length():
    ids, n = repeated_tokens(np.random.default_rng(0), 50, 16, 32)
    assert ids.shape == (50, 32) and n.min() >= 8 and n.max() <= 16 and len(set(n.tolist())) > 3
    for row, m in zip(ids, n, strict=True):
        assert (row[m : 2 * m] == row[:m]).all()
    t = next_token_targets(ids)
    assert (t[:, :-1] == ids[:, 1:]).all() and (t[:, -1] == -100).all()


def test_an_untrained_model_predicts_neither_half():
    ids, n = repeated_tokens(np.random.default_rng(0), 64, 16, 32)
    first, repeated = half_losses(AttentionOnly(32, 32, rng=0), ids, n)
    # weights of std 0.02 give near-uniform predictions: ln 32 = 3.47 up to a few hundredths
    assert first == pytest.approx(math.log(32), abs=0.05) and repeated == pytest.approx(math.log(32), abs=0.05)


def test_in_context_loss_drop():
    losses = np.linspace(3.0, 1.0, 64)
    assert in_context_loss_drop(losses, early=(0, 10), late=(-10, None)) == pytest.approx(
        losses[-10:].mean() - losses[:10].mean()
    )


@pytest.mark.slow
def test_the_phase_change_the_heads_and_the_ablation():
    model, history = train_induction(steps=700, seed=0)
    ln_v = math.log(32)
    step = phase_change_step(history)
    assert step is not None and 0 < step < 700
    before = [h for h in history if h["step"] < step - 100]
    assert all(h["repeated_half"] > 0.8 * ln_v for h in before)  # flat, then sudden
    last = history[-1]
    assert last["repeated_half"] < 0.25 * ln_v
    assert all(h["first_half"] > 0.95 * ln_v for h in history)  # the first half never becomes predictable

    ids, n = repeated_tokens(np.random.default_rng(7), 64, 16, 32)
    prev, ind = head_scores(model.attention_maps(ids), ids)
    assert prev[0, 0] > 3 * prev[1, 0]  # layer 1: the previous-token head
    assert ind[1, 0] > 0.5 and ind[0, 0] < 0.2  # layer 2: the induction head

    first, repeated = half_losses(model, ids, n)
    with ablate(model, 1, 0):
        first_ablated, repeated_ablated = half_losses(model, ids, n)
    assert repeated < 0.25 * first
    assert abs(repeated_ablated - first_ablated) < 0.1 * first_ablated
    assert half_losses(model, ids, n) == (first, repeated)  # the ablation ends with the block
