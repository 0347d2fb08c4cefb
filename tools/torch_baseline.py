"""Train the same GPT with PyTorch on the same corpus, to check what npgpt's training reaches.

Same architecture (npgpt.reference.torch_gpt), same initial weights (copied from an npgpt model
built with the same seed), same batches (npgpt's TextDataset and seeded generator), same AdamW
settings and parameter groups, same warmup + cosine schedule, same clipping, same fixed
evaluation batches. Only the arithmetic library differs.

    python tools/torch_baseline.py                 # the default `npgpt train` configuration
    python tools/torch_baseline.py --max-steps 500 # a shorter run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np


def main():
    import torch

    from npgpt.data import TextDataset, load_text, shakespeare_path
    from npgpt.nn import GPT
    from npgpt.optim import CosineWarmup
    from npgpt.reference.torch_gpt import TorchGPT, load_npgpt_weights
    from npgpt.train import TrainConfig

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(TrainConfig):
        if f.type in ("int", "float", int, float):
            p.add_argument(
                "--" + f.name.replace("_", "-"), type=float if "float" in str(f.type) else int, default=f.default
            )
    p.add_argument("--json", help="write the final losses here")
    args = p.parse_args()
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k != "json"})

    torch.manual_seed(cfg.seed)
    ds = TextDataset(load_text(shakespeare_path()))
    mcfg = cfg.model_config(ds.vocab_size)
    model = TorchGPT(mcfg)
    load_npgpt_weights(model, GPT(mcfg, rng=np.random.default_rng(cfg.seed)).state_dict())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
    )
    sched = CosineWarmup(cfg.lr, cfg.warmup_steps, cfg.max_steps, cfg.min_lr)
    rng = np.random.default_rng(cfg.seed + 1)
    evals = {
        s: ds.fixed_batches(s, cfg.eval_batches, cfg.batch_size, cfg.block_size, seed=cfg.seed + 3)
        for s in ("train", "val")
    }

    def evaluate(split):
        model.eval()
        with torch.no_grad():
            losses = [model(torch.from_numpy(x), torch.from_numpy(y))[1].item() for x, y in evals[split]]
        model.train()
        return float(np.mean(losses))

    t0 = time.time()
    for step in range(cfg.max_steps):
        for g in opt.param_groups:
            g["lr"] = sched(step)
        x, y = ds.get_batch("train", cfg.batch_size, cfg.block_size, rng)
        _, loss = model(torch.from_numpy(x), torch.from_numpy(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if (step + 1) % cfg.eval_interval == 0 or step + 1 == cfg.max_steps:
            print(f"step {step + 1}: train {evaluate('train'):.4f} val {evaluate('val'):.4f}", flush=True)
    res = {
        "steps": cfg.max_steps,
        "train_loss": evaluate("train"),
        "val_loss": evaluate("val"),
        "seconds": round(time.time() - t0, 1),
        "torch": torch.__version__,
    }
    print(json.dumps(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
