"""From GPT to ChatGPT in one run: base, SFT, reward model, RL (reward model and checker), abstention, table.

    python tools/chat_pipeline.py                       # 3 seeds, everything, into runs/chat
    python tools/chat_pipeline.py --base runs/shakespeare/checkpoint   # one base model for every seed
    python tools/chat_pipeline.py --write docs/chat_results.json --readme README.md
    python tools/chat_pipeline.py --seeds 1338 & ...; python tools/chat_pipeline.py --reuse   # seeds in parallel

For each seed (a different seed for every stage, the same seeds every time): SFT, the reward model,
RL against it, RL against the checker (+1 correct / 0 otherwise), the abstention preference pairs
from the SFT model's own samples, DPO on them, and RL against the checker with +1 / 0 / -1
(correct / "I don't know." / wrong). Then every model answers the same held-out questions
(npgpt/data/chat_val.jsonl): greedy replies graded correct / abstained / wrong / in format, and
pass@1 / pass@k from replies sampled at temperature 1. The base model is asked with the same
template (its vocabulary grown by the chat tokens, untrained). CPU seconds of each stage
(``time.process_time``) go into the results file with the accuracies; ``--write`` puts it in the
repository and ``--readme`` rewrites the README's table from it (``npgpt.chat.results.render``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from npgpt.chat import results as report
from npgpt.chat.data import shipped
from npgpt.chat.dpo import DPOConfig, dpo
from npgpt.chat.evaluate import accuracy, load_questions, sampled_pass_at_k
from npgpt.chat.model import add_chat_tokens, load_policy
from npgpt.chat.prefs import abstention_pairs, write_pairs
from npgpt.chat.reward import RewardConfig, train_reward
from npgpt.chat.rl import RLConfig, rl
from npgpt.chat.sft import SFTConfig, sft
from npgpt.train import TrainConfig, train

SAMPLES, K = 8, 4  # pass@k: k = 4 from 8 replies sampled per held-out question
# the stages after SFT; every setting not named is its command's default
CHECKER = {"reward": "checker", "kl_coef": 0.05, "max_steps": 150, "prompts": 8, "lr": 1e-4}
# the KL penalty is off: pi_sft gives "I don't know." a probability near e^-70, so any penalty on
# log(pi / pi_sft) forbids learning it
ABSTAIN_RL = {**CHECKER, "wrong_reward": -1.0, "idk_mix": 0.1, "kl_coef": 0.0, "max_steps": 100}
ABSTAIN_DPO = {"max_steps": 200, "nll_coef": 1.0}
MODELS = {  # table row -> stage folder
    "base + template": "base",
    "SFT": "sft",
    "SFT + RL (reward model)": "rl",
    "SFT + RL (checker)": "rl-checker",
    "SFT + DPO (abstention pairs)": "dpo-abstain",
    "SFT + RL (checker +1/0/-1)": "rl-abstain",
}


def timed(name, fn, times):
    """Run a stage; record its CPU seconds (this process) in ``times``; what it returns."""
    wall, cpu = time.time(), time.process_time()
    out = fn()
    times[name] = round(time.process_time() - cpu, 1)
    print(f"== {name}: {time.time() - wall:.1f} s wall, {times[name]} s CPU", flush=True)
    return out


def curve(log_path, part=5):
    """Means of the RL log's rows over its first and last fifth: how the run went."""
    rows = [json.loads(line) for line in Path(log_path).read_text().splitlines()]
    n = max(len(rows) // part, 1)
    keys = ("reward", "accuracy", "abstained", "kl")
    return {
        f"{k}_{w}": sum(r[k] for r in rs) / len(rs)
        for w, rs in (("first", rows[:n]), ("last", rows[-n:]))
        for k in keys
    }


def one_seed(out, seed, base, questions, quick=False, sft_ck=None):
    """Every stage and the grading for one seed: ({row: {"greedy", "sampled"}}, {stage: CPU s}, RL curves).

    ``quick``: two steps a stage and 20 RL questions (a smoke test of the pipeline, not numbers).
    """
    times, curves, fresh = {}, {}, {"overwrite": True}
    quiet = {"eval_questions": 0, "progress": False, "seed": seed}
    if quick:
        quiet["max_steps"] = 2
    if base is None:
        small = (
            {"max_steps": 2, "warmup_steps": 1, "eval_interval": 2, "n_layer": 1, "n_embd": 16, "eval_batches": 1}
            if quick
            else {}
        )
        cfg = TrainConfig(out_dir=str(out / "base"), sample_chars=0, progress=False, seed=seed, **small)
        timed("base", lambda: train(cfg, overwrite=True), times)
        base = str(out / "base" / "checkpoint")
    s = sft_ck or str(out / "sft" / "checkpoint")
    if sft_ck is None:
        timed("sft", lambda: sft(SFTConfig(init_from=base, out_dir=str(out / "sft"), **quiet), **fresh), times)
    rm = RewardConfig(
        init_from=s, out_dir=str(out / "reward"), **{k: v for k, v in quiet.items() if k != "eval_questions"}
    )
    timed("reward", lambda: train_reward(rm, **fresh), times)

    def run_rl(name, **kw):
        cfg = RLConfig(init_from=s, reward_model=str(out / "reward" / "checkpoint"), out_dir=str(out / name), **kw)
        timed(name, lambda: rl(cfg, **fresh), times)
        curves[name] = curve(out / name / "log.jsonl")

    run_rl("rl", **quiet)
    run_rl("rl-checker", **{**CHECKER, **quiet})

    def prefs():
        model, tok, _ = load_policy(s)
        train_q = load_questions(shipped("chat_rl"), 20 if quick else None)
        return write_pairs(abstention_pairs(model, tok, train_q, seed=seed), out / "abstain_pairs.jsonl")

    pairs = timed("abstention pairs", prefs, times)
    cfg = DPOConfig(init_from=s, data=str(pairs), out_dir=str(out / "dpo-abstain"), **{**ABSTAIN_DPO, **quiet})
    timed("dpo-abstain", lambda: dpo(cfg, **fresh), times)
    run_rl("rl-abstain", **{**ABSTAIN_RL, **quiet})

    def grade_all():
        graded = {}
        for name, folder in MODELS.items():
            model, tok, _ = load_policy({"base": base, "sft": s}.get(folder, out / folder / "checkpoint"))
            model, tok = add_chat_tokens(model, tok)
            model.eval()
            greedy = accuracy(model, tok, questions)
            # the base model never ends a turn: its samples are all wrong and the longest to draw
            sampled = None if folder == "base" else sampled_pass_at_k(model, tok, questions, n=SAMPLES, k=K, seed=seed)
            graded[name] = {"greedy": greedy, "sampled": sampled}
            print(
                f"{name}: {greedy['correct']:.1%} correct, {greedy['abstained']:.1%} abstained, "
                f"{greedy['wrong']:.1%} wrong; sampled: {sampled and {k: v for k, v in sampled.items() if k != 'tasks'}}",
                flush=True,
            )
        return graded

    return timed("grading", grade_all, times), times, curves


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/chat", help="folder for every stage's checkpoint (one folder per seed)")
    p.add_argument("--base", default=None, help="one base checkpoint for every seed instead of training one per seed")
    p.add_argument("--base-cpu-s", type=float, default=None, help="with --base: the CPU seconds its training took")
    p.add_argument("--sft", default=None, help="one SFT checkpoint for every seed (the seeds vary the stages after it)")
    p.add_argument("--sft-cpu-s", type=float, default=None, help="with --sft: the CPU seconds its training took")
    p.add_argument("--seeds", type=int, nargs="+", default=[1337, 1338, 1339], help="one run of every stage per seed")
    p.add_argument("--quick", action="store_true", help="two steps a stage, 10 held-out questions: a smoke test")
    p.add_argument("--reuse", action="store_true", help="take a seed already done in --out (its seed.json) as it is")
    p.add_argument("--write", default=None, help="also write the results here (docs/chat_results.json)")
    p.add_argument("--readme", default=None, help="rewrite this README's table from the results")
    args = p.parse_args()
    out = Path(args.out)
    questions = load_questions(shipped("chat_val"), 10 if args.quick else None)
    models, cpu, curves = {}, {}, {}
    for seed in args.seeds:
        done = out / f"seed-{seed}" / "seed.json"
        if args.reuse and done.exists():
            graded, times, seed_curves = json.loads(done.read_text()).values()
        else:
            graded, times, seed_curves = one_seed(
                out / f"seed-{seed}", seed, args.base, questions, args.quick, args.sft
            )
            done.write_text(json.dumps({"graded": graded, "times": times, "curves": seed_curves}))
        for stage, c in seed_curves.items():
            curves.setdefault(stage, []).append(c)
        if args.sft is not None and args.sft_cpu_s is not None:
            times = {"sft (shared)": args.sft_cpu_s, **times}
        if args.base is not None and args.base_cpu_s is not None:
            times = {"base (shared)": args.base_cpu_s, **times}
        for name, g in graded.items():
            models.setdefault(name, {"greedy": [], "sampled": []})
            models[name]["greedy"].append(g["greedy"])
            models[name]["sampled"].append(g["sampled"])
        for stage, t in times.items():
            cpu.setdefault(stage, []).append(t)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f} at the end"
    results = {
        "questions": len(questions),
        "seeds": args.seeds,
        "k": K,
        "samples": SAMPLES,
        "base": "one base model shared by the seeds" if args.base else "one base model per seed",
        "sft": "one SFT model shared by the seeds" if args.sft else "one SFT model per seed",
        "settings": {"rl-checker": CHECKER, "rl-abstain": ABSTAIN_RL, "dpo-abstain": ABSTAIN_DPO},
        "models": models,
        "cpu_s": cpu,
        "curves": curves,
        "machine": machine,
    }
    text = json.dumps(results, indent=1)
    (out / "results.json").write_text(text)
    if args.write:
        Path(args.write).write_text(text + "\n")
    table = report.render(results)
    print(f"\nmachine: {machine}\n\n{table}\n")
    for what, measured, met in report.targets(results):
        print(f"{'met' if met else 'NOT met'}: {what} ({measured})")
    if args.readme:
        readme = Path(args.readme)
        readme.write_text(report.replace_block(readme.read_text(encoding="utf-8"), table), encoding="utf-8")


if __name__ == "__main__":
    main()
