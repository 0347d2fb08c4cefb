"""The chat-tuning losses: gradient-checked in float64, cross-checked against the same formula in
PyTorch, and pinned to what they mean (the masked loss is the loss of the answer tokens; padding
never changes a gradient; PPO's clip cuts exactly the tokens it should; DPO's weights)."""

import numpy as np
import pytest
from conftest import require_torch

import npgpt
import npgpt.functional as F
from npgpt import gradcheck
from npgpt.chat.data import IGNORE_INDEX, pad_batch
from npgpt.chat.rl import kl_penalized_advantages
from npgpt.nn import GPT, GPTConfig

RNG = np.random.default_rng(0)
B, T, V = 3, 5, 7
TARGETS = RNG.integers(0, V, (B, T))
MASK = RNG.random((B, T)) > 0.4
PAIRS = [RNG.standard_normal(4) * 3 for _ in range(4)]
OLD = RNG.standard_normal((B, T)) * 0.4
ADV = RNG.standard_normal((B, T))


def t64(a):
    return npgpt.tensor(np.array(a, dtype=np.float64), requires_grad=True)


# name -> (npgpt function of float64 tensors, torch function of torch tensors, input arrays)
def _torch_seq(t, logits):
    lp = logits.log_softmax(-1).gather(-1, t.as_tensor(TARGETS)[..., None])[..., 0]
    return (lp * t.as_tensor(MASK)).sum(-1)


def _torch_ppo(t, logp, eps=0.2):
    r = (logp - t.as_tensor(OLD)).exp()
    a = t.as_tensor(ADV)
    obj = t.minimum(r * a, r.clamp(1 - eps, 1 + eps) * a)
    return -(obj * t.as_tensor(MASK)).sum() / MASK.sum()


LOSSES = {
    "sequence_logprobs": (
        lambda z: F.sequence_logprobs(z, TARGETS, MASK),
        _torch_seq,
        [RNG.standard_normal((B, T, V))],
    ),
    "masked_sft_cross_entropy": (
        lambda z: F.cross_entropy(z, np.where(MASK, TARGETS, IGNORE_INDEX)),
        lambda t, z: t.nn.functional.cross_entropy(
            z.reshape(-1, V), t.as_tensor(np.where(MASK, TARGETS, -100)).reshape(-1), ignore_index=-100
        ),
        [RNG.standard_normal((B, T, V))],
    ),
    "bradley_terry": (
        F.bradley_terry_loss,
        lambda t, c, r: -t.nn.functional.logsigmoid(c - r).mean(),
        PAIRS[:2],
    ),
    "dpo_beta_0.1": (
        F.dpo_loss,
        lambda t, pc, pr, rc, rr: -t.nn.functional.logsigmoid(0.1 * ((pc - rc) - (pr - rr))).mean(),
        PAIRS,
    ),
    "dpo_beta_2": (
        lambda *a: F.dpo_loss(*a, beta=2.0),
        lambda t, pc, pr, rc, rr: -t.nn.functional.logsigmoid(2.0 * ((pc - rc) - (pr - rr))).mean(),
        PAIRS,
    ),
    "ppo_clipped": (
        lambda lp: F.ppo_clipped_loss(lp, OLD, ADV, MASK, clip_eps=0.2),
        _torch_ppo,
        [RNG.standard_normal((B, T)) * 0.4],
    ),
}


@pytest.mark.parametrize("name", LOSSES)
def test_gradcheck(name):
    fn, _, arrays = LOSSES[name]
    report = gradcheck(fn, [t64(a) for a in arrays])
    assert report.ok, f"{name}:\n{report}"


@pytest.mark.torch
@pytest.mark.parametrize("name", LOSSES)
def test_matches_torch(name):
    torch = require_torch()
    fn, torch_fn, arrays = LOSSES[name]
    ours = [t64(a) for a in arrays]
    out = fn(*ours)
    out.backward(np.ones(out.shape))
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    tout = torch_fn(torch, *theirs)
    tout.backward(torch.ones_like(tout))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_ppo_case_has_clipped_and_unclipped_tokens():
    """The checks above exercise both branches of the min (else the clip would be untested)."""
    r = np.exp(LOSSES["ppo_clipped"][2][0] - OLD)
    clipped = ((ADV > 0) & (r > 1.2)) | ((ADV < 0) & (r < 0.8))
    assert (clipped & MASK).any() and (~clipped & MASK).any()


def test_ppo_cuts_the_gradient_of_clipped_tokens_only():
    logp = LOSSES["ppo_clipped"][2][0]
    x = t64(logp)
    F.ppo_clipped_loss(x, OLD, ADV, MASK).backward()
    r = np.exp(logp - OLD)
    clipped = ((ADV > 0) & (r > 1.2)) | ((ADV < 0) & (r < 0.8))
    expected = np.where(MASK & ~clipped, -ADV * r / MASK.sum(), 0.0)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12, atol=1e-15)


def test_ppo_on_fresh_samples_is_reinforce():
    """ratio 1 (old = current): the gradient is -A / N on the answer tokens, REINFORCE's."""
    x = t64(OLD)
    F.ppo_clipped_loss(x, OLD, ADV, MASK).backward()
    np.testing.assert_allclose(x.grad, np.where(MASK, -ADV / MASK.sum(), 0.0), rtol=1e-12)


def test_sequence_logprobs_by_hand():
    logits = RNG.standard_normal((B, T, V))
    out = F.sequence_logprobs(npgpt.tensor(logits), TARGETS, MASK).numpy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    for b in range(B):
        hand = sum(logp[b, t, TARGETS[b, t]] for t in range(T) if MASK[b, t])
        assert out[b] == pytest.approx(hand, rel=1e-12)


def test_sequence_logprobs_ignores_targets_outside_the_mask():
    """Targets under a False mask may be anything (padding, ignore_index)."""
    logits = npgpt.tensor(RNG.standard_normal((B, T, V)))
    junk = np.where(MASK, TARGETS, -100)
    np.testing.assert_array_equal(
        F.sequence_logprobs(logits, junk, MASK).numpy(), F.sequence_logprobs(logits, TARGETS, MASK).numpy()
    )


def test_dpo_equals_its_composed_formula_and_weights_pairs_by_sigmoid_minus_z():
    pc, pr, rc, rr = (t64(a) for a in PAIRS)
    beta = 0.5
    fused = F.dpo_loss(pc, pr, rc, rr, beta=beta)
    composed = F.neg(F.mean(F.log_sigmoid((pc - rc - (pr - rr)) * beta)))
    assert fused.item() == pytest.approx(composed.item(), rel=1e-14)
    fused.backward()
    z = beta * ((PAIRS[0] - PAIRS[2]) - (PAIRS[1] - PAIRS[3]))
    np.testing.assert_allclose(pc.grad, -beta / (1 + np.exp(z)) / 4, rtol=1e-12)
    np.testing.assert_allclose(pr.grad, -pc.grad, rtol=1e-12)


def test_log_sigmoid_is_finite_far_out():
    x = t64([-800.0, -30.0, 0.0, 30.0, 800.0])
    y = F.log_sigmoid(x)
    y.backward(np.ones(5))
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad).all()
    np.testing.assert_allclose(y.numpy(), [-800.0, -30.0, -np.log(2), -np.exp(-30.0), 0.0], rtol=1e-12, atol=1e-300)


def test_bradley_terry_by_hand():
    c, r = PAIRS[:2]
    loss = F.bradley_terry_loss(t64(c), t64(r)).item()
    assert loss == pytest.approx(np.mean(np.log1p(np.exp(-(c - r)))), rel=1e-12)


# ------------------------------------------------------------------ the SFT mask in a real model
def _tiny_gpt():
    return GPT(GPTConfig(vocab_size=11, block_size=12, n_layer=1, n_head=2, n_embd=8), rng=0, dtype=np.float64)


EXAMPLES = [  # (ids, mask): mask True on the "answer" tokens
    ([1, 2, 3, 4, 5, 6, 7], [False, False, False, False, True, True, True]),
    ([1, 8, 9, 4, 2], [False, False, False, True, True]),
]


def test_masked_loss_equals_loss_of_answer_tokens_by_hand():
    model = _tiny_gpt()
    x, y = pad_batch(EXAMPLES)
    logits, loss = model(x, y)
    z = logits.numpy()
    logp = z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)
    terms = []
    for b, (ids, mask) in enumerate(EXAMPLES):
        for t in range(1, len(ids)):  # token t predicted at position t - 1, counted if it is answer
            if mask[t]:
                terms.append(-logp[b, t - 1, ids[t]])
    assert len(terms) == 5
    assert loss.item() == pytest.approx(np.mean(terms), rel=1e-12)


def _grads(x, y):
    model = _tiny_gpt()
    _, loss = model(x, y)
    loss.backward()
    return loss.item(), {n: p.grad.copy() for n, p in model.named_parameters()}


def test_padding_never_changes_the_gradient():
    """Other pad ids, or more padding, give the same loss and the same gradient of every weight."""
    x, y = pad_batch(EXAMPLES, pad_id=0)
    loss0, g0 = _grads(x, y)
    x5, y5 = pad_batch(EXAMPLES, pad_id=5)
    wide_x = np.concatenate([x5, np.full((2, 3), 7)], axis=1)
    wide_y = np.concatenate([y5, np.full((2, 3), IGNORE_INDEX)], axis=1)
    for xx, yy in [(x5, y5), (wide_x, wide_y)]:
        loss1, g1 = _grads(xx, yy)
        assert loss1 == pytest.approx(loss0, rel=1e-13)
        for name in g0:
            np.testing.assert_allclose(g1[name], g0[name], rtol=1e-10, atol=1e-14, err_msg=name)


def test_sft_mask_gradcheck_through_the_model():
    model = _tiny_gpt()
    x, y = pad_batch(EXAMPLES)
    report = gradcheck(lambda: model(x, y)[1], [], params=list(model.parameters()), max_samples=6)
    assert report.ok, str(report)


# ------------------------------------------------------------------ RL advantages
def test_kl_penalized_advantages_by_hand():
    scores = np.array([1.0, 0.0, 3.0, 1.0])  # two prompts, two replies each
    logp = np.array([[0.0, -1.0, -2.0]] * 4)
    ref = np.array([[0.0, -1.5, -2.0]] * 4)
    mask = np.array([[False, True, True]] * 4)
    adv = kl_penalized_advantages(scores, logp, ref, mask, kl_coef=0.1, samples=2)
    # leave-one-out baselines: 0, 1, 1, 3 -> score - baseline = 1, -1, 2, -2
    # KL per token on the answer: [0, 0.5, 0]; still to come from token 1: 0.5, from token 2: 0
    expected = np.array([[0, s - 0.05, s] for s in (1.0, -1.0, 2.0, -2.0)])
    np.testing.assert_allclose(adv, expected)


def test_rollout_scores_each_reply_at_its_last_token():
    """The reward model reads the reply's <|end|> (where it was trained to), and the mask covers
    exactly the reply's tokens."""
    from types import SimpleNamespace

    from npgpt.chat.rl import rollout
    from npgpt.chat.template import CHAT_TOKENS
    from npgpt.tokenizers import CharTokenizer

    tok = CharTokenizer(list("abcdefgh")).with_special_tokens(list(CHAT_TOKENS))
    end = tok.special_tokens["<|end|>"]
    policy = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=8), rng=0)
    seen = {}

    def fake_rm(ids, last):
        seen["ids"], seen["last"] = ids, last
        return npgpt.tensor(np.zeros(len(last)))

    prompt = [tok.special_tokens["<|user|>"], 0, 1, end, tok.special_tokens["<|assistant|>"]]
    cfg = SimpleNamespace(samples=8, max_new_tokens=6, temperature=3.0, missing_end_penalty=1.0, idk_mix=0.0)
    x, targets, mask, *_ = rollout(
        policy, policy, fake_rm, tok, [(prompt, "first_word", "a")], cfg, np.random.default_rng(0)
    )
    full, last = seen["ids"], seen["last"]
    P = len(prompt)
    for b in range(8):
        reply = list(full[b, P:])
        n = reply.index(end) + 1 if end in reply else len(reply)
        assert last[b] == P + n - 1
        assert list(np.flatnonzero(mask[b])) == list(range(P - 1, P - 1 + n))
    assert (full[np.arange(8), last] == end).any()  # some replies stopped, and were read at <|end|>
