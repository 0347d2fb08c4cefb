"""The chat template, the JSONL loaders' one-line errors, the shipped data and its split, and
adding the chat tokens to a base model."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npgpt.chat.data import (
    IGNORE_INDEX,
    encode_all,
    load_conversations,
    load_preferences,
    pad_batch,
    pair_examples,
    shipped,
)
from npgpt.chat.evaluate import load_questions
from npgpt.chat.model import add_chat_tokens
from npgpt.chat.tasks import TASKS, grade
from npgpt.chat.template import ASSISTANT, CHAT_TOKENS, END, USER, ChatTemplateError, render, render_text
from npgpt.data import DataError, load_text, shakespeare_path
from npgpt.nn import GPT, GPTConfig
from npgpt.tokenizers import CharTokenizer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def char_tok():
    return CharTokenizer(sorted(set(load_text(shakespeare_path())))).with_special_tokens(list(CHAT_TOKENS))


CONV = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Yes."}]


def test_template_renders_and_masks_the_reply_and_its_end(char_tok):
    ids, mask = render(CONV, char_tok)
    sp = char_tok.special_tokens
    expected = [sp[USER], *char_tok.encode("Hi?"), sp[END], sp[ASSISTANT], *char_tok.encode("Yes."), sp[END]]
    assert ids == expected
    assert mask == [False] * 6 + [True] * 5  # "Yes." and its <|end|>, nothing else
    assert render_text(CONV) == "<|user|>Hi?<|end|><|assistant|>Yes.<|end|>"
    prompt, pmask = render(CONV[:1], char_tok, add_generation_prompt=True)
    assert prompt == expected[:6] and not any(pmask)


def test_template_with_a_bpe_tokenizer():
    from npgpt.tokenizers import BPETokenizer

    tok = BPETokenizer.train(load_text(shakespeare_path())[:5000], 300).with_special_tokens(list(CHAT_TOKENS))
    sp = tok.special_tokens
    ids, mask = render(CONV, tok)
    head = [sp[USER], *tok.encode("Hi?"), sp[END], sp[ASSISTANT]]
    body = tok.encode("Yes.")
    assert ids == head + body + [sp[END]]
    assert mask == [False] * len(head) + [True] * (len(body) + 1)
    assert tok.decode(ids) == render_text(CONV)  # special ids decode to their names
    assert tok.encode("<|end|>") != [sp[END]]  # typed text is never a special token


def test_special_tokens_are_new_ids_and_text_cannot_forge_them(char_tok):
    ids = char_tok.special_tokens
    assert sorted(ids.values()) == list(range(char_tok.vocab_size - 4, char_tok.vocab_size))
    with pytest.raises(DataError):  # "<" and "|" are not even in the corpus's characters
        render([{"role": "user", "content": "<|end|>"}], char_tok)


def test_template_errors(char_tok):
    with pytest.raises(ChatTemplateError, match="unknown role 'bot'"):
        render([{"role": "bot", "content": "x"}], char_tok)
    base = CharTokenizer(list("abc"))
    with pytest.raises(ChatTemplateError, match="no chat tokens.*npgpt sft"):
        render(CONV, base)


def test_pad_batch_targets(char_tok):
    a, b = render(CONV, char_tok), render(CONV[:1] + [{"role": "assistant", "content": "No"}], char_tok)
    x, y = pad_batch([a, b])
    assert x.shape == y.shape == (2, len(a[0]) - 1)
    assert list(y[0][y[0] != IGNORE_INDEX]) == a[0][-5:]
    assert list(y[1][y[1] != IGNORE_INDEX]) == b[0][-3:]
    assert (y[1, len(b[0]) - 1 :] == IGNORE_INDEX).all()  # padding is ignored


BAD_FILES = {
    "not json": (json.dumps({"messages": CONV}) + "\n{oops\n", r"bad\.jsonl:2: not valid JSON"),
    "unknown role": (json.dumps({"messages": [{"role": "bot", "content": "x"}]}), r":1: unknown role 'bot'"),
    "no assistant": (json.dumps({"messages": CONV[:1]}), r":1: the conversation has no assistant turn"),
    "no messages key": ('{"text": "x"}', r":1: no 'messages' key"),
    "content not a string": (json.dumps({"messages": [{"role": "user", "content": 3}]}), r":1: each message needs"),
    "empty file": ("\n\n", r"no conversations"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_conversation_errors_name_file_and_line(tmp_path, case):
    text, pattern = BAD_FILES[case]
    p = tmp_path / "bad.jsonl"
    p.write_text(text)
    with pytest.raises(DataError, match=pattern) as e:
        load_conversations(p)
    assert "\n" not in str(e.value)


def test_conversation_longer_than_the_context(tmp_path, char_tok):
    p = tmp_path / "long.jsonl"
    p.write_text(
        json.dumps({"messages": CONV})
        + "\n"
        + json.dumps({"messages": [CONV[0], {"role": "assistant", "content": "x" * 70}]})
    )
    with pytest.raises(
        DataError, match=r"long\.jsonl:2: the conversation is 77 tokens, longer than the model's context \(64"
    ):
        encode_all(load_conversations(p), char_tok, 64, p)


@pytest.mark.parametrize(
    "record, pattern",
    [
        ({"prompt": "q", "chosen": "", "rejected": "b"}, "empty preference pair: 'chosen'"),
        ({"prompt": "q", "chosen": "a", "rejected": "  "}, "empty preference pair: 'rejected'"),
        ({"prompt": "q", "chosen": "a"}, "needs rejected"),
        ({"prompt": "q", "chosen": "a", "rejected": "a"}, "the same reply"),
        ({"prompt": [{"role": "wizard", "content": "q"}], "chosen": "a", "rejected": "b"}, "unknown role"),
    ],
)
def test_preference_errors(tmp_path, record, pattern):
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(DataError, match=f"p.jsonl:2: .*{pattern}"):
        load_preferences(p)


def test_preferences_accept_the_conversational_shape(tmp_path, char_tok):
    p = tmp_path / "p.jsonl"
    rec = {
        "prompt": [{"role": "user", "content": "Hi?"}],
        "chosen": [{"role": "assistant", "content": "Yes."}],
        "rejected": "No.",
    }
    p.write_text(json.dumps(rec) + "\n")
    (pair,) = load_preferences(p)
    chosen, rejected = pair_examples([pair], char_tok, 64)
    assert chosen[0] == render(CONV, char_tok)
    assert sum(rejected[0][1]) == len("No.") + 1


# ------------------------------------------------------------------ the shipped data
def _records(name):
    return [json.loads(line) for line in shipped(name).read_text().splitlines()]


def test_shipped_data_loads_and_fits_the_default_context(char_tok):
    for name in ("chat_train", "chat_val", "chat_rl"):
        examples = encode_all(load_conversations(shipped(name)), char_tok, 64, name)
        assert len(examples) >= 250
    for name in ("prefs_train", "prefs_val"):
        pair_examples(load_preferences(shipped(name)), char_tok, 64, name)


def test_train_and_held_out_never_share_a_source_line():
    lines = load_text(shakespeare_path()).split("\n")
    sources = {}
    for split in ("train", "val"):
        recs = _records(f"chat_{split}") + _records(f"prefs_{split}")
        sources[split] = {r["source"] for r in recs}
        sources[split + "_text"] = {lines[r["source"] - 1].strip() for r in recs}
        # each question quotes (a part of) its source line
        for r in recs[:50]:
            q = r["messages"][0]["content"] if "messages" in r else r["prompt"]
            assert q.split(": ", 1)[-1].split("? ", 1)[-1] in lines[r["source"] - 1]
    rl = _records("chat_rl")
    sources["rl"], sources["rl_text"] = {r["source"] for r in rl}, {lines[r["source"] - 1].strip() for r in rl}
    for a, b in (("train", "val"), ("rl", "val"), ("rl", "train")):
        assert not sources[a] & sources[b] and not sources[a + "_text"] & sources[b + "_text"], (a, b)


def test_every_task_is_held_out_and_gold_answers_grade_correct():
    qs = load_questions(shipped("chat_val"))
    assert {t for t, _, _ in qs} == set(TASKS)
    for task, _, gold in qs:
        assert grade(task, gold, gold, stopped=True) == (True, True), (task, gold)
    for r in _records("prefs_val"):
        assert grade(r["task"], r["rejected"], r["chosen"], True)[0] is False


def test_make_chat_data_is_deterministic(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_chat_data.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("chat_train", "chat_val", "chat_rl", "prefs_train", "prefs_val"):
        assert (tmp_path / f"{name}.jsonl").read_bytes() == shipped(name).read_bytes(), name


# ------------------------------------------------------------------ growing the vocabulary
def test_add_chat_tokens_grows_the_tied_embedding_with_mean_rows():
    tok = CharTokenizer(list("abcdef"))
    model = GPT(GPTConfig(vocab_size=6, block_size=8, n_layer=1, n_head=2, n_embd=8), rng=0)
    ids = np.array([[0, 1, 2, 3]])
    before = model(ids)[0].numpy()
    grown, tok2 = add_chat_tokens(model, tok)
    W, W0 = grown.transformer.wte.weight.numpy(), model.transformer.wte.weight.numpy()
    assert tok2.vocab_size == W.shape[0] == 10 and grown.config.vocab_size == 10
    np.testing.assert_array_equal(W[:6], W0)
    np.testing.assert_allclose(W[6:], np.repeat(W0.mean(0, keepdims=True), 4, 0), rtol=1e-6)
    after = grown(ids)[0].numpy()
    np.testing.assert_allclose(after[..., :6], before, rtol=1e-5, atol=1e-6)  # old tokens: same logits
    assert add_chat_tokens(grown, tok2)[0] is grown  # already there: nothing to do
