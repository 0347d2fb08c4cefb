"""Neural-network building blocks (``torch.nn`` style).

``Module``/``Parameter`` keep track of weights; the layers wrap the fused ops of
``npgpt.functional``.
"""

from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, layer_norm_composed
from .module import Module, ModuleDict, ModuleList, Parameter
from .positional import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    apply_rope_composed,
    sinusoidal_table,
)
