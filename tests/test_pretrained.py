"""The small pretrained model shipped for the lessons' pictures: it loads in one line, stays small,
and its weights give exactly the validation loss its PROVENANCE.md records."""

from __future__ import annotations

import re

import numpy as np
import pytest

from npgpt import no_grad
from npgpt.checkpoint import CheckpointError
from npgpt.data import TextDataset, load_text, shakespeare_path
from npgpt.pretrained import PRETRAINED_DIR, load_pretrained, pretrained_names


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained()


def test_shipped_and_small():
    assert "shakespeare_char" in pretrained_names()
    folder = PRETRAINED_DIR / "shakespeare_char"
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 2_000_000, f"{folder} holds {total:,} bytes; keep it under 2 MB"
    assert not list(folder.glob("optimizer*")), "ship the model alone, not the optimizer state"
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.pt"))


def test_loads_in_eval_mode_with_its_tokenizer(pretrained):
    model, tok = pretrained
    assert not model.training
    assert tok.vocab_size == model.config.vocab_size == 76
    assert tok.decode(tok.encode("ROMEO:")) == "ROMEO:"
    assert model.history and model.history[-1]["val_loss"] < 2.2


def test_weights_reproduce_the_recorded_val_loss(pretrained):
    """Re-evaluate on the fixed batches training used; PROVENANCE.md must quote the same number."""
    model, tok = pretrained
    text = (PRETRAINED_DIR / "shakespeare_char" / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "tools/make_pretrained.py" in text
    recorded = float(re.search(r"val loss ([0-9.]+)\*\*", text).group(1))
    assert recorded == pytest.approx(model.history[-1]["val_loss"], abs=1e-4)
    settings = {k: v.strip("`") for k, v in re.findall(r"\| `(\w+)` \| (`[^|]*`) \|", text)}
    ds = TextDataset(load_text(shakespeare_path()), tok)
    bs, T, seed, n = (int(settings[k]) for k in ("batch_size", "block_size", "seed", "eval_batches"))
    batches = ds.fixed_batches("val", n, bs, T, seed=seed + 3)
    with no_grad():
        loss = np.mean([model(x, y)[1].item() for x, y in batches])
    assert loss == pytest.approx(recorded, abs=2e-3)
    assert recorded < np.log(tok.vocab_size) - 2  # far better than guessing uniformly (4.33 nats)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(CheckpointError, match="no pretrained model 'nope'.*shakespeare_char"):
        load_pretrained("nope")
