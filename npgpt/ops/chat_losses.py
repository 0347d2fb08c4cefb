"""The losses that turn a GPT into a chat model: answer log-probabilities, log-sigmoid, DPO, PPO.

Each is a forward and a hand-written backward, as every op in npgpt. How they are used:

* SFT: ``cross_entropy(logits, targets, ignore_index=-100)`` (ops/softmax.py) with the prompt and
  the template masked out of ``targets``.
* sequence log-probability of an answer: ``TokenLogprobs`` picks log p(target) at every position;
  ``npgpt.functional.sequence_logprobs`` sums it over the answer tokens only.
* reward model (Bradley-Terry): ``-LogSigmoid(r_chosen - r_rejected)``, averaged.
* DPO: ``DPOLoss`` on four sequence log-probabilities.
* RL: ``PPOClippedLoss`` on per-token log-probabilities, with advantages that already carry the
  per-token KL penalty to the SFT model (``npgpt.chat.rl.kl_penalized_advantages`` says why).
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module


def _sigmoid(xp, x):
    """1 / (1 + e^-x) without overflow: 0.5 (1 + tanh(x / 2))."""
    return 0.5 * (1 + xp.tanh(0.5 * x))


def _log_sigmoid(xp, x):
    """log sigmoid(x) = min(x, 0) - log(1 + e^-|x|): every exp is at most 1."""
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


def _ints(name, targets, shape, xp):
    t = xp.asarray(targets)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: targets must be integers, got dtype {t.dtype}")
    if t.shape != tuple(shape):
        raise ValueError(f"{name}: targets {tuple(t.shape)} do not match logits {tuple(shape)} + (V,)")
    return t


class TokenLogprobs(Function):
    """y[..., t] = log softmax(logits[..., t, :])[targets[..., t]]: log p of each target token.

    logits (..., V) float, targets (...) int -> (...). Positions whose target is ``ignore_index``
    give 0 and get no gradient.
    ### BEGIN SOLUTION 4.4

    With p = softmax(logits): dlogits[i] = g[i] * (onehot(t_i) - p[i]), the ``y - p`` of
    cross-entropy with the sign flipped (cross-entropy is minus the mean of these).
    ### END SOLUTION 4.4
    """

    @staticmethod
    def forward(ctx, logits, targets, ignore_index=-100):
        xp = get_array_module(logits)
        t = _ints("TokenLogprobs", targets, logits.shape[:-1], xp)
        valid = t != ignore_index
        safe = xp.where(valid, t, 0)
        V = logits.shape[-1]
        if xp.__name__ == "numpy" and bool(((safe < 0) | (safe >= V)).any()):
            raise ValueError(f"a target is outside [0, {V}) and is not ignore_index={ignore_index}")
        ### BEGIN SOLUTION 4.1
        shifted = logits - logits.max(axis=-1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))  # (..., V)
        ### END SOLUTION 4.1
        picked = xp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
        ctx.save_for_backward(logp, safe, valid)
        return (picked * valid).astype(logits.dtype)

    @staticmethod
    def backward(ctx, g):
        logp, t, valid = ctx.saved_tensors
        xp = get_array_module(logp)
        ### BEGIN SOLUTION 4.4
        gv = (g * valid).astype(logp.dtype).reshape(-1)  # one upstream gradient per position
        d = -xp.exp(logp).reshape(-1, logp.shape[-1]) * gv[:, None]  # -p g
        d[xp.arange(d.shape[0]), t.reshape(-1)] += gv  # + onehot(t) g
        return (d.reshape(logp.shape),)
        ### END SOLUTION 4.4


class LogSigmoid(Function):
    """y = log sigmoid(x) = -log(1 + e^-x).  dy/dx = 1 - sigmoid(x) = sigmoid(-x).

    The Bradley-Terry model says P(a preferred to b) = sigmoid(r_a - r_b); its negative
    log-likelihood is -log sigmoid(r_a - r_b). Computed as min(x, 0) - log(1 + e^-|x|), so a large
    |x| neither overflows nor rounds to log(0).
    """

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        return _log_sigmoid(xp, x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * _sigmoid(get_array_module(x), -x),)


class DPOLoss(Function):
    """Direct Preference Optimization (Rafailov et al., 2023), mean over B pairs.

    Inputs (B,) each: policy log-probabilities of the chosen and rejected answers (pc, pr) and the
    reference model's (rc, rr), each summed over the answer tokens. With the implicit rewards
    r_hat = beta * (log pi - log pi_ref):

    ### BEGIN SOLUTION 15.3
        z_b = beta * ((pc_b - rc_b) - (pr_b - rr_b)) = r_hat_chosen - r_hat_rejected
        loss = (1/B) sum_b -log sigmoid(z_b)
    ### END SOLUTION 15.3

    Backward:
    ### BEGIN SOLUTION 15.4
    dloss/dz_b = -sigmoid(-z_b) / B, so
        dpc = -beta sigmoid(-z) / B,  dpr = +beta sigmoid(-z) / B   (and minus those for rc, rr).
    ### END SOLUTION 15.4
    sigmoid(-z) = sigmoid(r_hat_rejected - r_hat_chosen) is the weight of each pair: pairs the
    policy already ranks right (z >> 0) barely move it; pairs it ranks wrong pull hardest.
    """

    @staticmethod
    def forward(ctx, pc, pr, rc, rr, beta=0.1):
        xp = get_array_module(pc)
        ### BEGIN SOLUTION 15.3
        z = beta * ((pc - rc) - (pr - rr))
        loss = -_log_sigmoid(xp, z).mean()
        ### END SOLUTION 15.3
        ctx.save_for_backward(z)
        ctx.beta = beta
        return loss.astype(pc.dtype)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        b = ctx.beta
        ### BEGIN SOLUTION 15.4
        dz = -g * _sigmoid(get_array_module(z), -z) / z.size
        grads = (b * dz, -b * dz, -b * dz, b * dz)  # d/dpc, d/dpr, d/drc, d/drr
        ### END SOLUTION 15.4
        return tuple(d if need else None for d, need in zip(grads, ctx.needs_input_grad))


class PPOClippedLoss(Function):
    """PPO's clipped policy objective (Schulman et al., 2017), negated to be a loss.

    logp (B, T): the policy's log-probabilities of the sampled tokens (differentiable); constants
    ``old_logp`` (B, T) from the policy that sampled them, ``advantages`` (B, T) and ``mask`` (B, T)
    (True on the answer's tokens). With the ratio r = exp(logp - old_logp):

        objective_t = min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t)
        loss = -(1 / N) sum_t mask_t objective_t,        N = number of answer tokens

    Backward: where the unclipped term is the smaller one, d objective / d logp = A r (because
    dr/dlogp = r); where the clipped term is (r has already moved past 1 +- eps in the direction
    A favours), the gradient is 0: that is the clip, a trust region that stops one batch of
    samples from pushing the policy too far. On the first pass over fresh samples r = 1 and the
    gradient is A * dlogp, which is REINFORCE with the advantage A.
    """

    @staticmethod
    def forward(ctx, logp, old_logp, advantages, mask, clip_eps=0.2):
        xp = get_array_module(logp)
        old = xp.asarray(old_logp, dtype=logp.dtype)
        adv = xp.asarray(advantages, dtype=logp.dtype)
        m = xp.asarray(mask).astype(logp.dtype)
        if not (old.shape == adv.shape == m.shape == logp.shape):
            raise ValueError(f"old_logp {old.shape}, advantages {adv.shape}, mask {m.shape} must all be {logp.shape}")
        r = xp.exp(logp - old)
        unclipped, clipped = r * adv, xp.clip(r, 1 - clip_eps, 1 + clip_eps) * adv
        active = unclipped <= clipped  # the min picks the unclipped term: the gradient flows
        n = max(float(m.sum()), 1.0)
        ctx.save_for_backward((r * adv * active * m / n).astype(logp.dtype))
        return (-(xp.minimum(unclipped, clipped) * m).sum() / n).astype(logp.dtype)

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return (-g * d,)
