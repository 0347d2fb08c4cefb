"""Training a GPT on a text file: the loop behind ``npgpt train`` (the command is npgpt/commands/train.py).

One step: set the learning rate from the warmup + cosine schedule, sample a batch of random
windows (x, y = x shifted by one), forward to the mean cross-entropy of predicting each next
character, backward, clip the global gradient norm, and take an AdamW step. The whole model is
trained end to end on this one objective (a causal language model).

Every ``eval_interval`` steps the train and val losses are measured on fixed batches, a line is
appended to ``log.jsonl``, ``loss.png`` is redrawn and a checkpoint is written (atomically).
``resume=True`` continues from that checkpoint exactly: model, optimizer, schedule position and
random-number generators are restored, so a resumed run matches an uninterrupted one bit for bit.
``init_from`` starts a new run (fresh optimizer, step 0, fresh schedule) from another run's weights
and tokenizer: fine-tuning a trained model on new text.

Read ``train()`` first; the helpers above it are named for the one thing each does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import checkpoint as ckpt
from . import plots, runs
from .autograd import no_grad
from .backend import get_array_module, to_device
from .checkpoint import (
    LANGUAGE_MODEL,
    CheckpointError,
    read_checkpoint,
    resolve,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from .data import DataError, TextDataset, load_text, shakespeare_path, split_index
from .distributed.training import DataParallel, abort, for_rank
from .nn import GPT, GPTConfig
from .optim import AdamW, CosineWarmup, clip_grad_norm_, param_groups_for_weight_decay, set_lr
from .settings import (
    EVAL_BATCHES,
    FRACTION,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    SEED,
    check_settings,
    device_setting,
    setting,
)
from .tokenizers import BPETokenizer, CharTokenizer, load_tokenizer

VAL_FRACTION = 0.1  # the last 10% of the text is held out for validation
# the settings that define the model (a resumed run must keep all of them) ...
MODEL_SETTINGS = ("n_layer", "n_head", "n_embd", "block_size", "dropout", "bias", "pos_encoding", "attention")
# ... and those the weights' shapes depend on (a fine-tuned run must keep these)
SHAPE_SETTINGS = ("n_layer", "n_head", "n_embd", "block_size", "bias", "pos_encoding")
# how text becomes ids: a run that continues or fine-tunes a checkpoint keeps its tokenizer
TOKENIZER_SETTINGS = ("tokenizer", "vocab_size")


@dataclass
class TrainConfig:
    """Every setting of a training run; each is a ``--flag`` of ``npgpt train``."""

    data: str = setting("shakespeare", "text file to train on ('shakespeare' = the corpus shipped with npgpt)")
    out_dir: str = setting("runs/shakespeare", "folder for the checkpoint, log.jsonl and loss.png")
    init_from: str | None = setting(
        None, "checkpoint folder to fine-tune: start from its weights and tokenizer (fresh optimizer and schedule)"
    )
    tokenizer: str = setting("char", "char (one id per character) | bpe (byte-level BPE learned on the training text)")
    vocab_size: int = setting(
        1024, "vocabulary of a bpe tokenizer: 256 bytes + merges (char: the text decides)", POSITIVE_INT
    )
    # model
    n_layer: int = setting(4, "transformer blocks", POSITIVE_INT)
    n_head: int = setting(4, "attention heads per block", POSITIVE_INT)
    n_embd: int = setting(128, "width of the residual stream", POSITIVE_INT)
    block_size: int = setting(64, "context length in tokens", POSITIVE_INT)
    dropout: float = setting(0.0, "dropout probability", FRACTION)
    bias: bool = setting(True, "biases in Linear and LayerNorm layers")
    pos_encoding: str = setting("learned", "learned | sinusoidal | rope")
    attention: str = setting("fused", "fused (one op, fast) | composed (primitive ops, for reading)")
    # optimisation
    batch_size: int = setting(12, "sequences per step", POSITIVE_INT)
    max_steps: int = setting(2000, "optimizer steps", POSITIVE_INT)
    lr: float = setting(2e-3, "peak learning rate", POSITIVE)
    min_lr: float = setting(2e-4, "learning rate at the end of the cosine decay", NON_NEGATIVE)
    warmup_steps: int = setting(100, "linear warmup steps", NON_NEGATIVE_INT)
    weight_decay: float = setting(0.1, "AdamW decoupled weight decay (matrices and embeddings only)", NON_NEGATIVE)
    beta1: float = setting(0.9, "AdamW beta1", FRACTION)
    beta2: float = setting(0.99, "AdamW beta2", FRACTION)
    grad_clip: float = setting(1.0, "clip the global gradient norm to this (0 = off)", NON_NEGATIVE)
    # bookkeeping
    eval_interval: int = setting(250, "evaluate, log and checkpoint every this many steps", POSITIVE_INT)
    eval_batches: int = setting(20, "fixed batches per split for each evaluation", EVAL_BATCHES)
    seed: int = setting(1337, "seed for initialisation, batches and dropout", SEED)
    device: str = device_setting()
    dtype: str = setting("float32", "float32 | float64")
    sample_chars: int = setting(300, "tokens sampled at the end (characters for char; 0 = none)", NON_NEGATIVE_INT)
    progress: bool = setting(True, "show a progress bar")

    def model_config(self, vocab_size):
        return GPTConfig(vocab_size=vocab_size, **{k: getattr(self, k) for k in MODEL_SETTINGS})

    @classmethod
    def from_file(cls, path):
        """Settings from a TOML or JSON file (keys are the field names)."""
        return cls(**settings_from_file(path))

    def validate(self):
        """Raise a one-line ValueError for a setting outside its range, or one the model does not check."""
        check_settings(self)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.tokenizer not in ("char", "bpe"):
            raise ValueError(f"tokenizer must be char or bpe, got {self.tokenizer!r}")
        if self.tokenizer == "bpe" and self.vocab_size < 257:
            raise ValueError(f"vocab_size must be an integer >= 257 for a bpe tokenizer, got {self.vocab_size!r}")
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        if self.warmup_steps >= self.max_steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be less than max_steps ({self.max_steps})")
        return self


def settings_from_file(path) -> dict:
    """The settings a TOML or JSON file gives (keys are TrainConfig's field names)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    unknown = set(values) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
    return values


def saved_settings(checkpoint) -> dict:
    """The TrainConfig settings a checkpoint was made with (its config.json; model settings from "model")."""
    config = read_checkpoint(checkpoint, kind=LANGUAGE_MODEL)["config"]  # verified: checksums, kind, shape
    if not isinstance(config.get("train", {}), dict):
        raise CheckpointError(f'checkpoint {resolve(checkpoint)} is corrupt: config.json\'s "train" is not an object')
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in config.get("train", {}).items() if k in known}
    saved.update({k: v for k, v in config.get("model", {}).items() if k in MODEL_SETTINGS})
    return saved


@dataclass
class TrainResult:
    step: int
    train_loss: float
    val_loss: float
    seconds: float
    out_dir: Path
    interrupted: bool = False
    history: list = field(default_factory=list)


# ----------------------------------------------------------------------------- data
def build_tokenizer(cfg, text):
    """The tokenizer a new run makes from its training text: one id per character (``char``), or
    a byte-level BPE of ``cfg.vocab_size`` tokens learned on that text (``bpe``)."""
    if cfg.tokenizer == "bpe":
        return BPETokenizer.train(text, cfg.vocab_size)
    return CharTokenizer.from_text(text)


def tokenizer_from_checkpoint(ck):
    """The tokenizer saved in a checkpoint read by ``read_checkpoint`` (any kind)."""
    if ck["tokenizer_json"] is None:
        raise CheckpointError(f"{ck['path']} holds no tokenizer.json: it cannot turn text into ids")
    return load_tokenizer(ck["tokenizer_json"])


def load_dataset(cfg, start=None):
    """``cfg.data`` as token ids, split into train and val (the last ``VAL_FRACTION``).

    A new run makes its tokenizer from the training part of the text; a run that starts from a
    checkpoint ``start`` (resumed or fine-tuned) uses that checkpoint's, and the text must fit it.
    """
    path = shakespeare_path() if cfg.data == "shakespeare" else cfg.data
    text = load_text(path)
    if start is None:
        tokenizer = build_tokenizer(cfg, text[: split_index(len(text), VAL_FRACTION)])  # never the val text
    else:
        tokenizer = tokenizer_from_checkpoint(start)
    try:
        return TextDataset(text, tokenizer, VAL_FRACTION)
    except DataError as e:
        if start is not None:
            raise CheckpointError(f"{path} is written in another vocabulary than {start['path']}: {e}") from None
        raise DataError(
            f"{path}: the vocabulary of a new run is made from the first 90% of the text, which lacks characters of the last 10%: {e}"
        ) from None


def get_batch(dataset, split, cfg, rng, dp=None):
    """(x, y) of shape (batch_size, block_size) on ``cfg.device``; y is x shifted by one token.

    Data parallel (``dp``): every rank draws the batch of all N ranks from the same generator and
    keeps its own ``batch_size`` rows, so together they see what one process with N x batch_size would.
    """
    n = cfg.batch_size * (1 if dp is None else dp.world_size)
    x, y = dataset.get_batch(split, n, cfg.block_size, rng)
    if dp is not None:
        x, y = dp.local_batch(x, y)
    return to_device(x, cfg.device), to_device(y, cfg.device)


def eval_batches(cfg, dataset, dp=None):
    """The same fixed batches of each split at every evaluation, so the losses are comparable.

    Data parallel (``dp``): batches of all ranks' rows, of which each rank keeps its own (as ``get_batch``).
    """
    n = cfg.batch_size * (1 if dp is None else dp.world_size)
    batches = {
        s: dataset.fixed_batches(s, cfg.eval_batches, n, cfg.block_size, seed=cfg.seed + 3) for s in ("train", "val")
    }
    if dp is not None:
        batches = {s: [dp.local_batch(x, y) for x, y in b] for s, b in batches.items()}
    return batches


def evaluate(model, batches, device="cpu", dp=None):
    """Mean loss over fixed (x, y) batches, in eval mode and without building a graph.

    Data parallel (``dp``): each rank measures its rows of each batch; the mean is over all ranks.
    """
    was_training = model.training
    model.eval()
    with no_grad():
        losses = [model(to_device(x, device), to_device(y, device))[1].item() for x, y in batches]
    model.train(was_training)
    return float(np.mean(losses)) if dp is None else dp.mean_over_ranks(losses)


# ----------------------------------------------------------------------------- model, optimizer, checkpoints
@dataclass
class _Run:
    """Everything that changes as training goes on (and is saved in a checkpoint)."""

    model: object
    optimizer: object
    batch_rng: np.random.Generator
    dropout_rng: np.random.Generator
    step: int = 0
    history: list = field(default_factory=list)


def build_run(cfg, vocab_size):
    """A freshly initialised model, its AdamW optimizer and the run's random generators."""
    model = GPT(
        cfg.model_config(vocab_size), rng=np.random.default_rng(cfg.seed), dtype=np.dtype(cfg.dtype), device=cfg.device
    )
    groups = param_groups_for_weight_decay(model.named_parameters(), cfg.weight_decay)
    opt = AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    run = _Run(model, opt, np.random.default_rng(cfg.seed + 1), np.random.default_rng(cfg.seed + 2))
    model.set_rng(run.dropout_rng)  # every dropout draws from the one generator a checkpoint saves
    return run


def load_weights(model, ck):
    """Copy a trained model's weights into ``model`` (fine-tuning); its shape settings must match."""
    mine, theirs = model.config.to_dict(), ck["config"]["model"]
    differ = [f"{k}={mine[k]!r}" for k in ("vocab_size", *SHAPE_SETTINGS) if mine[k] != theirs.get(k)]
    if differ:
        have = ", ".join(f"{k}={theirs.get(k)!r}" for k in ("vocab_size", *SHAPE_SETTINGS))
        raise CheckpointError(f"cannot start from {ck['path']} ({have}) with {', '.join(differ)}")
    ckpt.load_weights(model, ck)


def save_run(cfg, run, dataset, out, dp=None):
    """Write the run's checkpoint to ``out/checkpoint`` (atomically; data parallel: rank 0 writes)."""
    optimizer = run.optimizer if dp is None else dp.checkpoint_state()  # every rank takes part
    if optimizer is None:  # not rank 0
        run.model.set_rng(run.dropout_rng)  # as rank 0 does below
        return
    check_finite_weights(run.model, run.step)  # nothing non-finite is ever saved
    state = {
        "step": run.step,
        "batch_rng": rng_state(run.batch_rng),
        "dropout_rng": rng_state(run.dropout_rng),
        "history": run.history,
    }
    config = {"model": run.model.config.to_dict(), "train": dataclasses.asdict(cfg)}
    save_checkpoint(out / "checkpoint", run.model, config, dataset.tokenizer, optimizer, state)
    # GPU dropout draws from CuPy generators seeded from the host generator; re-seed them at every
    # checkpoint, so a run resumed from here draws the same masks as one that never stopped
    run.model.set_rng(run.dropout_rng)


def _resume(cfg, run, ck):
    """Put the model, optimizer, step, history and generators back as the checkpoint ``ck`` saved them."""
    if ck["config"]["model"] != run.model.config.to_dict():
        raise CheckpointError(
            f"checkpoint {ck['path']} was made with model settings {ck['config']['model']}, "
            f"which differ from this run's {run.model.config.to_dict()}"
        )
    ckpt.load_weights(run.model, ck)
    st = ck["state"]
    try:
        if ck["optimizer"] is None:
            raise ValueError("it holds no optimizer state")
        run.optimizer.load_state_dict(ck["optimizer"])
        run.step, run.history = st["step"], st.get("history", [])
        if not isinstance(run.step, int) or not isinstance(run.history, list) or run.step < 0:
            raise ValueError("its step or history is malformed")
        if any(not isinstance(e, dict) or not isinstance(e.get("step"), int) for e in run.history):
            raise ValueError("its history holds a row without a step")
        run.batch_rng = restore_rng(st["batch_rng"])
        run.dropout_rng.bit_generator.state = st["dropout_rng"]  # the model holds this generator
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {ck['path']} cannot be resumed: {' '.join(str(e).split())}") from None
    run.model.set_rng(run.dropout_rng)  # and re-seeds its GPU generators from it, as at the save


def _setup(cfg, resume, overwrite, log, root=True):
    """The run's folder, data, model and optimizer: new, resumed, or initialised from a checkpoint.

    The folder follows ``npgpt.runs`` (as the chat stages' do); only the ``root`` rank touches it.
    """
    cfg.validate()
    out = Path(cfg.out_dir)
    runs.check_out_dir(out, resume, overwrite, reads={"--init-from": cfg.init_from})
    start = None  # the checkpoint this run starts from: its own (resume), another run's (init_from), or none
    if resume:
        start = read_checkpoint(out / "checkpoint", kind=LANGUAGE_MODEL)
    elif cfg.init_from:
        start = read_checkpoint(cfg.init_from, kind=LANGUAGE_MODEL)
    dataset = load_dataset(cfg, start)
    run = build_run(cfg, dataset.vocab_size)
    if resume:
        _resume(cfg, run, start)
        log(f"resumed from {out / 'checkpoint'} at step {run.step}")
    else:
        if root:
            runs.start_fresh(out)  # the old run's checkpoint and log go before this run writes
        if start is not None:
            load_weights(run.model, start)
            log(f"initialised from {start['path']}: its weights and tokenizer; a fresh optimizer and schedule")
    log(
        f"{dataset.describe()}\nmodel: {run.model.num_parameters():,} parameters, {cfg.n_layer} layers, "
        f"{cfg.n_head} heads, width {cfg.n_embd}, context {cfg.block_size}; {cfg.max_steps} steps of "
        f"batch {cfg.batch_size} on {cfg.device}"
    )
    return run, dataset, out


# ----------------------------------------------------------------------------- logging
def log_losses(cfg, run, evals, out, lr, seconds, dp=None):
    """Measure both splits; append the entry to the history and log.jsonl; redraw loss.png."""
    tr, va = (evaluate(run.model, evals[s], cfg.device, dp) for s in ("train", "val"))
    if not (np.isfinite(tr) and np.isfinite(va)):
        raise Diverged(f"the evaluated loss is {tr if not np.isfinite(tr) else va} after step {run.step}")
    entry = {"step": run.step, "train_loss": tr, "val_loss": va, "lr": lr, "time": round(seconds, 2)}
    run.history.append(entry)
    if dp is not None and not dp.is_root:
        return tr, va
    with open(out / "log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, allow_nan=False) + "\n")
    plots.plot_losses(run.history, out / "loss.png")
    return tr, va


def rewrite_log(out, history):
    """log.jsonl as the checkpoint's history says (atomically): a run killed after its last
    checkpoint logged steps it will do again when resumed, and they must not appear twice."""
    tmp = out / "log.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(e, allow_nan=False) + "\n" for e in history)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out / "log.jsonl")


class Diverged(RuntimeError):
    """The loss or the weights became NaN or infinite: training stops and saves nothing."""


class _FiniteGuard:
    """Watches the loss of every step for NaN or infinity without waiting for the GPU at each one.

    ``update`` records the first bad step in a device array (no sync); ``check`` reads it (a sync):
    every step on the CPU, where it costs nothing, and on a GPU every 10 steps and before any save.
    """

    def __init__(self):
        self.first_bad = None

    def update(self, loss, step):
        xp = get_array_module(loss.data)
        bad = ~xp.isfinite(loss.data)
        step = xp.asarray(step)
        self.first_bad = (
            xp.where(bad, step, -1)
            if self.first_bad is None
            else xp.where((self.first_bad < 0) & bad, step, self.first_bad)
        )

    def check(self):
        if self.first_bad is not None and int(self.first_bad) >= 0:
            raise Diverged(f"the loss is not finite (NaN or infinite) at step {int(self.first_bad)}")


def check_finite_weights(model, step):
    """Diverged if any weight is NaN or infinite (one reduction per parameter, then one read)."""
    for name, p in model.named_parameters():
        xp = get_array_module(p.data)
        if not bool(xp.isfinite(p.data).all()):
            raise Diverged(f"the weight {name} is not finite after step {step}")


class _NoBar:
    """Stands in for the progress bar when ``progress`` is off: its lines go to ``log``."""

    def __init__(self, log):
        self.write = log

    def update(self, n=1):
        pass

    def set_postfix(self, **kwargs):
        pass

    def close(self):
        pass


def progress_bar(cfg, steps, log):
    if not cfg.progress:
        return _NoBar(log)
    # imported here: in Jupyter without ipywidgets, importing tqdm.auto prints a warning, and a
    # notebook that turns the bar off should not show it
    from tqdm.auto import tqdm

    return tqdm(total=steps, desc="training", unit="step", dynamic_ncols=True, file=sys.stderr)


# ----------------------------------------------------------------------------- the loop
def train(
    cfg: TrainConfig, resume=False, stop_after=None, log=print, overwrite=False, comm=None, zero=False
) -> TrainResult:
    """Train per ``cfg``; ``stop_after`` ends early after that many steps (as Ctrl-C would).

    A new run refuses an ``out_dir`` that already holds a checkpoint (nothing is lost by accident)
    unless ``overwrite=True``, which starts the folder's log afresh. With ``comm`` (a
    ``npgpt.distributed`` communicator) every rank runs this with ``batch_size`` rows of its own and
    averaged gradients (``zero``: ZeRO-1); rank 0 alone logs and writes.
    """
    if comm is not None and cfg.device == "cuda":
        comm.select_gpu()  # before anything is put on a GPU
    if comm is not None and comm.rank != 0:
        log, cfg = _quiet, dataclasses.replace(cfg, progress=False)
    # from the start: a Ctrl-C while the data is read or the model built is held too (raised at an
    # arbitrary moment, it can land inside an import's clean-up, where Python only prints it)
    with runs.DeferCtrlC() as ctrl_c:  # the shared one (npgpt/runs.py); a second Ctrl-C stops at once
        run, dataset, out = _setup(cfg, resume, overwrite, log, root=comm is None or comm.rank == 0)
        dp = None if comm is None else data_parallel(cfg, run, comm, zero, log)
        if ctrl_c.pressed and dp is None:
            raise StartupInterrupted  # before the first step: nothing is written
        if resume and (dp is None or dp.is_root):
            rewrite_log(out, run.history)  # steps logged after the checkpoint will be done, and logged, again
        model, opt = run.model, run.optimizer
        params = [p for g in opt.param_groups for p in g["params"]]
        get_lr = CosineWarmup(cfg.lr, cfg.warmup_steps, cfg.max_steps, cfg.min_lr)
        evals = eval_batches(cfg, dataset, dp)
        last = cfg.max_steps if stop_after is None else min(cfg.max_steps, run.step + stop_after)
        bar, guard = progress_bar(cfg, last - run.step, log), _FiniteGuard()
        t0, prior_time = time.time(), (run.history[-1]["time"] if run.history else 0.0)
        interrupted = False
        model.train()
        try:
            if not run.history:  # a fresh run (a run resumed at step 0 has this entry already)
                log_losses(cfg, run, evals, out, get_lr(0), prior_time, dp)
            while run.step < last:
                ctrl_c.check(dp)  # a Ctrl-C pressed during the last step stops here, between steps
                t_step = time.perf_counter()
                lr = get_lr(run.step)
                set_lr(opt, lr)
                x, y = get_batch(dataset, "train", cfg, run.batch_rng, dp)
                # NumPy's overflow warnings would only repeat what the guard says in one line
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    _, loss = model(x, y)
                    guard.update(loss, run.step + 1)
                    if cfg.device == "cpu":
                        guard.check()  # free on the CPU: stop before a NaN reaches the weights
                    opt.zero_grad()
                    loss.backward()
                    if dp is not None:  # several ranks: every rank's gradients become their mean over ranks
                        dp.average_gradients()
                    if cfg.grad_clip > 0 and dp is not None:
                        dp.clip_grad_norm_(cfg.grad_clip)  # the global norm of the averaged gradients
                    elif cfg.grad_clip > 0:
                        clip_grad_norm_(params, cfg.grad_clip)
                    opt.step()
                run.step += 1
                bar.update(1)
                # every 10 steps: reading the loss waits for the device (a GPU sync)
                if run.step % 10 == 0 or run.step == last:
                    guard.check()
                if cfg.progress and (run.step % 10 == 0 or run.step == last):
                    tok_s = (
                        cfg.batch_size * cfg.block_size * (dp.world_size if dp else 1) / (time.perf_counter() - t_step)
                    )
                    bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}", tok_s=f"{tok_s:,.0f}", refresh=False)
                if run.step % cfg.eval_interval == 0 or run.step == cfg.max_steps:
                    guard.check()
                    tr, va = log_losses(cfg, run, evals, out, lr, prior_time + time.time() - t0, dp)
                    save_run(cfg, run, dataset, out, dp)
                    bar.write(f"step {run.step}: train loss {tr:.4f}, val loss {va:.4f}")
        except KeyboardInterrupt:
            interrupted = True
            log(_stop_message(ctrl_c, run, out))
            if ctrl_c.forced and dp is not None:  # mid-step: the other ranks may wait in a collective
                abort(comm, f"npgpt train: rank {comm.rank} stopped at once by a second Ctrl-C: ending every rank", 130)
        except Diverged as e:
            bar.close()
            saved = any((p / "state.json").exists() for p in (out / "checkpoint", out / "checkpoint.old"))
            kept = f"the last checkpoint in {out / 'checkpoint'} is kept" if saved else "no checkpoint was saved"
            raise Diverged(f"{e}: training stopped ({kept}); a lower --lr or a --grad-clip may help") from None
        finally:
            bar.close()
        if not ctrl_c.forced and (interrupted or run.step != (run.history[-1]["step"] if run.history else -1)):
            _final_save(cfg, run, dataset, out, dp, guard, log)
        h = run.history[-1]
        return TrainResult(run.step, h["train_loss"], h["val_loss"], time.time() - t0, out, interrupted, run.history)


def _final_save(cfg, run, dataset, out, dp, guard, log):
    """The save after a Ctrl-C (or a run that ended between evaluations). Another Ctrl-C during it
    stops the save at once: it writes into checkpoint.tmp and swaps folders by renames, so the
    previous checkpoint stays whole, and ``--resume`` continues from it."""
    try:
        guard.check()
        save_run(cfg, run, dataset, out, dp)
    except KeyboardInterrupt:
        log(f"\nanother Ctrl-C: the save was abandoned; the previous checkpoint in {out / 'checkpoint'} is kept")
        raise SaveInterrupted from None
    except Diverged as e:
        raise Diverged(f"{e}: not saved (the last checkpoint in {out / 'checkpoint'} is kept)") from None


class StartupInterrupted(KeyboardInterrupt):
    """Ctrl-C before the first step; nothing was written."""


class SaveInterrupted(KeyboardInterrupt):
    """A second Ctrl-C stopped the final save; the previous checkpoint is whole."""


def data_parallel(cfg, run, comm, zero, log):
    """Make ``run`` one of ``comm.world_size`` data-parallel ranks (npgpt/distributed/training.py):
    rank 0's parameters everywhere, gradients averaged before each step (``zero``: ZeRO-1 optimizer),
    and dropout masks of its own (rank r's generator is rank 0's jumped r times)."""
    dp = DataParallel(comm, run.optimizer, zero=zero)
    run.optimizer = dp.optimizer
    run.dropout_rng = for_rank(run.dropout_rng, comm.rank)
    run.model.set_rng(run.dropout_rng)
    log(
        f"data parallel on {comm.world_size} ranks: batch {cfg.batch_size} on each, "
        f"{cfg.batch_size * comm.world_size} per step{'; AdamW state sharded (ZeRO-1)' if zero else ''}"
    )
    return dp


def _quiet(*args, **kwargs):
    """The log of ranks other than 0: they say nothing."""


def _stop_message(ctrl_c, run, out):
    if ctrl_c.forced:
        saved = any((p / "state.json").exists() for p in (out / "checkpoint", out / "checkpoint.old"))
        kept = f"the last checkpoint in {out / 'checkpoint'} is kept" if saved else "no checkpoint was written yet"
        return f"\nstopped at once by a second Ctrl-C during step {run.step + 1}: not saved ({kept})"
    return f"\ninterrupted at step {run.step}: saving a checkpoint to {out / 'checkpoint'}"
