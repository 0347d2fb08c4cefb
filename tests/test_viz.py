"""npgpt.viz: every diagram and picture builds a Figure holding what it promises (Agg, no display).

The graph drawer is checked against expressions whose graphs are known vertex by vertex; the
attention maps against the model's own output (weights @ v must rebuild the attention output).
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import npgpt
from npgpt import viz
from npgpt.data import CharTokenizer
from npgpt.nn import GPT, GPTConfig


def texts(fig):
    """Every string drawn in a figure (titles, labels, annotations, tick labels)."""
    out = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and callable(a.get_text))]
    return [s for s in out if s]


def render(fig):
    """Draw the figure to pixels (catches errors that only appear at draw time)."""
    assert isinstance(fig, Figure)
    fig.canvas.draw()
    return fig


def leaf(values, name):
    t = npgpt.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)
    t.name = name
    return t


# ------------------------------------------------------------------ the autograd graph
def test_trace_finds_every_vertex_of_a_known_expression():
    x, w, b = leaf(np.ones((3, 4)), "x"), leaf(np.ones((4, 2)), "w"), leaf(np.ones(2), "b")
    h = x @ w + b
    loss = (h.tanh() * h).sum()  # h is used twice: it must appear once
    nodes = viz.trace(loss)
    ops = sorted(n.label for n in nodes.values() if n.kind == "op")
    assert ops == ["Add", "MatMul", "Mul", "Sum", "Tanh"]
    leaves = sorted(n.label.split("\n")[0] for n in nodes.values() if n.kind == "leaf")
    assert leaves == ["b", "w", "x"]
    values = [n for n in nodes.values() if n.kind == "value"]
    assert len(values) == 5  # output, Mul's, Tanh's, Add's (h) and MatMul's results
    mul = next(n for n in nodes.values() if n.label == "Mul")
    assert len(mul.inputs) == 2 and len(set(mul.inputs)) == 2  # tanh(h) and h
    fig = render(viz.draw_graph(loss))
    drawn = texts(fig)
    for label in ops + ["x\n(3, 4)", "w\n(4, 2)", "b\n(2,)", "output\nscalar"]:
        assert label in drawn, label
    assert "autograd graph: 5 ops" in drawn


def test_trace_of_a_leaf_and_of_a_freed_graph():
    x = leaf([1.0, 2.0], "x")
    assert [n.kind for n in viz.trace(x).values()] == ["leaf"]
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="freed"):
        viz.trace(y)


def test_graph_counts_a_tensor_used_twice_once():
    x = leaf([1.0, 2.0], "x")
    y = x * x
    nodes = viz.trace(y)
    mul = next(n for n in nodes.values() if n.kind == "op")
    assert mul.inputs[0] == mul.inputs[1]
    assert sum(n.kind == "leaf" for n in nodes.values()) == 1


# ------------------------------------------------------------------ diagrams
def test_broadcast_shows_the_gradients_npgpt_computes():
    fig = render(viz.draw_broadcast())
    drawn = texts(fig)
    assert "a (3, 1)" in drawn and "b (1, 4)" in drawn
    assert "sum(axis=1)" in drawn and "sum(axis=0)" in drawn
    # gradient of a: each of its 3 entries was copied 4 times; of b: 3 times
    assert drawn.count("4") >= 3 and drawn.count("3") >= 4


@pytest.mark.parametrize(
    "draw, expected",
    [
        (
            lambda: viz.draw_transformer(n_layer=6),
            ["Block x 6\n(pre-LN, residual)", "ln_1: LayerNorm", "ln_f: LayerNorm"],
        ),
        (viz.draw_training_loop, ["loss.backward()\nevery .grad filled", "one training step"]),
        (lambda: viz.draw_multihead(n_head=3), ["head 0", "head 2"]),
        (lambda: viz.draw_kv_cache(steps=4, block_size=6), ["step 0", "step 3", "k,v new"]),
        (viz.draw_causal_attention, ["softmax: rows sum to 1", "-inf", "q = x Wq"]),
    ],
    ids=["transformer", "training_loop", "multihead", "kv_cache", "causal_attention"],
)
def test_diagrams_hold_their_labels(draw, expected):
    drawn = texts(render(draw()))
    for label in expected:
        assert label in drawn, label


def test_causal_attention_masks_exactly_the_future():
    fig = render(viz.draw_causal_attention(text="abcd"))
    assert texts(fig).count("-inf") == 6  # 4 * 3 / 2 cells above the diagonal
    weights = fig.axes[-1].images[0].get_array()
    assert np.allclose(np.triu(weights, 1), 0) and np.allclose(weights.sum(axis=1), 1)


def test_multihead_split_keeps_every_entry():
    fig = render(viz.draw_multihead(n_head=4, head_size=2, T=3))
    cells = [s for s in texts(fig) if "." in s and s.replace(".", "").isdigit()]
    assert len(cells) == 3 * 8 * 3  # the input, the 4 heads together, the merged output


# ------------------------------------------------------------------ a trained model's pictures
TEXT = "to be, or not to be: that is the question.\n"


@pytest.fixture(scope="module")
def small_model():
    tok = CharTokenizer.from_text(TEXT)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16)
    return GPT(cfg, rng=0), tok


def test_attention_weights_rebuild_the_models_attention(small_model):
    from npgpt.autograd import no_grad

    model, tok = small_model
    ids = np.array(tok.encode("to be or"))
    w = viz.attention_weights(model, ids)
    assert w.shape == (2, 2, 8, 8)
    assert np.allclose(w.sum(-1), 1) and np.allclose(np.triu(w, 1), 0)
    # weights @ v, merged and projected, must equal the first block's attention output
    import npgpt.functional as F

    attn = model.transformer.h[0].attn
    with no_grad():
        x = model.transformer.wpe(F.embedding(ids[None], model.transformer.wte.weight), 0)
        h = model.transformer.h[0].ln_1(x)
        v = attn.c_attn(h).reshape(1, 8, 3, 2, 8).permute(2, 0, 3, 1, 4)[2].data[0]
        expected = attn(h).data[0]
    y = (w[0] @ v).transpose(1, 0, 2).reshape(8, 16)
    got = y @ attn.c_proj.weight.data.T + attn.c_proj.bias.data
    assert np.allclose(got, expected, atol=1e-5)


def test_attention_maps_one_panel_per_layer_and_head(small_model):
    model, tok = small_model
    fig = render(viz.plot_attention_maps(model, tok, "to be"))
    assert len(fig.axes) == 4 and all(len(ax.images) == 1 for ax in fig.axes)
    assert "layer 1, head 1" in texts(fig)


def test_position_similarity_learned_next_to_sinusoidal(small_model):
    model, _ = small_model
    fig = render(viz.plot_position_similarity(model))
    titles = [ax.get_title() for ax in fig.axes]
    assert any("learned" in t for t in titles) and any("sinusoidal" in t for t in titles)
    diag = np.diag(fig.axes[1].images[0].get_array())
    assert np.allclose(diag, 1)  # each position is its own best match


def test_embedding_pca_labels_every_character(small_model):
    model, tok = small_model
    fig = render(viz.plot_embedding_pca(model, tok))
    labels = set(texts(fig))
    for c in "tobenrqhu:,.":
        assert c in labels, c
    assert "PC 1" in fig.axes[0].get_xlabel()


def test_sampling_distributions_follow_the_settings(small_model):
    model, tok = small_model
    settings = [dict(temperature=1.0), dict(temperature=1.0, top_k=3), dict(temperature=0.5)]
    fig = render(viz.plot_sampling_distributions(model, tok, "to be", settings=settings, n_chars=10))
    assert len(fig.axes) == 3
    assert f"{tok.vocab_size} of {tok.vocab_size} characters possible" in fig.axes[0].get_title()
    assert f"3 of {tok.vocab_size} characters possible" in fig.axes[1].get_title()
    p1, p_cold = (viz.next_char_probs(model, tok, "to be", **s) for s in (settings[0], settings[2]))
    assert p_cold.max() > p1.max()  # a lower temperature sharpens the distribution


def test_a_figure_shows_itself_in_a_notebook_without_pyplot():
    png = viz.draw_kv_cache(steps=2, block_size=3)._repr_png_()  # what IPython displays
    assert png.startswith(b"\x89PNG")


def test_loss_curve_has_both_splits():
    history = [{"step": s, "train_loss": 3 - s / 100, "val_loss": 3.1 - s / 120} for s in (0, 50, 100)]
    fig = render(viz.plot_loss_curve(history))
    assert [ln.get_label() for ln in fig.axes[0].lines] == ["train", "val"]
