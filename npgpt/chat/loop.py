"""The loop the four chat stages (sft, reward, rl, dpo) share, with ``npgpt train``'s discipline.

A stage builds its model, data and optimizer, then hands them to ``fit`` as a ``Stage``; ``fit``
runs the steps and owns the run folder (``npgpt.runs``):

* every ``eval_interval`` steps and at the last one, a row goes to ``log.jsonl`` and a checkpoint
  is saved with everything a resumed run needs: weights, AdamW state, the update count, and the
  state of every random generator. ``resume=True`` puts all of it back, so a resumed run is the
  same, bit for bit, as one that never stopped;
* a NaN or infinite loss or gradient norm stops the run before the weights change;
* Ctrl-C finishes the step, saves, and raises ``runs.Interrupted`` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..backend import get_array_module
from ..checkpoint import (
    LANGUAGE_MODEL,
    REWARD_MODEL,
    CheckpointError,
    load_weights,
    read_checkpoint,
    resolve,
    rng_state,
)
from ..runs import (
    DeferCtrlC,
    Interrupted,
    NonFiniteError,
    append_log,
    check_finite,
    check_out_dir,
    start_fresh,
    trim_log,
)
from ..settings import check_settings
from ..train import progress_bar
from .common import Trainer
from .model import save

# settings a resumed run may change: they do not change what the steps compute
MAY_CHANGE_ON_RESUME = ("max_steps", "eval_interval", "progress", "device", "eval_questions", "val_data")


@dataclass
class Stage:
    """What a chat stage hands ``fit``: ``step(n)`` does update n and returns its measurements
    (a dict of floats with "loss"); ``rngs`` are the generators the steps draw from (a
    ``np.random.Generator`` or an object with ``state_dict``/``load_state_dict``)."""

    name: str
    cfg: object
    model: object
    tokenizer: object
    trainer: Trainer
    step: Callable[[int], dict]
    rngs: dict = field(default_factory=dict)


def begin(cfg, resume, overwrite, reads):
    """Before a stage loads anything: its settings in range and its run folder allowed."""
    check_settings(cfg)
    check_out_dir(cfg.out_dir, resume, overwrite, reads)


def saved_stage_settings(out_dir) -> dict:
    """The settings the checkpoint in ``out_dir`` was made with (config.json["train"])."""
    path = resolve(Path(out_dir) / "checkpoint")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt: {e}") from None
    train = config.get("train") if isinstance(config, dict) else None
    if not isinstance(train, dict):
        raise CheckpointError(f"checkpoint {path} is corrupt: its config.json has no settings")
    return train


def _restore(stage, out) -> int:
    """Put model, optimizer, update count and generators back as the checkpoint saved them; its step."""
    ck = read_checkpoint(out / "checkpoint", kind=REWARD_MODEL if stage.name == "reward" else LANGUAGE_MODEL)
    saved, st = ck["config"].get("train", {}), ck["state"]
    if saved.get("stage") != stage.name:
        kind = f"an `npgpt {saved['stage']}`" if saved.get("stage") else "a base model's"
        raise CheckpointError(
            f"{ck['path']} holds {kind} checkpoint: `npgpt {stage.name} --resume` continues its own runs"
        )
    mine = dataclasses.asdict(stage.cfg)
    differ = [k for k in mine if k not in MAY_CHANGE_ON_RESUME and k in saved and saved[k] != mine[k]]
    if differ:
        k = differ[0]
        raise ValueError(
            f"--{k.replace('_', '-')} {mine[k]} conflicts with the checkpoint {ck['path']}, made with {k}={saved[k]!r} "
            "(a resumed run keeps its settings; leave the flag out or start a new run)"
        )
    if ck["optimizer"] is None or not isinstance(st.get("rngs"), dict):
        raise CheckpointError(f"{ck['path']} holds no optimizer state or generators: it cannot be resumed exactly")
    try:
        load_weights(stage.model, ck)
        stage.trainer.opt.load_state_dict(ck["optimizer"])
        for name, obj in stage.rngs.items():
            if isinstance(obj, np.random.Generator):
                obj.bit_generator.state = st["rngs"][name]
            else:
                obj.load_state_dict(st["rngs"][name])
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{ck['path']} does not fit this run: {str(e).splitlines()[0]}") from None
    stage.trainer.t = st["trainer_t"]
    stage.model.set_rng(stage.rngs["dropout"])
    return st["step"]


def _save(stage, out, step):
    for name, p in stage.model.named_parameters():  # finite loss and gradients; a huge lr can still overflow
        if not bool(get_array_module(p.data).isfinite(p.data).all()):
            raise NonFiniteError(f"the weights ({name}) are not finite after step {step}: not saved; lower --lr")
    rngs = {k: rng_state(v) if isinstance(v, np.random.Generator) else v.state_dict() for k, v in stage.rngs.items()}
    state = {"step": step, "trainer_t": stage.trainer.t, "rngs": rngs}
    save(out / "checkpoint", stage.model, stage.tokenizer, stage.name, stage.cfg, state, stage.trainer.opt)
    stage.model.set_rng(stage.rngs["dropout"])  # GPU dropout re-seeds from the host generator, as train does


def _row(step, rec):
    return {"step": step, **{k: check_finite(k.replace("_", " "), v, step) for k, v in rec.items()}}


def fit(stage, resume=False, log=print) -> dict:
    """Run ``stage`` to ``cfg.max_steps`` (from its checkpoint with ``resume``); the last log row."""
    cfg, out = stage.cfg, Path(stage.cfg.out_dir)
    stage.rngs["dropout"] = np.random.default_rng(cfg.seed + 2)
    stage.model.set_rng(stage.rngs["dropout"])
    step = saved = _restore(stage, out) if resume else 0
    bar, ctrl_c = progress_bar(cfg, cfg.max_steps - step, log), DeferCtrlC()
    last = None
    with ctrl_c:
        try:
            rows = trim_log(out, step) if resume else start_fresh(out) or []
            last = rows[-1] if rows else None
            if resume:
                bar.write(f"resumed from {out / 'checkpoint'} at step {step}")
            stage.model.train()
            while step < cfg.max_steps:
                ctrl_c.check()  # a Ctrl-C pressed during the last step stops here, between steps
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked: check_finite
                    rec = stage.step(step + 1)
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{rec['loss']:.4f}", refresh=False)
                if step % cfg.eval_interval == 0 or step == cfg.max_steps:
                    last = _row(step, rec)
                    append_log(out, last)
                    with ctrl_c.saving():
                        _save(stage, out, step)
                    saved = step
                    bar.write(f"step {step}: " + ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in rec.items()))
        except KeyboardInterrupt:
            bar.close()
            if not ctrl_c.forced and step > saved:
                with ctrl_c.saving():
                    _save(stage, out, step)
                saved = step
            raise Interrupted(_stop_message(ctrl_c.forced, step, saved, out, resume)) from None
        finally:
            bar.close()
    return last or {"step": step}


def _stop_message(forced, step, saved, out, resume):
    how = "stopped at once by a second Ctrl-C" if forced else "interrupted"
    when = f"during step {step + 1}" if forced else f"at step {step}"
    if saved == 0 and not resume:
        return f"{how} {when}, before the first checkpoint: nothing was saved (start the run again)"
    return f"{how} {when}: the checkpoint of step {saved} is in {out / 'checkpoint'}; continue with --resume"


def finish(out, step, measure):
    """``measure()`` (the held-out evaluation after the last step); a Ctrl-C in it is one line."""
    try:
        return measure()
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted during the held-out evaluation: the checkpoint of step {step} is saved in "
            f"{Path(out) / 'checkpoint'}; --resume runs the evaluation again"
        ) from None
