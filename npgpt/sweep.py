"""A scaling sweep: train a grid of GPTs (shapes x compute budgets) and keep each held-out loss.

Every (model, budget, seed) of the grid is one ordinary training run, ``npgpt.train.train`` with
``max_steps`` chosen so that the run spends the budget: tokens D = C / (6 N) (N non-embedding
parameters, ``npgpt.scaling``), steps = D / (batch_size * block_size). The cosine schedule ends
with the run, as Hoffmann et al. 2022 insist (a schedule longer than the run overstates the loss
of small budgets). Pairs whose tokens per parameter fall outside the window, or whose steps
outside [min_steps, max_steps], are listed as skipped with the reason.

Results go to ``out_dir/results.json``: the settings, versions, machine and one record per run
(val loss, steps, tokens, both FLOP counts, CPU seconds). The file is rewritten atomically after
every run, so a sweep killed at any moment keeps every finished run; ``resume=True`` runs only the
missing ones (a run that was killed starts again). Runs go to worker processes (``jobs`` at a
time), each with ``threads`` BLAS threads: small matmuls run faster on one thread than on two.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from . import __version__
from .nn import GPTConfig
from .scaling import flops_per_token, non_embedding_params, train_flops
from .settings import EVAL_BATCHES, FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_INT, check_settings, setting
from .train import TrainConfig, load_dataset, train

FORMAT = "npgpt-sweep 1"
RESULTS = "results.json"
SHIPPED = Path(__file__).parent / "data" / "scaling" / RESULTS  # made by the command in its PROVENANCE.md
# settings that only say how the sweep runs, not what it measures: a resumed sweep may change them
HOW_SETTINGS = ("out_dir", "jobs", "threads", "progress")
# the grid: a resumed sweep may change these too (each run depends only on its own shape, budget
# and seed, which its id names): runs the new grid has are kept, the others dropped
GRID_SETTINGS = ("models", "budgets", "seeds")


@dataclass
class SweepConfig:
    """Every setting of a sweep; each is a ``--flag`` of ``npgpt sweep``."""

    out_dir: str = setting("runs/sweep", "folder for results.json (and each run's folder while it trains)")
    models: str = setting("1x8,1x16,1x24,1x32,1x48,1x64,2x96,3x128", "model shapes LAYERSxWIDTH, comma-separated")
    budgets: str = setting("1e10,3e10,1e11,3e11", "compute budgets C = 6ND in FLOPs, comma-separated")
    seeds: str = setting("1337", "seeds, comma-separated: every point is trained once per seed")
    head_size: int = setting(16, "features per attention head (heads = width / head_size, at least 1)", POSITIVE_INT)
    data: str = setting("shakespeare", "text file ('shakespeare' = the corpus shipped with npgpt)")
    block_size: int = setting(64, "context length in tokens", POSITIVE_INT)
    batch_size: int = setting(32, "sequences per step", POSITIVE_INT)
    lr: float = setting(3e-3, "peak learning rate (cosine decay to lr/10 at the run's last step)", POSITIVE)
    warmup_fraction: float = setting(0.05, "fraction of each run's steps spent on linear warmup", FRACTION)
    weight_decay: float = setting(0.1, "AdamW decoupled weight decay", NON_NEGATIVE)
    eval_batches: int = setting(20, "fixed held-out batches measured at the end of each run", EVAL_BATCHES)
    min_tokens_per_param: float = setting(0.1, "skip runs with fewer tokens per non-embedding parameter", POSITIVE)
    max_tokens_per_param: float = setting(10000.0, "skip runs with more tokens per non-embedding parameter", POSITIVE)
    min_steps: int = setting(10, "skip runs shorter than this many steps", POSITIVE_INT)
    max_steps: int = setting(10000, "skip runs longer than this many steps", POSITIVE_INT)
    jobs: int = setting(1, "runs trained at once, each in its own process", POSITIVE_INT)
    threads: int = setting(1, "BLAS threads per run", POSITIVE_INT)
    progress: bool = setting(True, "print a line per finished run")

    def validate(self):
        """Raise ValueError (one line) for a setting that makes no sense; return self."""
        check_settings(self)  # each number in its range (npgpt/settings.py)
        for name in (
            "head_size",
            "block_size",
            "batch_size",
            "eval_batches",
            "min_steps",
            "max_steps",
            "jobs",
            "threads",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 < self.min_tokens_per_param <= self.max_tokens_per_param:
            raise ValueError(
                f"need 0 < min_tokens_per_param <= max_tokens_per_param, got "
                f"{self.min_tokens_per_param!r} and {self.max_tokens_per_param!r}"
            )
        if self.min_steps > self.max_steps:
            raise ValueError(f"min_steps {self.min_steps} is more than max_steps {self.max_steps}")
        self.shapes(), self.budget_list(), self.seed_list()
        return self

    def shapes(self):
        """[(n_layer, n_embd, n_head)] parsed from ``models``."""
        out = []
        for item in _items(self.models, "models"):
            L, sep, C = item.lower().partition("x")
            if not (sep and L.isdigit() and C.isdigit() and int(L) > 0 and int(C) > 0):
                raise ValueError(f"models: {item!r} is not LAYERSxWIDTH (e.g. 2x32)")
            L, C = int(L), int(C)
            H = max(1, C // self.head_size)
            if C % H:
                raise ValueError(f"models: width {C} does not split into {H} heads of head_size {self.head_size}")
            out.append((L, C, H))
        return out

    def budget_list(self):
        try:
            budgets = [float(b) for b in _items(self.budgets, "budgets")]
        except ValueError:
            raise ValueError(f"budgets must be numbers of FLOPs like 1e11, got {self.budgets!r}") from None
        if any(not b > 0 for b in budgets):
            raise ValueError(f"budgets must be > 0, got {self.budgets!r}")
        return budgets

    def seed_list(self):
        try:
            return [int(s) for s in _items(self.seeds, "seeds")]
        except ValueError:
            raise ValueError(f"seeds must be integers, got {self.seeds!r}") from None


def _items(text, name):
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise ValueError(f"{name} is empty")
    return items


# ----------------------------------------------------------------------------- the plan
def plan(cfg: SweepConfig, vocab_size: int):
    """(runs, skipped): one dict per (model, budget, seed), in the order they are trained."""
    runs, skipped = [], []
    tokens_per_step = cfg.batch_size * cfg.block_size
    for budget in cfg.budget_list():
        for L, C, H in cfg.shapes():
            model = GPTConfig(vocab_size=vocab_size, block_size=cfg.block_size, n_layer=L, n_head=H, n_embd=C)
            N = non_embedding_params(model)
            steps = round(budget / (6 * N) / tokens_per_step)
            tokens = steps * tokens_per_step
            for seed in cfg.seed_list():
                run = {
                    "id": f"L{L}_C{C}_F{budget:.0e}_s{seed}",
                    "n_layer": L,
                    "n_embd": C,
                    "n_head": H,
                    "budget": budget,
                    "seed": seed,
                    "params": N,
                    "steps": steps,
                    "tokens": tokens,
                    "tokens_per_param": tokens / N,
                    "flops": train_flops(model, tokens),
                    "flops_exact": flops_per_token(model) * tokens,
                }
                why = _skip_reason(cfg, run)
                (skipped if why else runs).append({**run, "skipped": why} if why else run)
    return runs, skipped


def _skip_reason(cfg, run):
    if run["steps"] < cfg.min_steps or run["steps"] > cfg.max_steps:
        return f"{run['steps']} steps, outside [{cfg.min_steps}, {cfg.max_steps}]"
    if not cfg.min_tokens_per_param <= run["tokens_per_param"] <= cfg.max_tokens_per_param:
        return f"{run['tokens_per_param']:.3g} tokens per parameter, outside [{cfg.min_tokens_per_param:g}, {cfg.max_tokens_per_param:g}]"
    return None


def train_config(cfg: SweepConfig, run: dict, out_dir) -> TrainConfig:
    """The ``npgpt train`` settings of one run of the sweep."""
    return TrainConfig(
        data=cfg.data,
        out_dir=str(out_dir),
        n_layer=run["n_layer"],
        n_head=run["n_head"],
        n_embd=run["n_embd"],
        block_size=cfg.block_size,
        batch_size=cfg.batch_size,
        max_steps=run["steps"],
        lr=cfg.lr,
        min_lr=cfg.lr / 10,
        warmup_steps=round(cfg.warmup_fraction * run["steps"]),
        weight_decay=cfg.weight_decay,
        eval_interval=run["steps"],  # measure once, at the end (and at step 0)
        eval_batches=cfg.eval_batches,
        seed=run["seed"],
        sample_chars=0,
        progress=False,
    )


def run_one(settings: dict, run: dict) -> dict | None:
    """Train one run of the sweep (in a worker process); its record, or None if it was interrupted."""
    cfg = SweepConfig(**settings)
    folder = Path(cfg.out_dir) / "runs" / run["id"]
    cpu, wall = time.process_time(), time.perf_counter()
    res = train(train_config(cfg, run, folder), overwrite=True, log=_quiet)
    if res.interrupted:
        return None
    record = {
        **run,
        "val_loss": res.val_loss,
        "train_loss": res.train_loss,
        "initial_val_loss": res.history[0]["val_loss"],
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "wall_seconds": round(time.perf_counter() - wall, 2),
    }
    shutil.rmtree(folder, ignore_errors=True)  # the loss is what the sweep keeps
    return record


def _quiet(*args, **kwargs):
    pass


# ----------------------------------------------------------------------------- the results file
def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def versions() -> dict:
    return {"npgpt": __version__, "numpy": np.__version__, "python": platform.python_version()}


def command_line(cfg: SweepConfig) -> str:
    """The ``npgpt sweep`` command that makes these settings (every measuring setting spelled out)."""
    parts = ["npgpt sweep"]
    for f in fields(SweepConfig):
        if f.name in ("jobs", "threads", "progress"):
            continue
        parts.append(f"--{f.name.replace('_', '-')} {getattr(cfg, f.name)}")
    return " ".join(parts)


def measured_settings(cfg: SweepConfig) -> dict:
    return {k: v for k, v in asdict(cfg).items() if k not in HOW_SETTINGS}


def load_results(path=SHIPPED) -> dict:
    """A results file written by ``run_sweep`` (ValueError if it is not one); default: the shipped sweep."""
    path = Path(path)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable sweep results file ({e})") from None
    if not isinstance(results, dict) or results.get("format") != FORMAT:
        raise ValueError(f"{path}: not a sweep results file (format {FORMAT!r})")
    return results


def save_results(results, path):
    """Write atomically: a kill leaves either the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def start_results(cfg: SweepConfig, resume: bool, overwrite: bool) -> dict:
    """The results so far: a new file's header, or (``resume``) the file's runs if its settings match."""
    path = Path(cfg.out_dir) / RESULTS
    if path.exists() and resume:
        results = load_results(path)
        new = measured_settings(cfg)
        differ = sorted(k for k, v in new.items() if results["settings"].get(k) != v and k not in GRID_SETTINGS)
        if differ:
            raise ValueError(f"{path} was made with other settings ({', '.join(differ)}): resume it with its own")
        results["settings"], results["command"] = new, command_line(cfg)  # the grid may have grown
        return results
    if path.exists() and not overwrite:
        raise ValueError(f"{path} already holds a sweep: continue it with --resume, or pass --overwrite to replace it")
    return {
        "format": FORMAT,
        "command": command_line(cfg),
        "settings": measured_settings(cfg),
        "versions": versions(),
        "machine": machine(),
        "started": _now(),
        "updated": _now(),
        "cpu_seconds": 0.0,
        "runs": [],
        "skipped": [],
    }


# ----------------------------------------------------------------------------- the sweep
def run_sweep(cfg: SweepConfig, resume=False, overwrite=False, log=print) -> dict:
    """Train every missing run of the plan, ``cfg.jobs`` at a time; return the results.

    KeyboardInterrupt (Ctrl-C) propagates after the finished runs are saved.
    """
    cfg.validate()
    vocab_size = load_dataset(TrainConfig(data=cfg.data)).vocab_size  # the char tokenizer of every run
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = start_results(cfg, resume, overwrite)
    runs, skipped = plan(cfg, vocab_size)
    results["skipped"] = skipped
    _drop_runs_off_the_grid(results, {r["id"] for r in runs}, log)
    done = {r["id"] for r in results["runs"]}
    todo = [r for r in runs if r["id"] not in done]
    results["planned"] = len(runs)
    save_results(results, out / RESULTS)
    if done:
        log(f"resuming: {len(done)} of {len(runs)} runs done, {len(todo)} to go")
    total_flops, flops_done, t0 = sum(r["flops"] for r in todo), 0.0, time.perf_counter()
    settings = asdict(cfg)
    with _blas_threads(cfg.threads), ProcessPoolExecutor(cfg.jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_one, settings, r) for r in todo]
        try:
            for fut in as_completed(futures):
                rec = fut.result()
                if rec is None:
                    continue
                results["runs"].append(rec)
                results["cpu_seconds"] = round(results["cpu_seconds"] + rec["cpu_seconds"], 2)
                results["updated"] = _now()
                save_results(results, out / RESULTS)
                flops_done += rec["flops"]
                log(_progress_line(results, rec, flops_done, total_flops, time.perf_counter() - t0))
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            raise
    if len(results["runs"]) == results["planned"]:
        write_provenance(results, out / "PROVENANCE.md")
    if (out / "runs").is_dir() and not any((out / "runs").iterdir()):
        (out / "runs").rmdir()  # every run's folder was removed once its loss was recorded
    return results


def _drop_runs_off_the_grid(results, planned, log):
    """A resumed sweep whose grid changed keeps only the runs of the new grid (the rest are listed)."""
    off = [r for r in results["runs"] if r["id"] not in planned]
    if not off:
        return
    results["runs"] = [r for r in results["runs"] if r["id"] in planned]
    results.setdefault("dropped", []).extend({"id": r["id"], "cpu_seconds": r["cpu_seconds"]} for r in off)
    results["cpu_seconds"] = round(sum(r["cpu_seconds"] for r in results["runs"]), 2)
    log(f"the grid changed: {len(off)} runs not on it are dropped (listed under 'dropped')")


def _progress_line(results, rec, flops_done, total_flops, seconds):
    n, planned = len(results["runs"]), results["planned"]
    eta = seconds * (total_flops - flops_done) / flops_done if flops_done else 0.0
    return (
        f"[{n}/{planned}] {rec['n_layer']}x{rec['n_embd']} ({rec['params']:,} params) at {rec['budget']:.0e} FLOPs: "
        f"{rec['steps']} steps, val loss {rec['val_loss']:.4f}, {rec['cpu_seconds']:.0f} s CPU; about {eta / 60:.0f} min left"
    )


class _blas_threads:
    """Set the BLAS thread count the worker processes start with (restored afterwards)."""

    NAMES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

    def __init__(self, n):
        self.n, self.saved = n, {}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.NAMES}
        os.environ.update({k: str(self.n) for k in self.NAMES})

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


def _dropped_lines(results):
    dropped = results.get("dropped", [])
    if not dropped:
        return []
    cpu = sum(d["cpu_seconds"] for d in dropped)
    return [
        f"- the sweep was resumed with a changed grid: {len(dropped)} runs of the earlier grid ({cpu:.0f} s of CPU)"
        " were dropped, listed under `dropped` in results.json"
    ]


def write_provenance(results, path):
    """PROVENANCE.md for a finished sweep: the command, CPU time, machine, dates and every run's loss."""
    m, v = results["machine"], results["versions"]
    lines = [
        "# Scaling sweep: provenance",
        "",
        "Made by `npgpt sweep` (npgpt/sweep.py) with the command below; `results.json` holds the settings,",
        "and `npgpt sweep --out-dir DIR` with the same flags makes the same grid again (the losses agree",
        "to float32 rounding on another BLAS build; `--jobs` and `--threads` change nothing measured).",
        "",
        "```text",
        results["command"],
        "```",
        "",
        f"- runs: {len(results['runs'])} trained, {len(results['skipped'])} pairs of the grid skipped (outside the "
        "tokens-per-parameter or steps window; listed in results.json with the reason)",
        f"- CPU time: {results['cpu_seconds']:.0f} s in all ({results['cpu_seconds'] / 60:.1f} min), one BLAS thread per run",
        *_dropped_lines(results),
        f"- machine: {m['platform']}, {m['processor']}, {m['cpu_count']} cores (shared with other jobs)",
        f"- versions: npgpt {v['npgpt']}, numpy {v['numpy']}, python {v['python']}",
        f"- started {results['started']}, finished {results['updated']}",
        "",
        "| model | N (non-embedding) | budget (FLOPs) | steps | tokens per parameter | val loss | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results["runs"], key=lambda r: (r["budget"], r["params"])):
        lines.append(
            f"| {r['n_layer']}x{r['n_embd']} | {r['params']:,} | {r['budget']:.0e} | {r['steps']} | "
            f"{r['tokens_per_param']:.1f} | {r['val_loss']:.4f} | {r['cpu_seconds']:.1f} |"
        )
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
