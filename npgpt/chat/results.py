"""The table of what each step after pre-training buys, rendered from the pipeline's results file.

``tools/chat_pipeline.py`` writes ``docs/chat_results.json``; ``render(results)`` turns it into the
Markdown tables the README holds between ``<!-- chat-table -->`` and ``<!-- /chat-table -->`` (a
test holds that the two agree, and notebook 15 shows the same file), so the README and the
notebook cannot disagree with the run. Every number is a mean over the seeds with its spread
[min, max] in brackets; rates are percent of the held-out questions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .tasks import TASKS

RESULTS = Path(__file__).resolve().parent.parent.parent / "docs" / "chat_results.json"
BEGIN, END = "<!-- chat-table -->", "<!-- /chat-table -->"
RATES = ("correct", "abstained", "wrong", "format")


def load(path=RESULTS) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def spread(values, scale=100.0, digits=1) -> str:
    """ "mean (min-max)" of ``values`` times ``scale``; one value alone is just itself."""
    v = np.asarray(values, dtype=float) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} [{v.min():.{digits}f}, {v.max():.{digits}f}]"


def _overall(models, k) -> list:
    rows = [
        f"| model | correct | abstained | wrong | in format | pass@1 sampled | pass@{k} sampled |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in models.items():
        cells = [spread([a[r] for a in m["greedy"]]) for r in RATES]
        sampled = [p for p in m["sampled"] if p is not None]
        cells += [spread([p[key] for p in sampled]) if sampled else "-" for key in ("pass@1", f"pass@{k}")]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def _per_task(models) -> list:
    rows = ["| model | " + " | ".join(TASKS) + " |", "|---|" + "---|" * len(TASKS)]
    for name, m in models.items():
        cells = []
        for t in TASKS:
            c = spread([a["per_task"][t]["correct"] for a in m["greedy"]], digits=0)
            ab, w = (np.mean([a["per_task"][t][r] for a in m["greedy"]]) * 100 for r in ("abstained", "wrong"))
            cells.append(f"{c} / {ab:.0f} / {w:.0f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def _times(times) -> list:
    stages = list(times)
    rows = ["| stage | " + " | ".join(stages) + " | total |", "|---|" + "---|" * (len(stages) + 1)]
    total = np.sum([times[s] for s in stages], axis=0)
    rows.append("| CPU seconds | " + " | ".join(spread(times[s], 1, 0) for s in stages) + f" | {spread(total, 1, 0)} |")
    return rows


def _curves(curves) -> list:
    rows = [
        "| RL run | reward, first fifth | reward, last fifth | sampled correct, last fifth "
        "| abstained, last fifth | KL to SFT (nats), last fifth |",
        "|---|---|---|---|---|---|",
    ]
    for stage, cs in curves.items():
        cells = [spread([c[k] for c in cs], 1, 2) for k in ("reward_first", "reward_last")]
        cells += [spread([c[k] for c in cs]) for k in ("accuracy_last", "abstained_last")]
        rows.append(f"| {stage} | " + " | ".join([*cells, spread([c["kl_last"] for c in cs], 1, 2)]) + " |")
    return rows


def render(results=None) -> str:
    """The Markdown tables of ``results`` (the dict ``tools/chat_pipeline.py`` writes; by default
    docs/chat_results.json, so a notebook shows the README's table with ``print(render())``)."""
    results = load() if results is None else results
    models, k = results["models"], results["k"]
    n, seeds = results["questions"], results["seeds"]
    head = (
        f"{n} held-out questions, seeds {', '.join(map(str, seeds))}: mean [min, max] over the seeds, percent. "
        f"Greedy replies; pass@1 and pass@{k} from {results['samples']} replies sampled at temperature 1."
    )
    lines = [head, "", *_overall(models, k), "", "Per task: correct [min, max] / abstained / wrong, percent.", ""]
    lines += [*_per_task(models), "", "CPU seconds per stage, one process, mean [min, max] over the seeds.", ""]
    lines += [*_times(results["cpu_s"]), "", "The RL runs' logs: means over the first and last fifth of the steps.", ""]
    return "\n".join(lines + _curves(results["curves"]))


def readme_block(text) -> str:
    """The part of the README between the table markers."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"the README has no {BEGIN} ... {END} block")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def replace_block(text, table) -> str:
    """``text`` with the block between the markers replaced by ``table``."""
    readme_block(text)
    head, rest = text.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{rest.split(END, 1)[1]}"


def targets(results) -> list:
    """Issue 24's targets against the means over the seeds: [(what, measured, met)]."""
    mean = {
        name: {r: float(np.mean([a[r] for a in m["greedy"]])) for r in RATES} for name, m in results["models"].items()
    }
    task_mean = {
        name: {t: float(np.mean([a["per_task"][t]["correct"] for a in m["greedy"]])) for t in TASKS}
        for name, m in results["models"].items()
    }
    sft, out = mean["SFT"], []
    for name in [n for n in mean if "checker" in n and "-1" not in n]:
        gain = mean[name]["correct"] - sft["correct"]
        worst = min(task_mean[name][t] - task_mean["SFT"][t] for t in TASKS)
        out.append((f"{name}: correct >= SFT + 5 points", f"{gain * 100:+.1f} points", gain >= 0.05))
        out.append((f"{name}: no task more than 2 points below SFT", f"worst {worst * 100:+.1f}", worst >= -0.02))
    for name in [n for n in mean if "DPO" in n or "-1" in n]:
        cut = 1 - mean[name]["wrong"] / sft["wrong"]
        lost = mean[name]["correct"] - sft["correct"]
        out.append((f"{name}: wrong down by a third", f"{cut * 100:.0f}% fewer", cut >= 1 / 3))
        out.append((f"{name}: correct down by at most 2 points", f"{lost * 100:+.1f} points", lost >= -0.02))
    return out
