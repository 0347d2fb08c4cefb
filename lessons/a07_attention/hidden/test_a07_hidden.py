"""Instructor-only tests of assignment 7 (never handed out; ``python -m lessons.grade --hidden``).

They probe what the handed-out tests leave open: long masks, and the backward on more heads with a
cached prefix and dropout at once.
"""

import numpy as np
import pytest

from lessons.a07_attention.answers import causal_mask_rule
from lessons.a07_attention.test_a07_attention import (
    check_against_finite_differences,
    earlier_tasks_by_the_grader,  # noqa: F401  (a fixture)
    qkv,
)
from npgpt.ops.attention import causal_mask


@pytest.mark.task("7.1", points=1)
def test_hidden_long_masks():
    for Tq, Tk in [(1, 64), (17, 40), (33, 33)]:
        got = np.asarray(causal_mask(Tq, Tk))
        assert got.dtype == bool and np.array_equal(got, causal_mask_rule(Tq, Tk)), f"causal_mask({Tq}, {Tk})"


@pytest.mark.task("7.3", points=1)
def test_hidden_cached_prefix_with_dropout_and_heads(earlier_tasks_by_the_grader):  # noqa: F811
    q, k, v = qkv((2, 3, 2, 2), (2, 3, 4, 2), 11)
    g = np.random.default_rng(12).standard_normal(q.shape)
    m = (np.random.default_rng(13).random((2, 3, 2, 4)) >= 0.5) / 0.5
    check_against_finite_differences(q, k, v, g, True, m, "Tq=2, Tk=4, 3 heads, dropout p=0.5")
