"""Write the shipped chat data (npgpt/data/chat_*.jsonl, prefs_*.jsonl) from the Shakespeare corpus.

Deterministic: the same corpus and seed give the same bytes. Usage::

    python tools/make_chat_data.py            # rewrites the five files in npgpt/data/

Every question is about one line of a speech (its text, its speaker, its play); each distinct
line is used at most once, and every line is assigned to exactly one split, so the train and
held-out files never share a source line. The rules are in npgpt/data/CHAT_PROVENANCE.md.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from npgpt.chat.tasks import PLAYS, TASKS
from npgpt.data import load_text, shakespeare_path

OUT = Path(__file__).resolve().parent.parent / "npgpt" / "data"
SPEAKER = re.compile(r"[A-Z][A-Za-z' ]{0,18}[A-Za-z]\.?")
PER_TASK = {"train": 400, "val": 50}  # conversations per task and split
PAIRS_TRAIN_PER_TASK = 200
RL_PER_TASK = 400  # chat_rl: questions for RL and the abstention pairs, never demonstrated
# a whole conversation (4 chat tokens + question + answer) fits the default 64-token context
MAX_CHARS = 64 - 4


def speeches(text):
    """(line number, play, speaker, line text) for every line spoken in the corpus."""
    lines = text.split("\n")
    plays, play, out = iter(PLAYS), None, []
    for n, line in enumerate(lines):
        if n + 2 < len(lines) and lines[n + 2] == "by William Shakespeare":
            play = next(plays)  # each play opens with its title, a blank line and this byline
        prev_blank = n == 0 or not lines[n - 1].strip()
        if prev_blank and SPEAKER.fullmatch(line) and n + 1 < len(lines) and lines[n + 1][:1].isalpha():
            speaker, k = line.rstrip("."), n + 1
            while k < len(lines) and lines[k].strip():
                if not lines[k].startswith("["):
                    out.append((k + 1, play, speaker, lines[k].strip()))
                k += 1
    return out


def question(task, line, play, speaker):
    """(question, gold answer) for one source line, or None if the line does not suit the task."""
    qa = _question(task, line, play, speaker)
    return qa if qa is not None and len(qa[0]) + len(qa[1]) <= MAX_CHARS else None


def _question(task, line, play, speaker):
    prefix, longest = TASKS[task]
    if not 8 <= len(line) <= longest or "[" in line:
        return None
    words = line.split()
    if task == "play":
        return prefix + line, play
    if task == "speaker":
        return prefix + line, speaker
    if task == "first_word":
        return (prefix + line, words[0]) if len(words) >= 3 else None
    if task == "capitals":
        return prefix + line, line.upper()
    cut = len(words) // 2  # finish: the second half of the line's words
    return (prefix + " ".join(words[:cut]), " ".join(words[cut:])) if len(words) >= 4 else None


def wrong_answer(task, line, question, gold, play, speaker, rng, pool):
    """A plausible wrong reply that fits the context: another play, another speaker of the play,
    the second word, the line not in capitals, the end of another line."""
    room = MAX_CHARS - len(question)
    if task == "play":
        options = [p for p in PLAYS if p != play]
    elif task == "speaker":
        options = sorted(pool["speakers"][play] - {speaker})
    elif task == "first_word":
        options = [line.split()[1]]
    elif task == "capitals":
        options = [line]  # the instruction ignored
    else:
        options = [a for a in pool["finish_answers"] if a != gold]
    options = [o for o in options if len(o) <= room]
    return str(options[int(rng.integers(len(options)))]) if options else None


def build(seed=0):
    text = load_text(shakespeare_path())
    rng = np.random.default_rng(seed)
    spoken = speeches(text)
    pool = {"speakers": {}, "finish_answers": []}
    for _, play, speaker, _ in spoken:
        pool["speakers"].setdefault(play, set()).add(speaker)
    used, rows = set(), {"train": [], "val": []}
    candidates = [spoken[i] for i in rng.permutation(len(spoken))]
    for task in TASKS:
        need = dict(PER_TASK)
        for n, play, speaker, line in candidates:
            if not any(need.values()):
                break
            qa = question(task, line, play, speaker) if line not in used else None
            if qa is None:
                continue
            split = "val" if need["val"] and (rng.random() < 0.15 or not need["train"]) else "train"
            if not need[split]:
                continue
            used.add(line)  # a line (by its text) is used once, in one split
            need[split] -= 1
            rows[split].append({"task": task, "source": n, "line": line, "play": play, "speaker": speaker, "qa": qa})
            if task == "finish":
                pool["finish_answers"].append(qa[1])
    return rows, pool, rng


def build_rl(rows, seed=0):
    """chat_rl's questions: lines used by neither train nor held-out, drawn with a generator of
    their own (seed + 1), so adding them left the other four files' bytes as they were."""
    spoken = speeches(load_text(shakespeare_path()))
    used = {r["line"] for split in rows.values() for r in split}
    rng = np.random.default_rng(seed + 1)
    candidates = [spoken[i] for i in rng.permutation(len(spoken))]
    out = []
    for task in TASKS:
        need = RL_PER_TASK
        for n, play, speaker, line in candidates:
            qa = question(task, line, play, speaker) if need and line not in used else None
            if qa is None:
                continue
            used.add(line)
            need -= 1
            q, a = qa
            out.append(
                {
                    "task": task,
                    "source": n,
                    "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                }
            )
    return out


def write(rows, pool, rng, out=OUT, rl_rows=()):
    files = {}
    for split in ("train", "val"):
        chats, prefs = [], []
        per_task = {}
        for r in rows[split]:
            q, a = r["qa"]
            meta = {"task": r["task"], "source": r["source"]}
            chats.append({**meta, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
            per_task[r["task"]] = per_task.get(r["task"], 0) + 1
            if split == "val" or per_task[r["task"]] <= PAIRS_TRAIN_PER_TASK:
                bad = wrong_answer(r["task"], r["line"], q, a, r["play"], r["speaker"], rng, pool)
                if bad is not None:  # (no wrong reply fits the context: no pair)
                    prefs.append({**meta, "prompt": q, "chosen": a, "rejected": bad})
        files[f"chat_{split}.jsonl"] = chats
        files[f"prefs_{split}.jsonl"] = prefs
    files["chat_rl.jsonl"] = list(rl_rows)
    for name, records in files.items():
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        (out / name).write_text(body, encoding="utf-8")
        print(f"{out / name}: {len(records)} records, {len(body.encode()):,} bytes")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    rows, pool, rng = build(args.seed)
    write(rows, pool, rng, out=args.out, rl_rows=build_rl(rows, args.seed))


if __name__ == "__main__":
    main()
