"""On-policy preference pairs for abstention: correct > "I don't know." > wrong, from the model's own replies.

A demonstration cannot teach when to say "I don't know.": whether abstaining is right depends on
what *this* model knows. So the pairs come from the model itself, as real preference data does
(InstructGPT's labellers ranked the model's own samples). For each training question:

1. sample ``samples`` replies from the SFT model (temperature 1) and grade each (``tasks.outcome``);
2. for each correct reply c:  (chosen c, rejected "I don't know.");
   for each wrong reply w:    (chosen "I don't know.", rejected w);
   and pair the correct with the wrong ones in turn: (chosen c, rejected w).

One pair per sampled reply, repeats included, so a question the model gets right 3 times in 4
gives three pairs for answering and one for abstaining: the pairs weigh the two as the +1 / 0 / -1
reward does (abstain when the chance of being right is below 1/2). A question the model always
gets wrong yields only "I don't know." > wrong; one it always gets right only correct > "I don't
know.". Replies that never stopped are left out (their text is not a reply the template can end),
and so are replies holding a chat token's text (they would not encode back to what was sampled).
Where the prompt leaves no room in the context for "I don't know." (the longest "First word:"
questions in the 64-token default), only correct > wrong pairs are written.
The answers are the model's samples;
"I don't know." is written in: the SFT model never says it, and DPO can learn it from the pairs
because its loss reads the reply's log-probability whether or not the model would sample it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .evaluate import reply_texts
from .tasks import ABSTAINED, CORRECT, IDK, outcome
from .template import CHAT_TOKENS, render


def abstention_pairs(model, tokenizer, questions, samples=4, temperature=1.0, seed=0, max_new_tokens=60) -> list:
    """[{"task", "prompt", "chosen", "rejected", "kind"}] from ``samples`` replies per question.

    ``questions``: [(task, prompt messages, gold answer)] (``evaluate.load_questions``). ``kind``
    is "correct>idk", "idk>wrong" or "correct>wrong". The order follows the questions.
    """
    model.eval()
    convs = [q for _, q, _ in questions for _ in range(samples)]
    replies = reply_texts(
        model, tokenizer, convs, max_new_tokens, temperature=temperature, rng=np.random.default_rng(seed)
    )
    idk_len, out = len(tokenizer.encode(IDK)) + 1, []
    for i, (task, prompt, gold) in enumerate(questions):
        room = model.config.block_size + 1 - len(render(prompt, tokenizer, add_generation_prompt=True)[0])
        right, wrong = [], []
        for text, stopped in replies[i * samples : (i + 1) * samples]:
            o = outcome(task, text, gold, stopped)
            if not stopped or o == ABSTAINED or not text.strip() or any(t in text for t in CHAT_TOKENS):
                continue
            (right if o == CORRECT else wrong).append(text)
        pairs = [(c, IDK, "correct>idk") for c in right] + [(IDK, w, "idk>wrong") for w in wrong]
        pairs = pairs if idk_len <= room else []
        pairs += [(c, w, "correct>wrong") for c, w in zip(right * len(wrong), wrong)]
        out += [{"task": task, "prompt": prompt, "chosen": c, "rejected": r, "kind": k} for c, r, k in pairs]
    return out


def write_pairs(pairs, path) -> Path:
    """Write ``pairs`` as JSONL (the shape ``data.load_preferences`` and ``npgpt dpo --data`` read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    tmp.replace(path)
    return path
