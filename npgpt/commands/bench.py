"""``npgpt bench``: npgpt against a PyTorch eager reference of the same architecture and weights.

Each measurement runs in its own process (``python -m npgpt.commands.bench --worker ...``): OpenBLAS's
worker thread busy-waits after each call and would steal a core from PyTorch's thread pool if both
ran in one process. The two libraries' processes alternate (A B A B ...), each warms up first,
and the report gives the median over runs of each process's median, and the ratio npgpt / PyTorch.

Measured per configuration: a training step (forward + backward + AdamW), a forward pass without
gradients, the peak resident memory a training step adds, and greedy generation speed (tokens/s)
with and without npgpt's KV cache: inside the context window, where the cache is exact and pays,
and separately past it, where a model with learned positions re-runs the cropped window per token.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from ..autograd import no_grad
from ..backend import DeviceError, cupy_module
from ..memory import current_rss_bytes, peak_rss_bytes, reset_peak_rss, tune_malloc
from ..nn import GPT, GPTConfig
from ..optim import AdamW
from ..settings import POSITIVE_INT
from .bench_profile import profile_table
from .bench_tokenizers import tokenizer_rows
from .flags import help_with_range

CONFIGS = {
    # name: (n_layer, n_head, n_embd, block_size, batch_size)
    "tiny": (2, 2, 64, 32, 8),
    "small": (4, 4, 128, 64, 12),  # npgpt train's default model
    "mid": (6, 6, 384, 256, 8),
}
VOCAB = 65


def _model_config(name):
    L, H, C, T, _ = CONFIGS[name]
    return GPTConfig(vocab_size=VOCAB, block_size=T, n_layer=L, n_head=H, n_embd=C)


def _batches(name, n, seed=0):
    _, _, _, T, B = CONFIGS[name]
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, VOCAB, (B, T)), rng.integers(0, VOCAB, (B, T))) for _ in range(n)]


# ----------------------------------------------------------------------------- workers
def _new_tokens(name, what):
    """``generate``: fill the context window exactly (where the KV cache is exact and pays);
    ``generate_long``: three windows' worth, where each token past the first window needs a full
    forward over the cropped window, cache or not (see npgpt/generation.py)."""
    T = CONFIGS[name][3]
    return T - 1 if what == "generate" else 3 * T


def _time_steps(step, batches, warmup, sync=lambda: None):
    """Median milliseconds per call of ``step`` after ``warmup`` calls (``sync`` waits for a GPU)."""
    for x, y in batches[:warmup]:
        step(x, y)
    sync()
    times = []
    for x, y in batches[warmup:]:
        t = time.perf_counter()
        step(x, y)
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def _device_batches(name, n, device):
    """Batches already on ``device``, so no host-to-device copy is timed, and a sync function."""
    batches = _batches(name, n)
    if device == "cpu":
        return batches, lambda: None
    cp = cupy_module()
    return [(cp.asarray(x), cp.asarray(y)) for x, y in batches], cp.cuda.Device().synchronize


def _npgpt_worker(name, what, steps, device):
    tune_malloc()
    model = GPT(_model_config(name), rng=np.random.default_rng(0), device=device)
    out = {}
    if what == "train":
        opt = AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1)

        def step(x, y):
            _, loss = model(x, y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        batches, sync = _device_batches(name, steps + 3, device)
        reset_peak_rss()
        rss0 = current_rss_bytes()
        out["ms"] = _time_steps(step, batches, 3, sync)
        out["peak_mb"] = (peak_rss_bytes() - rss0) / 2**20
    elif what == "forward":
        model.eval()

        def fwd(x, y):
            with no_grad():
                model(x)

        batches, sync = _device_batches(name, steps + 3, device)
        out["ms"] = _time_steps(fwd, batches, 3, sync)
    else:  # generate from a 1-token prompt, inside the context window or past it
        model.eval()
        n_new = _new_tokens(name, what)
        idx = np.zeros((1, 1), dtype=np.int64)
        for key, cache in (("tok_s_cache", True), ("tok_s_nocache", False)):
            model.generate(idx, 4, temperature=0, use_cache=cache)
            t = time.perf_counter()
            model.generate(idx, n_new, temperature=0, use_cache=cache)
            out[key] = n_new / (time.perf_counter() - t)
    return out


def _torch_worker(name, what, steps, device):
    import torch

    from ..reference.torch_gpt import TorchGPT, load_npgpt_weights  # imports torch

    torch.manual_seed(0)
    cfg = _model_config(name)
    model = TorchGPT(cfg)
    load_npgpt_weights(model, GPT(cfg, rng=np.random.default_rng(0)).state_dict())
    dev = torch.device(device)
    model.to(dev)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    out = {}
    tb = [(torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)) for x, y in _batches(name, steps + 3)]
    if what == "train":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1)

        def step(x, y):
            _, loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        reset_peak_rss()
        rss0 = current_rss_bytes()
        out["ms"] = _time_steps(step, tb, 3, sync)
        out["peak_mb"] = (peak_rss_bytes() - rss0) / 2**20
    elif what == "forward":
        model.eval()

        def fwd(x, y):
            with torch.no_grad():
                model(x)

        out["ms"] = _time_steps(fwd, tb, 3, sync)
    else:  # greedy generation without a cache (the reference model has none), as nanoGPT does
        model.eval()
        n_new = _new_tokens(name, what)
        idx = torch.zeros((1, 1), dtype=torch.long, device=dev)

        def gen(n):
            ids = idx
            with torch.no_grad():
                for _ in range(n):
                    logits, _ = model(ids[:, -cfg.block_size :])
                    ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)

        gen(4)
        t = time.perf_counter()
        gen(n_new)
        out["tok_s_nocache"] = n_new / (time.perf_counter() - t)
    return out


# ----------------------------------------------------------------------------- driver
def _run_worker(lib, name, what, steps, device):
    cmd = [sys.executable, "-m", "npgpt.commands.bench", "--worker", lib, name, what, str(steps), device]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"benchmark worker {' '.join(cmd[3:])} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _median(runs, key):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else float("nan")


def _torch_reference(device):
    """None when PyTorch can be the reference on ``device``, else why not (torch is imported in a
    child process only: the driver itself never loads it)."""
    if importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed (pip install -e '.[reference]' to compare against it)"
    if device == "cuda":
        probe = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"
        if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode != 0:
            return "this PyTorch cannot use the GPU (a CPU-only build, or no CUDA device it can see)"
    return None


def run_benchmark(configs=("tiny", "small", "mid"), repeats=3, steps=20, device="cpu", log=print):
    """Alternate npgpt and torch worker processes; returns a list of result rows (dicts)."""
    why_not = _torch_reference(device)
    have_torch = why_not is None
    if not have_torch:
        log(f"{why_not}: only npgpt's own numbers are measured")
    rows = []
    for name in configs:
        n_steps = max(5, steps // 4) if name == "mid" else steps
        for what in ("train", "forward", "generate", "generate_long"):
            a, b = [], []
            for _ in range(repeats):
                a.append(_run_worker("npgpt", name, what, n_steps, device))
                if have_torch:
                    b.append(_run_worker("torch", name, what, n_steps, device))
            row = {"config": name, "measure": what}
            if what.startswith("generate"):
                row.update(
                    npgpt_cache=_median(a, "tok_s_cache"),
                    npgpt_nocache=_median(a, "tok_s_nocache"),
                    torch_nocache=_median(b, "tok_s_nocache") if b else None,
                )
                row["cache_speedup"] = row["npgpt_cache"] / row["npgpt_nocache"]
            else:
                row.update(npgpt_ms=_median(a, "ms"), torch_ms=_median(b, "ms") if b else None)
                row["ratio"] = row["npgpt_ms"] / row["torch_ms"] if b else None
                if what == "train":
                    row.update(npgpt_peak_mb=_median(a, "peak_mb"), torch_peak_mb=_median(b, "peak_mb") if b else None)
            rows.append(row)
            log(format_row(row))
    return rows


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def format_row(r):
    L, H, C, T, B = CONFIGS[r["config"]]
    shape = f"{r['config']} ({L}L {H}H {C}C T{T} B{B})"
    if r["measure"].startswith("generate"):
        label = "generate" if r["measure"] == "generate" else "past window"
        return (
            f"{shape:<28} {label:<12} npgpt+cache {_fmt(r['npgpt_cache'], '8.0f')} tok/s   npgpt {_fmt(r['npgpt_nocache'], '6.0f')} tok/s"
            f"   torch {_fmt(r['torch_nocache'], '6.0f')} tok/s   cache speed-up {r['cache_speedup']:.1f}x"
        )
    extra = ""
    if r["measure"] == "train":
        extra = f"   peak +{_fmt(r['npgpt_peak_mb'], '.0f')} MB vs +{_fmt(r['torch_peak_mb'], '.0f')} MB"
    return (
        f"{shape:<28} {r['measure']:<9}  npgpt {_fmt(r['npgpt_ms'], '8.2f')} ms   torch {_fmt(r['torch_ms'], '8.2f')} ms"
        f"   ratio {_fmt(r['ratio'], '.2f')}{extra}"
    )


def add_parser(sub):
    p = sub.add_parser("bench", help="time npgpt against a PyTorch eager reference (same model and weights)")
    p.add_argument("--configs", nargs="*", default=["tiny", "small", "mid"], choices=list(CONFIGS))
    p.add_argument(
        "--repeats",
        type=POSITIVE_INT.parse,
        default=3,
        help=help_with_range("worker processes per library and measurement", POSITIVE_INT, 3),
    )
    p.add_argument(
        "--steps",
        type=POSITIVE_INT.parse,
        default=20,
        help=help_with_range("timed steps per worker (mid uses a quarter, at least 5)", POSITIVE_INT, 20),
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument(
        "--tokenizers", action="store_true", help="measure the tokenizers instead (encode, training, compression)"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="npgpt alone: a training step's time per op, forward and backward apart (--configs, --steps)",
    )
    p.set_defaults(func=main)


def main(args) -> int:
    if getattr(args, "tokenizers", False):
        print(f"npgpt bench --tokenizers: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
        rows = tokenizer_rows(args.repeats)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"tokenizer_rows": rows, "cpus": os.cpu_count()}, f, indent=2)
        return 0
    if getattr(args, "profile", False):
        if args.device != "cpu":
            print("npgpt bench: --profile measures the CPU (--device cpu)", file=sys.stderr)
            return 2
        print(f"npgpt bench --profile: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
        for name in args.configs:
            n_steps = max(5, args.steps // 4) if name == "mid" else args.steps
            print("\n".join(profile_table(name, _model_config(name), _batches(name, n_steps + 3))))
        return 0
    if args.device == "cuda":
        try:
            cupy_module()  # no CuPy or no GPU: one line, before any worker starts
        except DeviceError as e:
            print(f"npgpt bench: {e}", file=sys.stderr)
            return 2
    print(
        f"npgpt bench: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}; "
        "medians of per-process medians, each library in its own processes, alternating"
    )
    rows = run_benchmark(args.configs, args.repeats, args.steps, args.device)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "configs": CONFIGS, "cpus": os.cpu_count()}, f, indent=2)
    return 0


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--worker":
    lib, name, what, steps, device = sys.argv[2:7]
    res = (
        _npgpt_worker(name, what, int(steps), device)
        if lib == "npgpt"
        else _torch_worker(name, what, int(steps), device)
    )
    print(json.dumps(res))
