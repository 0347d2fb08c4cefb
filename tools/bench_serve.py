"""Tokens per second: ``npgpt serve`` (streamed over HTTP to a client) vs ``npgpt chat`` (printed to
a pipe), same checkpoint, same questions, same settings, alternating runs on the same machine.

    python tools/bench_serve.py [--checkpoint runs/sft/checkpoint] [--rounds 5] [--questions 8]

Each round runs one conversation of ``--questions`` held-out questions through each: ``npgpt chat``
as a subprocess (the question written to its stdin, the clock stopped when its next ``you>``
prompt appears) and ``npgpt serve`` as a subprocess (the question POSTed with the conversation so
far, as the page does, the clock stopped at the stream's end event). Both count generation steps
(forward passes: the reply's tokens plus the ``<|end|>`` that ended it) and include the prefill;
process start-up and model loading are not timed. Printed: tokens/s per round and the median
ratio serve / chat. Both run with OPENBLAS_NUM_THREADS=1 unless it is set (a shared machine).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from npgpt.chat.model import load_policy  # noqa: E402
from npgpt.chat.template import render  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
SETTINGS = {"temperature": 0.8, "max_tokens": 200}


def questions(n, tok, block):
    """The first n held-out questions that fit the context alone with room for a reply."""
    lines = (ROOT / "npgpt" / "data" / "chat_val.jsonl").read_text().splitlines()
    qs = [json.loads(line)["messages"][:1] for line in lines]
    fits = [m[0]["content"] for m in qs if len(render(m, tok, add_generation_prompt=True)[0]) + block // 4 <= block]
    return fits[:n]


def read_until(proc, marker, buf=b""):
    """Bytes from the process's stdout up to and including ``marker`` (unbuffered reads)."""
    while marker not in buf:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            raise RuntimeError(f"npgpt chat ended early: {buf[-300:]!r}")
        buf += chunk
    return buf


def run_chat(checkpoint, qs, tok, seed):
    """(tokens, seconds) of one conversation through ``npgpt chat``."""
    cmd = [sys.executable, "-m", "npgpt", "chat", "--checkpoint", checkpoint, "--seed", str(seed)]
    cmd += ["--temperature", str(SETTINGS["temperature"]), "--max-new-tokens", str(SETTINGS["max_tokens"])]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=ENV, bufsize=0)
    read_until(proc, b"you> ")
    tokens, seconds = 0, 0.0
    for q in qs:
        t0 = time.perf_counter()
        proc.stdin.write(q.encode() + b"\n")
        out = read_until(proc, b"you> ")
        seconds += time.perf_counter() - t0
        reply = out.split(b"bot> ", 1)[1].split(b"\n", 1)[0].decode()
        stopped = b"(reply cut" not in out
        tokens += len(tok.encode(reply)) + stopped  # the <|end|> step is not printed
    proc.stdin.close()
    proc.wait(60)
    return tokens, seconds


def run_serve(port, qs, seed):
    """(tokens, seconds) of one conversation through ``npgpt serve``'s API."""
    messages, tokens, seconds = [], 0, 0.0
    for i, q in enumerate(qs):
        messages.append({"role": "user", "content": q})
        body = json.dumps({"messages": messages, **SETTINGS, "seed": seed + i})
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        conn.request("POST", "/api/generate", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            raise RuntimeError(f"npgpt serve answered {r.status}: {r.read()[:300]!r}")
        for line in r:
            if line.startswith(b"data: "):
                ev = json.loads(line[6:])
                tokens += ev["type"] == "token"
                if ev["type"] == "end":
                    seconds += time.perf_counter() - t0
                    messages.append({"role": "assistant", "content": ev["text"]})
        conn.close()
    return tokens, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="runs/sft/checkpoint")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--questions", type=int, default=8)
    args = ap.parse_args()
    model, tok, _ = load_policy(args.checkpoint)
    qs = questions(args.questions, tok, model.config.block_size)
    SETTINGS["max_tokens"] = min(200, model.config.block_size)  # both stop at the window's end anyway
    cmd = [sys.executable, "-m", "npgpt", "serve", "--checkpoint", args.checkpoint, "--port", "0"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=ENV, text=True)
    try:
        port = urlsplit(server.stdout.readline().split(" at ")[1].split()[0]).port
        run_serve(port, qs[:2], 0)  # warm-up, not timed
        ratios = []
        for r in range(args.rounds):  # alternate which goes first
            runs = [
                ("chat", lambda r=r: run_chat(args.checkpoint, qs, tok, r)),
                ("serve", lambda r=r: run_serve(port, qs, r)),
            ]
            rate = {}
            for name, fn in runs if r % 2 == 0 else runs[::-1]:
                n, s = fn()
                rate[name] = n / s
            ratios.append(rate["serve"] / rate["chat"])
            print(
                f"round {r + 1}: chat {rate['chat']:.0f} tokens/s, serve {rate['serve']:.0f} tokens/s, "
                f"serve/chat {ratios[-1]:.2f}",
                flush=True,
            )
        print(f"median serve/chat over {args.rounds} rounds: {statistics.median(ratios):.2f}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
