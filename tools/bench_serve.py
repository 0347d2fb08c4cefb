"""Tokens per second: ``npgpt serve`` (streamed over HTTP to a client) vs ``npgpt chat`` (printed to
a pipe), same checkpoint, same questions, same settings, alternating runs on the same machine.

    python tools/bench_serve.py [--checkpoint runs/sft/checkpoint] [--rounds 5] [--questions 8]

Each round runs one conversation of ``--questions`` held-out questions through each: ``npgpt chat``
as a subprocess (the question written to its stdin, the clock stopped when its next ``you>``
prompt appears) and ``npgpt serve`` as a subprocess (the question POSTed with the conversation so
far, as the page does, the clock stopped at the stream's end event). Both count generation steps
(forward passes: the reply's tokens plus the ``<|end|>`` that ended it) and include the prefill;
process start-up and model loading are not timed. Printed: tokens/s per round and the median
ratio serve / chat, by the wall clock and per CPU second of the generating process (read from
/proc: on a machine shared with other jobs the wall clock mostly measures them). Both run with
OPENBLAS_NUM_THREADS=1 unless it is set.
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


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_chat(checkpoint, qs, tok, seed):
    """(tokens, seconds, CPU seconds of the chat process) of one conversation through ``npgpt chat``."""
    cmd = [sys.executable, "-m", "npgpt", "chat", "--checkpoint", checkpoint, "--seed", str(seed)]
    cmd += ["--temperature", str(SETTINGS["temperature"]), "--max-new-tokens", str(SETTINGS["max_tokens"])]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=ENV, bufsize=0)
    read_until(proc, b"you> ")
    tokens, seconds, cpu0 = 0, 0.0, cpu_seconds(proc.pid)
    for q in qs:
        t0 = time.perf_counter()
        proc.stdin.write(q.encode() + b"\n")
        out = read_until(proc, b"you> ")
        seconds += time.perf_counter() - t0
        reply = out.split(b"bot> ", 1)[1].split(b"\n", 1)[0].decode()
        stopped = b"(reply cut" not in out
        tokens += len(tok.encode(reply)) + stopped  # the <|end|> step is not printed
    cpu = cpu_seconds(proc.pid) - cpu0 if cpu0 is not None else None
    proc.stdin.close()
    proc.wait(60)
    return tokens, seconds, cpu


def run_serve(server, port, qs, seed):
    """(tokens, seconds, CPU seconds of the server process) of one conversation through its API."""
    messages, tokens, seconds, cpu0 = [], 0, 0.0, cpu_seconds(server.pid)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)  # kept alive, as a browser does
    for i, q in enumerate(qs):
        messages.append({"role": "user", "content": q})
        body = json.dumps({"messages": messages, **SETTINGS, "seed": seed + i})
        t0 = time.perf_counter()
        conn.request("POST", "/api/generate", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            raise RuntimeError(f"npgpt serve answered {r.status}: {r.read()[:300]!r}")
        buf = b""
        while chunk := r.read1(65536):  # whatever has arrived, as a browser's stream reader gets it
            *events, buf = (buf + chunk).split(b"\n\n")
            tokens += sum(e.startswith(b'data: {"type": "token"') for e in events)
        seconds += time.perf_counter() - t0
        end = json.loads(events[-1][len(b"data: ") :])
        messages.append({"role": "assistant", "content": end["text"]})
    conn.close()
    cpu = cpu_seconds(server.pid) - cpu0 if cpu0 is not None else None
    return tokens, seconds, cpu


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
        run_serve(server, port, qs[:2], 0)  # warm-up, not timed
        ratios, cpu_ratios = [], []
        for r in range(args.rounds):  # alternate which goes first
            runs = {
                "chat": lambda r=r: run_chat(args.checkpoint, qs, tok, r),
                "serve": lambda r=r: run_serve(server, port, qs, r),
            }
            res = {name: runs[name]() for name in (("chat", "serve") if r % 2 == 0 else ("serve", "chat"))}
            ratios.append((res["serve"][0] / res["serve"][1]) / (res["chat"][0] / res["chat"][1]))
            line = ", ".join(
                f"{k} {n} tokens {n / s:.0f}/s wall" + (f" {n / c:.0f}/CPU-s" if c else "")
                for k, (n, s, c) in res.items()
            )
            if res["chat"][2] and res["serve"][2]:
                cpu_ratios.append((res["serve"][0] / res["serve"][2]) / (res["chat"][0] / res["chat"][2]))
                line += f"; serve/chat {ratios[-1]:.2f} wall, {cpu_ratios[-1]:.2f} CPU"
            print(f"round {r + 1}: {line}", flush=True)
        print(
            f"median serve/chat tokens per second over {args.rounds} rounds: {statistics.median(ratios):.2f} (wall clock)"
        )
        if cpu_ratios:
            print(f"median serve/chat tokens per CPU second: {statistics.median(cpu_ratios):.2f}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
