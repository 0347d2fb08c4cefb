"""Diagrams and pictures for the lessons, drawn with matplotlib alone (no graphviz, no system binaries).

Every function returns a ``matplotlib.figure.Figure`` (a notebook shows it when it is a cell's last
value; ``fig.savefig(path)`` writes it).

Diagrams of how things work: ``draw_graph`` (the autograd graph of a Tensor result),
``draw_broadcast``, ``draw_transformer``, ``draw_causal_attention``, ``draw_multihead``,
``draw_kv_cache``, ``draw_training_loop``.

Pictures of a trained model (``npgpt.data.load_pretrained()`` gives one): ``plot_attention_maps``,
``plot_position_similarity``, ``plot_embedding_pca``, ``plot_sampling_distributions``,
``plot_loss_curve``.

Scaling (``npgpt.scaling``, ``npgpt.induction``): ``plot_scaling_laws``, ``plot_phase_change``,
``plot_head_maps``.
"""

from .architecture import draw_training_loop, draw_transformer
from .attention import draw_causal_attention, draw_kv_cache, draw_multihead
from .broadcast import draw_broadcast
from .graph import draw_graph, trace
from .scaling import plot_head_maps, plot_phase_change, plot_scaling_laws
from .trained import (
    attention_weights,
    next_char_probs,
    plot_attention_maps,
    plot_embedding_pca,
    plot_loss_curve,
    plot_position_similarity,
    plot_sampling_distributions,
)

__all__ = [
    "attention_weights",
    "draw_broadcast",
    "draw_causal_attention",
    "draw_graph",
    "draw_kv_cache",
    "draw_multihead",
    "draw_training_loop",
    "draw_transformer",
    "next_char_probs",
    "plot_attention_maps",
    "plot_embedding_pca",
    "plot_head_maps",
    "plot_phase_change",
    "plot_scaling_laws",
    "plot_loss_curve",
    "plot_position_similarity",
    "plot_sampling_distributions",
    "trace",
]
