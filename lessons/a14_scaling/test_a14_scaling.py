"""Grader of assignment 14 (why scale): 14.1 FLOPs per token, 14.2 the IsoFLOP minimum, 14.3 the
induction score.

    python -m lessons.grade --assignment a14
    pytest lessons/a14_scaling --task 14.2

Each task is compared with what the instructor's copy of the rule gives (recorded in
``expected.npz`` for a handout: ``lessons.expected``) on configurations and data the grader
makes (odd sizes, a vocabulary larger than the width, a parabola whose vertex is off the grid,
repeated tokens next to each other), so a nearly right answer fails where it differs.
"""

import math

import numpy as np
import pytest

from lessons.expected import Expected
from lessons.grading import assert_close
from npgpt.induction import induction_score, induction_targets
from npgpt.nn import GPTConfig
from npgpt.scaling import flops_per_token, isoflop_minimum

expected = Expected(__file__)


# ----------------------------------------------------------------------------- 14.1 FLOPs per token
@pytest.mark.task("14.1", points=2)
def test_flops_of_one_small_model_by_hand():
    cfg = GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=1, n_embd=16)
    got = flops_per_token(cfg)
    assert got == 67680, f"flops_per_token(L=2, C=16, T=64, V=65) = {got}, counted by hand: 67680"


@pytest.mark.task("14.1", points=4)
@pytest.mark.parametrize(
    "L, C, H, T, V",
    [(1, 8, 1, 16, 7), (3, 48, 3, 128, 65), (4, 96, 4, 64, 1000), (12, 768, 12, 1024, 50257), (2, 10, 5, 3, 50257)],
)
def test_flops_per_token_counts_every_matmul(L, C, H, T, V):
    cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=H, n_embd=C)
    got, want = flops_per_token(cfg), expected("flops_reference", L, C, T, V)
    assert int(got) == got, f"flops_per_token must be a whole number, got {got!r}"
    assert got == want, (
        f"flops_per_token(L={L}, C={C}, T={T}, V={V}) = {got}, expected {want} "
        f"(every matmul of a training step, forward and backward); off by {got - want:+}"
    )


@pytest.mark.task("14.1", points=1)
def test_flops_do_not_depend_on_heads_or_biases():
    a = GPTConfig(vocab_size=50, block_size=32, n_layer=2, n_head=1, n_embd=64)
    b = GPTConfig(vocab_size=50, block_size=32, n_layer=2, n_head=8, n_embd=64, bias=False)
    assert flops_per_token(a) == flops_per_token(b), "splitting C into heads or dropping biases changes no matmul"


# ----------------------------------------------------------------------------- 14.2 the IsoFLOP minimum
def parabola(n, u0, a=0.4, c=2.0):
    return c + a * (np.log10(n) - u0) ** 2


@pytest.mark.task("14.2", points=3)
@pytest.mark.parametrize("u0", [3.3, 4.71, 5.5])
def test_the_vertex_of_an_exact_parabola(u0):
    n = np.array([1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6])
    m = isoflop_minimum(1e11, n, parabola(n, u0))
    assert m.interior, f"the vertex at log10 N = {u0} is inside the grid [3, 6]: interior must be True"
    assert_close(math.log10(m.n_opt), u0, atol=1e-8, what=f"log10 n_opt for a parabola with vertex at {u0}")
    assert_close(m.loss_min, 2.0, atol=1e-8, what="loss at the vertex")
    assert m.budget == 1e11


@pytest.mark.task("14.2", points=2)
def test_noisy_runs_give_the_least_squares_vertex():
    rng = np.random.default_rng(3)
    n = np.logspace(3, 6, 9)
    loss = parabola(n, 4.2, a=0.25) + rng.normal(0, 0.01, n.shape)
    m = isoflop_minimum(3e11, n, loss)
    assert_close(
        math.log10(m.n_opt),
        expected("isoflop_vertex_reference", n, loss),
        atol=1e-8,
        what="log10 n_opt of the least-squares parabola",
    )
    assert m.log10_n_opt_err > 0, "with noise the vertex has a positive standard error"


@pytest.mark.task("14.2", points=2)
def test_a_vertex_outside_the_grid_is_not_interior():
    n = np.logspace(3, 6, 6)
    m = isoflop_minimum(1e11, n, parabola(n, 6.8))
    assert not m.interior, "the vertex is at log10 N = 6.8, beyond the largest run (6): not interior"
    assert_close(math.log10(m.n_opt), 6.0, atol=1e-9, what="n_opt of an edge minimum (the edge it runs into)")


@pytest.mark.task("14.2", points=2)
def test_no_minimum_reports_the_best_run():
    n = np.logspace(3, 6, 5)
    loss = 3.0 - 0.2 * (np.log10(n) - 3) ** 2  # upside down: loss keeps falling to the right
    m = isoflop_minimum(1e11, n, loss)
    assert not m.interior, "a parabola that opens downwards has no minimum"
    assert_close(m.n_opt, 1e6, rtol=1e-9, what="n_opt without a minimum: the run with the lowest loss")
    assert_close(m.loss_min, loss.min(), atol=1e-12, what="loss_min without a minimum: the lowest measured loss")


# ----------------------------------------------------------------------------- 14.3 the induction score
@pytest.mark.task("14.3", points=3)
@pytest.mark.parametrize(
    "ids",
    [[5, 2, 7, 1, 5, 2, 7, 1], [3, 3, 3, 3, 3], [1, 2, 1, 2, 1, 2, 9], [4, 8, 15, 16, 23, 42, 4, 8, 15]],
)
def test_induction_targets(ids):
    got = np.asarray(induction_targets(np.array(ids)))
    want = expected("targets_reference", ids)
    assert got.shape == want.shape, f"induction_targets({ids}) has shape {got.shape}, expected {want.shape}"
    bad = np.argwhere(got != want)
    assert not len(bad), (
        f"induction_targets({ids}) differs at [i, j] = {bad[0].tolist()}: got {got[tuple(bad[0])]}, "
        f"expected {want[tuple(bad[0])]} (key j is one past an earlier occurrence of ids[i], and j < i)"
    )


@pytest.mark.task("14.3", points=4)
def test_induction_score_on_random_patterns():
    rng = np.random.default_rng(0)
    ids = np.array([3, 1, 4, 1, 5, 9, 2, 6, 3, 1, 4, 1, 5, 9, 2, 6, 6])
    T = len(ids)
    att = rng.random((2, 3, T, T)) * np.tril(np.ones((T, T)))
    att /= att.sum(-1, keepdims=True)
    want = expected("induction_score_reference", att, ids)
    got = np.asarray(induction_score(att, ids))
    assert got.shape == (2, 3), f"induction_score of att (2, 3, T, T) must have shape (2, 3), got {got.shape}"
    assert_close(got, want, atol=1e-12, what="induction score: mean over queries with a match of their weight there")


@pytest.mark.task("14.3", points=2)
def test_an_induction_head_scores_one():
    ids = np.array([7, 2, 9, 4, 7, 2, 9, 4])
    att = np.zeros((8, 8))
    for i in range(8):
        att[i, i - 3 if i >= 4 else 0] = 1.0  # the repeat looks one past the earlier occurrence
    assert_close(induction_score(att, ids), 1.0, atol=0, what="a perfect induction pattern")
    prev = np.eye(8, k=-1)
    prev[0, 0] = 1.0
    assert_close(induction_score(prev, ids), 0.0, atol=0, what="a previous-token pattern")


@pytest.mark.task("14.3", points=1)
def test_no_repeat_is_an_error():
    with pytest.raises(ValueError):
        induction_score(np.eye(5), np.arange(5))
