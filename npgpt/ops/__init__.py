"""Every differentiable op, one ``Function`` subclass each, grouped by kind.

Importing this package defines them all; ``npgpt.autograd.all_functions()`` lists them, and
``npgpt gradcheck`` checks each through its ``cases()``.
"""

from . import attention, elementwise, embedding, layernorm, matmul, reduce, rope, select, shape, softmax  # noqa: F401
