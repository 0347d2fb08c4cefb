"""Grader of assignment 8: 8.1 the sinusoidal table, 8.2 RoPE's tables, 8.3 RoPE forward, 8.4 backward.

    python -m lessons.grade --assignment a08        # points per task
    pytest lessons/a08_positional_encoding --task 8.3

Every task is compared with what the instructor's NumPy copy of the rule gives on the same case
(recorded in ``expected.npz`` for a handout: ``lessons.expected``). The RoPE forward and backward
get tables built here (not by task 8.2), and the backward is called on them directly and compared
with central finite differences of the reference forward.
"""

import numpy as np
import pytest

import npgpt
from lessons.expected import Expected
from lessons.grading import assert_close, call_backward
from npgpt.nn.positional import apply_rope_composed, sinusoidal_table
from npgpt.ops.rope import RoPE, rope_tables

expected = Expected(__file__)


# ----------------------------------------------------------------------------- 8.1 sinusoidal
@pytest.mark.task("8.1", points=3)
@pytest.mark.parametrize("T,C", [(9, 8), (5, 7), (3, 2)])
def test_sinusoidal_table_matches_the_paper(T, C):
    pe = sinusoidal_table(T, C)
    assert np.asarray(pe).shape == (T, C), f"table shape {np.asarray(pe).shape}, expected ({T}, {C})"
    assert_close(pe, expected("sinusoidal_reference", T, C), f"sinusoidal table ({T}, {C})")


@pytest.mark.task("8.1", points=1)
def test_sinusoidal_parity_and_slowest_frequency():
    pe = sinusoidal_table(50, 16)
    assert_close(pe[0], np.tile([0.0, 1.0], 8), "position 0: sin 0 = 0 on even features, cos 0 = 1 on odd")
    assert_close(pe[:, 0], np.sin(np.arange(50)), "feature 0: sin(pos), the fastest frequency 1")
    assert_close(pe[:, 15], np.cos(np.arange(50) / 10000 ** (14 / 16)), "feature 15: the slowest frequency")


# ----------------------------------------------------------------------------- 8.2 RoPE tables
@pytest.mark.task("8.2", points=3)
@pytest.mark.parametrize("T,D,base,offset", [(5, 8, 10000.0, 0), (4, 6, 100.0, 7), (1, 2, 10000.0, 3)])
def test_rope_tables(T, D, base, offset):
    cos, sin = rope_tables(T, D, base=base, offset=offset, dtype=np.float64)
    want_cos, want_sin = expected("rope_reference", T, D, base, offset)
    assert_close(cos, want_cos, f"cos table (T={T}, D={D}, base={base}, offset={offset})")
    assert_close(sin, want_sin, f"sin table (T={T}, D={D}, base={base}, offset={offset})")


@pytest.mark.task("8.2", points=1)
def test_rope_tables_dtype():
    cos, sin = rope_tables(3, 4, dtype=np.float32)
    assert cos.dtype == np.float32 and sin.dtype == np.float32, f"tables must be float32, got {cos.dtype}"
    assert_close(cos, expected("rope_reference", 3, 4)[0].astype(np.float32), "float32 cos table", rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- 8.3 RoPE forward
def tables(T, D, seed=0):
    a = np.random.default_rng(seed).uniform(-3, 3, (T, D // 2))  # any angles, not task 8.2's
    a = np.concatenate([a, a], axis=-1)
    return np.cos(a), np.sin(a)


@pytest.mark.task("8.3", points=2)
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (4, 6)], ids=str)
def test_rope_forward_rotates_each_pair(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    cos, sin = tables(*shape[-2:])
    y = RoPE.apply(npgpt.tensor(x), cos=cos, sin=sin).numpy()
    assert_close(y, expected("rotate_pairs_reference", x, cos, sin), f"RoPE(x) for x of shape {shape}")


@pytest.mark.task("8.3", points=1)
def test_composed_rope_gives_the_same_numbers():
    x = np.random.default_rng(2).standard_normal((2, 2, 3, 6))
    cos, sin = tables(3, 6, seed=3)
    y = apply_rope_composed(npgpt.tensor(x), cos, sin).numpy()
    assert_close(y, expected("rotate_pairs_reference", x, cos, sin), "apply_rope_composed(x)")


@pytest.mark.task("8.3", points=1)
def test_rope_scores_depend_only_on_the_distance():
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal(8), rng.standard_normal(8)
    cos, sin = expected("rope_reference", 12, 8)

    def score(m, n):
        qm = RoPE.apply(npgpt.tensor(np.tile(q, (12, 1))), cos=cos, sin=sin).numpy()[m]
        kn = RoPE.apply(npgpt.tensor(np.tile(k, (12, 1))), cos=cos, sin=sin).numpy()[n]
        return qm @ kn

    assert_close(score(5, 2), score(10, 7), "q_5 . k_2 and q_10 . k_7 (both 3 apart)", rtol=1e-9)


# ----------------------------------------------------------------------------- 8.4 RoPE backward
@pytest.mark.task("8.4", points=3)
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (4, 6), (1, 2)], ids=str)
def test_rope_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(5)
    x, g = rng.standard_normal(shape), rng.standard_normal(shape)
    cos, sin = tables(*shape[-2:], seed=6)
    (dx,) = call_backward(RoPE, (cos, sin), g, needs_input_grad=(True,))
    assert_close(dx, expected("rope_vjp_reference", x, g, cos, sin), f"dx for x of shape {shape}", rtol=1e-6, atol=1e-8)
