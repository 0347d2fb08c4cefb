"""Every differentiable op, one ``Function`` subclass each, grouped by kind.

An op file holds forwards, backwards and their math, nothing else; the examples each op is
gradient-checked on live in ``npgpt.gradcheck_cases``.
"""

from . import (  # noqa: F401  (importing defines them)
    attention,
    chat_losses,
    dropout,
    elementwise,
    embedding,
    layernorm,
    matmul,
    reduce,
    rope,
    select,
    shape,
    softmax,
)
