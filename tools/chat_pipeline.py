"""From GPT to ChatGPT in one run: base model, SFT, reward model, RL, DPO, and the accuracy table.

    python tools/chat_pipeline.py                       # everything, defaults, into runs/chat
    python tools/chat_pipeline.py --base runs/shakespeare/checkpoint   # reuse a base model

Every stage uses its command's defaults and fixed seeds, so the numbers repeat. The table grades
the same held-out questions (npgpt/data/chat_val.jsonl) for each model, greedy decoding:
"correct" is an exact match, "in format" a reply of the right shape that ended its turn. The base
model is asked with the same template (its vocabulary grown by the chat tokens, untrained).
Wall and CPU seconds of each stage are printed with the table (the README quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from npgpt.chat.data import shipped
from npgpt.chat.dpo import DPOConfig, dpo
from npgpt.chat.evaluate import accuracy, load_questions
from npgpt.chat.model import add_chat_tokens, load_policy
from npgpt.chat.reward import RewardConfig, train_reward
from npgpt.chat.rl import RLConfig, rl
from npgpt.chat.sft import SFTConfig, sft
from npgpt.chat.tasks import TASKS
from npgpt.train import TrainConfig, train


def timed(name, fn, times, out_dir=None):
    """Run a stage and record its wall and CPU seconds; with ``out_dir``, a stage already done
    (its checkpoint and its times on disk, from an earlier ``--reuse`` run) is skipped."""
    done = out_dir is not None and name in times and (out_dir / name / "checkpoint").exists()
    if done:
        print(f"== {name}: reused ({times[name]['wall_s']} s wall, {times[name]['cpu_s']} s CPU when it ran)")
        return times[name].get("summary")
    wall, cpu = time.time(), time.process_time()
    out = fn()
    times[name] = {"wall_s": round(time.time() - wall, 1), "cpu_s": round(time.process_time() - cpu, 1)}
    if isinstance(out, dict) and out_dir is not None:
        times[name]["summary"] = out
        (out_dir / "times.json").write_text(json.dumps(times, indent=2))
    print(f"== {name}: {times[name]['wall_s']} s wall, {times[name]['cpu_s']} s CPU")
    return out


def table(results, times, rm_acc):
    head = "| model | correct | in format and stopped | " + " | ".join(TASKS) + " |"
    rows = [head, "|" + "---|" * (3 + len(TASKS))]
    for name, a in results.items():
        per = " | ".join(f"{a['tasks'][t]:.0%}" for t in TASKS)
        rows.append(f"| {name} | {a['correct']:.1%} | {a['format']:.1%} | {per} |")
    total = {k: round(sum(t[k] for t in times.values()), 1) for k in ("wall_s", "cpu_s")}
    rows.append("")
    rows.append(f"reward model pairwise accuracy on held-out pairs: {rm_acc:.1%}")
    rows.append("seconds (wall / CPU): " + ", ".join(f"{k} {v['wall_s']}/{v['cpu_s']}" for k, v in times.items()))
    rows.append(f"total: {total['wall_s']} s wall, {total['cpu_s']} s CPU")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/chat", help="folder for every stage's checkpoint")
    p.add_argument("--base", default=None, help="a base checkpoint to start from instead of training one")
    p.add_argument("--reuse", action="store_true", help="skip stages already done in --out (times.json)")
    args = p.parse_args()
    out, times = Path(args.out), {}
    out.mkdir(parents=True, exist_ok=True)
    if args.reuse and (out / "times.json").exists():
        times = json.loads((out / "times.json").read_text())
    base = args.base
    if base is None:
        cfg = TrainConfig(out_dir=str(out / "base"), sample_chars=0, progress=False)
        timed("base", lambda: train(cfg, overwrite=True), times)
        base = str(out / "base" / "checkpoint")
    quiet = {"eval_questions": 0}
    fresh = {"overwrite": True}  # every run replaces the last one's (the base model is kept with --base)
    timed("sft", lambda: sft(SFTConfig(init_from=base, out_dir=str(out / "sft"), **quiet), **fresh), times, out)
    s = str(out / "sft" / "checkpoint")
    rm = timed(
        "reward", lambda: train_reward(RewardConfig(init_from=s, out_dir=str(out / "reward")), **fresh), times, out
    )
    timed(
        "rl",
        lambda: rl(
            RLConfig(init_from=s, reward_model=str(out / "reward" / "checkpoint"), out_dir=str(out / "rl"), **quiet),
            **fresh,
        ),
        times,
    )
    timed("dpo", lambda: dpo(DPOConfig(init_from=s, out_dir=str(out / "dpo"), **quiet), **fresh), times, out)

    questions = load_questions(shipped("chat_val"))
    results = {}

    def grade_all():
        for name, ck in [
            ("base + template", base),
            ("SFT", s),
            ("SFT + RL", out / "rl" / "checkpoint"),
            ("SFT + DPO", out / "dpo" / "checkpoint"),
        ]:
            model, tok, _ = load_policy(ck)
            model, tok = add_chat_tokens(model, tok)
            model.eval()
            results[name] = accuracy(model, tok, questions)
            print(f"{name}: {results[name]['correct']:.1%} correct, {results[name]['format']:.1%} in format")

    timed("evaluation", grade_all, times)
    text = table(results, times, rm["pairwise_accuracy"])
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f} at the end"
    print(f"\n{len(questions)} held-out questions; machine: {machine}\n\n{text}")
    (out / "results.json").write_text(
        json.dumps(
            {
                "results": results,
                "times": times,
                "machine": machine,
                "reward_pairwise_accuracy": rm["pairwise_accuracy"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
