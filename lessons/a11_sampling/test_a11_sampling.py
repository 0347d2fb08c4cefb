"""Grader of assignment 11: 11.1 top-k, 11.2 top-p, 11.3 the draw, 11.4 the KV cache.

    python -m lessons.grade --assignment a11        # points per task
    pytest lessons/a11_sampling --task 11.2         # one task, pytest's report

Each filter and the draw is called on its own with logits built here and compared with what the
instructor's NumPy rule gives on them (recorded in ``expected.npz`` for a handout: ``lessons.expected``); the KV cache is checked against the full forward pass of a tiny float64
GPT (the cache must change nothing but the speed).
"""

import numpy as np
import pytest

import npgpt
import npgpt.ops.attention as attention
from lessons.expected import Expected
from lessons.grading import assert_close
from npgpt.nn import GPT, GPTConfig
from npgpt.sampling import draw, top_k_filter, top_p_filter

expected = Expected(__file__)


def logits(shape=(3, 10), seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 2


# ----------------------------------------------------------------------------- 11.1 top-k
@pytest.mark.task("11.1", points=3)
@pytest.mark.parametrize("k", [1, 3, 9])
def test_top_k_keeps_the_k_largest(k):
    z = logits()
    got = top_k_filter(z.copy(), k)
    want = expected("top_k_reference", z, k)
    for b in range(z.shape[0]):
        assert_close(got[b], want[b], f"row {b} with k={k} (kept logits unchanged, the rest -inf)")


@pytest.mark.task("11.1", points=1)
def test_top_k_keeps_ties_and_dtype():
    z = np.array([[1.0, 2.0, 2.0, 0.0, -1.0], [3.0, 3.0, 3.0, 3.0, 0.5]], dtype=np.float32)
    got = top_k_filter(z.copy(), 2)
    want = np.array([[-np.inf, 2, 2, -np.inf, -np.inf], [3, 3, 3, 3, -np.inf]], dtype=np.float32)
    assert got.dtype == np.float32, f"top_k_filter must keep the logits' dtype float32, got {got.dtype}"
    assert_close(got, want, "top-2 of rows with ties at the 2nd largest (all tied entries stay)")


# ----------------------------------------------------------------------------- 11.2 top-p
@pytest.mark.task("11.2", points=3)
@pytest.mark.parametrize("top_p,kept", [(0.8, 2), (0.81, 3), (0.1, 1), (1e-16, 1), (0.97, 4)])
def test_top_p_on_known_probabilities(top_p, kept):
    probs = np.array([0.15, 0.5, 0.05, 0.3])  # sorted: 0.5, 0.3, 0.15, 0.05; 0.5 + 0.3 reaches 0.8
    z = np.log(probs)[None, :] + 1.7  # a shift changes no probability
    got = top_p_filter(z.copy(), top_p)
    order = [1, 3, 0, 2]
    want = np.full(4, -np.inf)
    want[order[:kept]] = z[0, order[:kept]]
    assert_close(got[0], want, f"top_p={top_p} on probabilities {probs.tolist()}: keep {kept}")


@pytest.mark.task("11.2", points=2)
@pytest.mark.parametrize("top_p", [0.3, 0.9])
def test_top_p_matches_the_rule_on_random_rows(top_p):
    z = logits((4, 12), seed=2)
    assert_close(
        top_p_filter(z.copy(), top_p), expected("nucleus_reference", z, top_p), f"top_p={top_p} on random rows"
    )


# ----------------------------------------------------------------------------- 11.3 the draw
@pytest.mark.task("11.3", points=2)
def test_draw_inverts_the_cumulative_distribution():
    z = logits((2, 6), seed=3)
    u = np.linspace(0, 1, 101, endpoint=False)
    for b in range(2):
        got = np.array([int(draw(z[b : b + 1], np.array([[x]]))[0]) for x in u])
        want = expected("inverse_cdf_reference", z[b], u)
        assert np.array_equal(got, want), f"row {b}: ids for u = 0, 0.01, ..., 0.99\n got  {got}\n want {want}"


@pytest.mark.task("11.3", points=1)
def test_draw_never_picks_a_filtered_token():
    z = np.array([[0.0, -np.inf, 1.0, -np.inf], [-np.inf, -np.inf, -np.inf, 2.0]])
    for x in [0.0, 0.2, 0.5, 0.8, 0.999999]:
        ids = draw(z, np.array([[x], [x]]))
        assert ids[0] in (0, 2) and ids[1] == 3, f"u={x}: drew {ids.tolist()}, a token with logit -inf"


@pytest.mark.task("11.3", points=1)
def test_draw_frequencies_follow_softmax():
    z = np.log(np.array([[0.1, 0.6, 0.3]]))
    u = np.random.default_rng(4).random((20000, 1))
    ids = np.array([int(draw(z, u[i : i + 1])[0]) for i in range(len(u))])
    freq = np.bincount(ids, minlength=3) / len(ids)
    assert np.allclose(freq, [0.1, 0.6, 0.3], atol=0.015), f"frequencies {freq}, expected [0.1, 0.6, 0.3]"


# ----------------------------------------------------------------------------- 11.4 the KV cache
@pytest.fixture
def grader_mask(monkeypatch):
    """Task 7.1's causal mask replaced by the reference's masks (as recorded), so that a wrong mask
    (all -inf rows give NaN in both runs) cannot hide or cost 11.4's points."""
    monkeypatch.setattr(attention, "causal_mask", lambda Tq, Tk: expected("causal_mask_rule", Tq, Tk))
    monkeypatch.setattr(attention, "_CACHE", {})


def tiny_gpt(pos_encoding):
    cfg = GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8, pos_encoding=pos_encoding)
    return GPT(cfg, rng=0, dtype=np.float64).eval()


def full_logits(model, ids):
    with npgpt.no_grad():
        return model(ids)[0].numpy()


@pytest.mark.task("11.4", points=3)
@pytest.mark.parametrize("pos_encoding", ["learned", "rope"])
def test_token_by_token_with_the_cache_equals_the_full_forward(grader_mask, pos_encoding):
    model = tiny_gpt(pos_encoding)
    ids = np.random.default_rng(5).integers(0, 11, size=(2, 9))
    want = full_logits(model, ids)
    cache = model.new_cache()
    with npgpt.no_grad():
        got = [model(ids[:, :3], cache=cache)[0].numpy()]  # prefill 3 tokens
        got += [model(ids[:, t : t + 1], cache=cache)[0].numpy() for t in range(3, 9)]
    assert_close(np.concatenate(got, axis=1), want, f"logits with the KV cache ({pos_encoding})", rtol=1e-9, atol=1e-11)
    assert [c.length for c in cache] == [9, 9], f"cache lengths {[c.length for c in cache]}, expected 9 per layer"


@pytest.mark.task("11.4", points=1)
def test_several_new_tokens_at_once_against_the_cache(grader_mask):
    model = tiny_gpt("rope")
    ids = np.random.default_rng(6).integers(0, 11, size=(1, 8))
    want = full_logits(model, ids)
    cache = model.new_cache()
    with npgpt.no_grad():
        got = [model(ids[:, :2], cache=cache)[0].numpy(), model(ids[:, 2:5], cache=cache)[0].numpy()]
        got.append(model(ids[:, 5:], cache=cache)[0].numpy())
    assert_close(np.concatenate(got, axis=1), want, "logits of chunks of 2, 3, 3 tokens with the cache", rtol=1e-9)
