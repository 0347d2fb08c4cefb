"""Neural-network building blocks and the GPT model (``torch.nn`` style).

``Module``/``Parameter`` keep track of weights; the layers wrap the fused ops of
``npgpt.functional``; ``GPT`` stacks them into a GPT-2-style language model.
"""

from .attention import CausalSelfAttention, KVCache, attention_composed, causal_mask
from .block import Block
from .config import PRESETS, GPTConfig, parameter_count
from .gpt import GPT
from .layers import GELU, Dropout, Embedding, Identity, LayerNorm, Linear, layer_norm_composed
from .mlp import MLP
from .module import Module, ModuleDict, ModuleList, Parameter
from .positional import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    apply_rope_composed,
    sinusoidal_table,
)

__all__ = [
    "Module",
    "ModuleList",
    "ModuleDict",
    "Parameter",
    "Linear",
    "Embedding",
    "LayerNorm",
    "Dropout",
    "GELU",
    "Identity",
    "layer_norm_composed",
    "LearnedPositionalEmbedding",
    "SinusoidalPositionalEncoding",
    "RotaryEmbedding",
    "apply_rope_composed",
    "sinusoidal_table",
    "CausalSelfAttention",
    "KVCache",
    "attention_composed",
    "causal_mask",
    "MLP",
    "Block",
    "GPTConfig",
    "PRESETS",
    "parameter_count",
    "GPT",
]
