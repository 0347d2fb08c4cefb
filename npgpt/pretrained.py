"""Small models trained by ``tools/make_pretrained.py`` and shipped in ``npgpt/data/pretrained/``.

    from npgpt.pretrained import load_pretrained
    model, tokenizer = load_pretrained()          # a character GPT trained on the shipped Shakespeare

Each model is an npgpt checkpoint folder (safetensors + JSON, checksummed) with a PROVENANCE.md
that records how it was made and the loss it reached.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError, read_checkpoint
from .data import CharTokenizer
from .nn import GPT, GPTConfig

PRETRAINED_DIR = Path(__file__).parent / "data" / "pretrained"


def pretrained_names() -> list[str]:
    """The names of the shipped models."""
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "state.json").exists())


def pretrained_path(name="shakespeare_char") -> Path:
    path = PRETRAINED_DIR / name
    if not (path / "state.json").exists():
        raise CheckpointError(f"no pretrained model {name!r}; shipped: {pretrained_names()}")
    return path


def load_pretrained(name="shakespeare_char", device="cpu"):
    """(model in eval mode, tokenizer) of a shipped model; ``model.history`` holds its loss curve."""
    ck = read_checkpoint(pretrained_path(name))
    model = GPT(GPTConfig.from_dict(ck["config"]["model"]), dtype=np.float32)
    model.load_state_dict(ck["model"])
    model.to(device)
    model.eval()
    model.history = ck["state"].get("history", [])
    return model, CharTokenizer.from_json(ck["tokenizer_json"])
