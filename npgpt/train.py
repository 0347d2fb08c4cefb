"""Training a GPT on a text file: ``npgpt train``.

One step: sample a batch of random windows (x, y = x shifted by one), forward to the mean
cross-entropy of predicting each next character, backward, clip the global gradient norm,
set the learning rate from the warmup + cosine schedule, and take an AdamW step. The whole
model is trained end to end on this one objective (a causal language model).

Every ``eval_interval`` steps the train and val losses are measured on fixed batches, a line is
appended to ``log.jsonl``, ``loss.png`` is redrawn and a checkpoint is written (atomically).
``--resume`` continues from that checkpoint exactly: model, optimizer, schedule position and
random-number generators are restored, so a resumed run matches an uninterrupted one bit for bit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .checkpoint import read_checkpoint, restore_rng, rng_state, save_checkpoint


def _f(default, help):  # noqa: A002
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Every setting of a training run; each is a ``--flag`` of ``npgpt train``."""

    data: str = _f("shakespeare", "text file to train on ('shakespeare' = the corpus shipped with npgpt)")
    out_dir: str = _f("runs/shakespeare", "folder for the checkpoint, log.jsonl and loss.png")
    # model
    n_layer: int = _f(4, "transformer blocks")
    n_head: int = _f(4, "attention heads per block")
    n_embd: int = _f(128, "width of the residual stream")
    block_size: int = _f(64, "context length in characters")
    dropout: float = _f(0.0, "dropout probability")
    bias: bool = _f(True, "biases in Linear and LayerNorm layers")
    pos_encoding: str = _f("learned", "learned | sinusoidal | rope")
    attention: str = _f("fused", "fused (one op, fast) | composed (primitive ops, for reading)")
    # optimisation
    batch_size: int = _f(12, "sequences per step")
    max_steps: int = _f(2000, "optimizer steps")
    lr: float = _f(2e-3, "peak learning rate")
    min_lr: float = _f(2e-4, "learning rate at the end of the cosine decay")
    warmup_steps: int = _f(100, "linear warmup steps")
    weight_decay: float = _f(0.1, "AdamW decoupled weight decay (matrices and embeddings only)")
    beta1: float = _f(0.9, "AdamW beta1")
    beta2: float = _f(0.99, "AdamW beta2")
    grad_clip: float = _f(1.0, "clip the global gradient norm to this (0 = off)")
    # bookkeeping
    eval_interval: int = _f(250, "evaluate, log and checkpoint every this many steps")
    eval_batches: int = _f(20, "fixed batches per split for each evaluation")
    seed: int = _f(1337, "seed for initialisation, batches and dropout")
    device: str = _f("cpu", "cpu | cuda")
    dtype: str = _f("float32", "float32 | float64")
    sample_chars: int = _f(300, "characters sampled at the end (0 = none)")
    progress: bool = _f(True, "show a progress bar")

    def model_config(self, vocab_size):
        from .nn import GPTConfig

        return GPTConfig(
            vocab_size=vocab_size,
            block_size=self.block_size,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            dropout=self.dropout,
            bias=self.bias,
            pos_encoding=self.pos_encoding,
            attention=self.attention,
        )

    @classmethod
    def from_file(cls, path):
        """Settings from a TOML or JSON file (keys are the field names)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        return cls(**values)

    def validate(self):
        """Raise ValueError for settings the model and optimizer do not check themselves."""
        for name in ("eval_interval", "eval_batches", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if not self.grad_clip >= 0:
            raise ValueError(f"grad_clip must be >= 0 (0 = off), got {self.grad_clip!r}")
        if isinstance(self.sample_chars, bool) or not isinstance(self.sample_chars, int) or self.sample_chars < 0:
            raise ValueError(f"sample_chars must be an integer >= 0, got {self.sample_chars!r}")
        return self


@dataclass
class TrainResult:
    step: int
    train_loss: float
    val_loss: float
    seconds: float
    out_dir: Path
    interrupted: bool = False
    history: list = field(default_factory=list)


def _load_data(cfg):
    from .data import TextDataset, load_text, shakespeare_path

    path = shakespeare_path() if cfg.data == "shakespeare" else cfg.data
    return TextDataset(load_text(path))


@dataclass
class _Run:
    """Everything that changes as training goes on (and is saved in a checkpoint)."""

    model: object
    optimizer: object
    batch_rng: np.random.Generator
    dropout_rng: np.random.Generator
    step: int = 0
    history: list = field(default_factory=list)


def _build(cfg, dataset):
    from .nn import GPT
    from .optim import AdamW, param_groups_for_weight_decay

    model = GPT(
        cfg.model_config(dataset.vocab_size),
        rng=np.random.default_rng(cfg.seed),
        dtype=np.dtype(cfg.dtype),
        device=cfg.device,
    )
    groups = param_groups_for_weight_decay(model.named_parameters(), cfg.weight_decay)
    opt = AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    run = _Run(model, opt, np.random.default_rng(cfg.seed + 1), np.random.default_rng(cfg.seed + 2))
    model.set_rng(run.dropout_rng)  # every dropout draws from the one generator a checkpoint saves
    return run


def _checkpoint(cfg, run, dataset, out):
    state = {
        "step": run.step,
        "batch_rng": rng_state(run.batch_rng),
        "dropout_rng": rng_state(run.dropout_rng),
        "history": run.history,
    }
    config = {"model": run.model.config.to_dict(), "train": dataclasses.asdict(cfg)}
    save_checkpoint(out / "checkpoint", run.model, config, dataset.tokenizer, run.optimizer, state)
    # GPU dropout draws from CuPy generators seeded from the host generator; re-seed them at every
    # checkpoint, so a run resumed from here draws the same masks as one that never stopped
    run.model.set_rng(run.dropout_rng)


def _start_fresh(out, overwrite):
    from .checkpoint import CheckpointError

    held = [p for p in (out / "checkpoint", out / "checkpoint.old") if (p / "state.json").exists()]
    if held and not overwrite:
        raise CheckpointError(
            f"{out} already holds a training run's checkpoint: continue it with --resume, choose another "
            "--out-dir, or pass --overwrite to replace it"
        )
    (out / "log.jsonl").unlink(missing_ok=True)  # the log describes this run only


def _resume(cfg, run, dataset, out):
    from .checkpoint import CheckpointError

    ck = read_checkpoint(out / "checkpoint")
    if ck["config"]["model"] != run.model.config.to_dict():
        raise CheckpointError(
            f"checkpoint in {out} was made with model settings {ck['config']['model']}, "
            f"which differ from this run's {run.model.config.to_dict()}"
        )
    if ck["tokenizer_json"] is not None and ck["tokenizer_json"] != dataset.tokenizer.to_json():
        raise CheckpointError(f"checkpoint in {out} was trained on text with another vocabulary")
    run.model.load_state_dict(ck["model"])
    run.optimizer.load_state_dict(ck["optimizer"])
    st = ck["state"]
    run.step, run.history = st["step"], st.get("history", [])
    run.batch_rng = restore_rng(st["batch_rng"])
    run.dropout_rng.bit_generator.state = st["dropout_rng"]  # the model holds this generator
    run.model.set_rng(run.dropout_rng)  # and re-seeds its GPU generators from it, as at the save


def evaluate(model, batches, device="cpu"):
    """Mean loss over fixed (x, y) batches, in eval mode and without building a graph."""
    from .autograd import no_grad
    from .backend import to_device

    was_training = model.training
    model.eval()
    with no_grad():
        losses = [model(to_device(x, device), to_device(y, device))[1].item() for x, y in batches]
    model.train(was_training)
    return float(np.mean(losses))


def train(cfg: TrainConfig, resume=False, stop_after=None, log=print, overwrite=False) -> TrainResult:
    """Train per ``cfg``; ``stop_after`` ends early after that many steps (as Ctrl-C would).

    A new run refuses an ``out_dir`` that already holds a checkpoint (nothing is lost by accident)
    unless ``overwrite=True``, which starts the folder's log afresh.
    """
    from .backend import to_device
    from .memory import tune_malloc
    from .optim import CosineWarmup, clip_grad_norm_, set_lr
    from .plots import plot_losses

    cfg.validate()
    tune_malloc()  # reuse freed activation buffers instead of page-faulting them in every step
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dataset = _load_data(cfg)
    run = _build(cfg, dataset)
    if resume:
        _resume(cfg, run, dataset, out)
        log(f"resumed from {out / 'checkpoint'} at step {run.step}")
    else:
        _start_fresh(out, overwrite)
    model, opt = run.model, run.optimizer
    params = [p for g in opt.param_groups for p in g["params"]]
    sched = CosineWarmup(cfg.lr, cfg.warmup_steps, cfg.max_steps, cfg.min_lr)
    evals = {
        s: dataset.fixed_batches(s, cfg.eval_batches, cfg.batch_size, cfg.block_size, seed=cfg.seed + 3)
        for s in ("train", "val")
    }
    log(
        f"{dataset.describe()}\nmodel: {model.num_parameters():,} parameters, {cfg.n_layer} layers, "
        f"{cfg.n_head} heads, width {cfg.n_embd}, context {cfg.block_size}; {cfg.max_steps} steps of "
        f"batch {cfg.batch_size} on {cfg.device}"
    )

    def record():
        tr, va = evaluate(model, evals["train"], cfg.device), evaluate(model, evals["val"], cfg.device)
        run.history.append(
            {
                "step": run.step,
                "train_loss": tr,
                "val_loss": va,
                "lr": sched(max(run.step - 1, 0)),
                "time": round(time.time() - t0 + prior_time, 2),
            }
        )
        with open(out / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(run.history[-1]) + "\n")
        plot_losses(run.history, out / "loss.png")
        return tr, va

    prior_time = run.history[-1]["time"] if run.history else 0.0
    t0 = time.time()
    interrupted = False
    first, last = run.step, cfg.max_steps if stop_after is None else min(cfg.max_steps, run.step + stop_after)
    bar = _progress(cfg, first, last)
    tokens = cfg.batch_size * cfg.block_size
    model.train()
    ctrl_c = _DeferCtrlC()
    try:
        with ctrl_c:
            if not run.history:  # a fresh run (a run resumed at step 0 has this entry already)
                record()
            while run.step < last:
                ctrl_c.check()  # a Ctrl-C pressed during the last step stops here, between steps
                t_step = time.perf_counter()
                lr = sched(run.step)
                set_lr(opt, lr)
                x, y = dataset.get_batch("train", cfg.batch_size, cfg.block_size, run.batch_rng)
                _, loss = model(to_device(x, cfg.device), to_device(y, cfg.device))
                opt.zero_grad()
                loss.backward()
                if cfg.grad_clip > 0:
                    clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                run.step += 1
                if bar is not None:
                    bar.update(1)
                    # every 10 steps: reading the loss waits for the device (a GPU sync)
                    if run.step % 10 == 0 or run.step == last:
                        bar.set_postfix(
                            loss=f"{loss.item():.3f}",
                            lr=f"{lr:.2e}",
                            tok_s=f"{tokens / (time.perf_counter() - t_step):,.0f}",
                            refresh=False,
                        )
                if run.step % cfg.eval_interval == 0 or run.step == cfg.max_steps:
                    tr, va = record()
                    _checkpoint(cfg, run, dataset, out)
                    msg = f"step {run.step}: train loss {tr:.4f}, val loss {va:.4f}"
                    bar.write(msg) if bar is not None else log(msg)
    except KeyboardInterrupt:
        interrupted = True
        if ctrl_c.forced:
            log(
                f"\nstopped at once by a second Ctrl-C during step {run.step + 1}: not saved (the last "
                f"checkpoint in {out / 'checkpoint'} is kept)"
            )
        else:
            log(f"\ninterrupted at step {run.step}: saving a checkpoint to {out / 'checkpoint'}")
    finally:
        if bar is not None:
            bar.close()
    if not ctrl_c.forced and (interrupted or run.step != (run.history[-1]["step"] if run.history else -1)):
        _checkpoint(cfg, run, dataset, out)
    seconds = time.time() - t0
    h = run.history[-1]
    return TrainResult(run.step, h["train_loss"], h["val_loss"], seconds, out, interrupted, run.history)


class _DeferCtrlC:
    """Hold a Ctrl-C (SIGINT) until the current step is finished.

    A KeyboardInterrupt in the middle of ``opt.step()`` would leave some parameters updated and
    others not; the checkpoint saved then could not resume exactly. So the first Ctrl-C only sets
    a flag, which ``check()`` turns into a KeyboardInterrupt between steps. A second Ctrl-C stops
    at once (``forced``; nothing is saved). Only in the main thread (where Python runs signal handlers).
    """

    def __init__(self):
        self.pressed = self.forced = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handler(self, signum, frame):
        if self.pressed:
            self.forced = True
            raise KeyboardInterrupt
        self.pressed = True

    def check(self):
        if self.pressed:
            raise KeyboardInterrupt


def _progress(cfg, first, last):
    if not cfg.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=last - first, initial=0, desc="training", unit="step", dynamic_ncols=True, file=sys.stderr)


# ----------------------------------------------------------------------------- command line
def add_parser(sub):
    p = sub.add_parser(
        "train",
        help="train a GPT on a text file (default: the shipped Shakespeare)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--config", help="TOML or JSON file of settings (flags given here override it)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out-dir")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out-dir holds a checkpoint")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{f.metadata['help']} (default: {f.default})",
            )
        else:
            typ = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            p.add_argument(flag, type=typ, default=None, help=f"{f.metadata['help']} (default: {f.default})")
    p.set_defaults(func=main)


def config_from_args(args) -> TrainConfig:
    cfg = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    overrides = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) is not None
    }
    return dataclasses.replace(cfg, **overrides)


def main(args) -> int:
    from .backend import DeviceError
    from .checkpoint import CheckpointError
    from .commands.sample import sample_text
    from .data import DataError

    try:
        cfg = config_from_args(args)
        res = train(cfg, resume=args.resume, overwrite=args.overwrite)
    except (ValueError, TypeError, DataError, CheckpointError, DeviceError, OSError) as e:
        print(f"npgpt train: {e}", file=sys.stderr)
        return 2
    print(
        f"\n{'stopped' if res.interrupted else 'done'} at step {res.step} in {res.seconds:.0f} s: "
        f"train loss {res.train_loss:.4f}, val loss {res.val_loss:.4f}; "
        f"checkpoint, log.jsonl and loss.png in {res.out_dir}"
    )
    if res.interrupted:
        return 130
    if cfg.sample_chars > 0:
        print("\n--- a sample (temperature 0.8, top-k 40) ---")
        sample_text(
            res.out_dir / "checkpoint",
            prompt="\n",
            max_new_tokens=cfg.sample_chars,
            temperature=0.8,
            top_k=40,
            seed=cfg.seed,
            stream=True,
        )
        print()
    return 0
