"""``npgpt serve``'s API on a tiny checkpoint: streaming that matches npgpt's own generation, the
attention hook checked against attention computed by hand, every bad request answered with a 4xx
and one message while the server keeps serving, no file reachable by path, concurrent streams,
and the command's one-line errors and clean Ctrl-C."""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from serve_fixtures import make_checkpoints, running

from npgpt.chat.chat_loop import fit_window
from npgpt.chat.model import load_policy
from npgpt.chat.template import render
from npgpt.cli import main as cli
from npgpt.data import DataError
from npgpt.serve import RequestError, load_session, parse_settings

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return make_checkpoints(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def server(checkpoints):
    with running(checkpoints[0], max_streams=8) as s:
        yield s


def request(server, method, path, body=None, headers=None, raw=None):
    """(status, parsed JSON or text) of one request; ``raw`` bytes are sent as the body unchanged."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers={**hdrs, **(headers or {})})
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    if r.getheader("Content-Type", "").startswith("application/json"):
        return r.status, json.loads(text)
    return r.status, text


def events(text):
    return [json.loads(chunk[len("data: ") :]) for chunk in text.split("\n\n") if chunk.startswith("data: ")]


def generate(server, **body):
    body = {"messages": [{"role": "user", "content": "Who says: to be"}], **body}
    status, text = request(server, "POST", "/api/generate", body)
    assert status == 200, text
    return events(text)


def test_info_names_the_mode(server, checkpoints):
    status, info = request(server, "GET", "/api/info")
    assert status == 200 and info["mode"] == "chat" and info["n_layer"] == 1 and info["block_size"] == 64
    with running(checkpoints[1]) as base:
        assert request(base, "GET", "/api/info")[1]["mode"] == "complete"


def test_stream_is_npgpt_generation_with_facts_per_token(server, checkpoints):
    ev = generate(server, temperature=0, max_tokens=12)
    assert ev[0]["type"] == "start" and ev[-1]["type"] == "end" and ev[-1]["reason"] in ("end", "length")
    toks = [e for e in ev if e["type"] == "token"]
    assert 1 <= len(toks) <= 12 and [t["step"] for t in toks] == list(range(len(toks)))
    # the same tokens as npgpt's own greedy generation with the KV cache
    model, tok, _ = load_policy(checkpoints[0])
    ids, _ = render([{"role": "user", "content": "Who says: to be"}], tok, add_generation_prompt=True)
    assert [t["id"] for t in ev[0]["prompt"]] == ids
    want = model.generate(np.array([ids]), len(toks), temperature=0)[0, len(ids) :].tolist()
    assert [t["id"] for t in toks] == want
    for t in toks:  # greedy: drawn with the model's own probability, the largest of the top 10
        ps = [a["p"] for a in t["top"]]
        assert len(ps) == 10 and ps == sorted(ps, reverse=True) and t["top"][0]["id"] == t["id"]
        assert t["prob"] == t["p"] == ps[0] and t["top"][0]["q"] == 1.0


def test_sampling_settings_shape_the_draw(server):
    a = generate(server, temperature=1.3, top_k=5, top_p=0.9, seed=7, max_tokens=10)
    b = generate(server, temperature=1.3, top_k=5, top_p=0.9, seed=7, max_tokens=10)
    assert a == b  # a seed reproduces the reply
    for t in (e for e in a if e["type"] == "token"):
        kept = [x for x in t["top"] if x["q"] > 0]
        assert 1 <= len(kept) <= 5 and t["id"] in [x["id"] for x in kept]
        assert math.isclose(t["prob"], next(x["q"] for x in t["top"] if x["id"] == t["id"]))


def test_prefix_continues_a_reply(server):
    first = [e for e in generate(server, temperature=0, max_tokens=6) if e["type"] == "token"]
    alt = first[2]["top"][1]["id"]  # continue from the second most likely token at step 3
    ev = generate(server, temperature=0, max_tokens=4, prefix=[first[0]["id"], first[1]["id"], alt])
    assert [t["id"] for t in ev[0]["prompt"][-3:]] == [first[0]["id"], first[1]["id"], alt]
    assert ev[1]["type"] == "token"


def test_attention_hook_matches_attention_by_hand(server, checkpoints):
    model, tok, _ = load_policy(checkpoints[0])
    ids = [int(i) for i in tok.encode("to be or not")]
    status, out = request(server, "POST", "/api/inspect", {"ids": ids, "temperature": 0})
    assert status == 200 and [c["id"] for c in out["context"]] == ids
    att = np.array(out["attention"])  # (layers, heads, T)
    assert att.shape == (1, 2, len(ids)) and np.allclose(att.sum(-1), 1, atol=1e-4)
    # by hand, for the one layer: q k^T / sqrt(hs) of the last position, softmax (float64)
    t, b = model.transformer, model.transformer.h[0]
    x = t.wte.weight.data[ids].astype(np.float64) + t.wpe.weight.data[: len(ids)]
    h = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    h = h * b.ln_1.weight.data + b.ln_1.bias.data
    qkv = h @ b.attn.c_attn.weight.data.T.astype(np.float64) + b.attn.c_attn.bias.data
    q, k = qkv[:, :16].reshape(-1, 2, 8), qkv[:, 16:32].reshape(-1, 2, 8)
    s = np.einsum("hd,thd->ht", q[-1], k) / np.sqrt(8)
    want = np.exp(s - s.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    assert np.abs(att[0] - want).max() < 1e-4  # float32 forward (eps 1.2e-7 times sums of 16) + 5 decimals
    assert all(a.record_attention is False for a in (b.attn,))  # off again: the hook costs nothing after


def test_inspect_reports_the_streamed_step(server):
    ev = generate(server, temperature=0.7, seed=3, max_tokens=5)
    prompt = [t["id"] for t in ev[0]["prompt"]]
    toks = [e for e in ev if e["type"] == "token"]
    k = len(toks) - 1
    status, out = request(
        server, "POST", "/api/inspect", {"ids": prompt + [t["id"] for t in toks[:k]], "temperature": 0.7}
    )
    assert status == 200
    got, want = [a["p"] for a in out["top"]], [a["p"] for a in toks[k]["top"]]
    assert [a["id"] for a in out["top"]][:3] == [a["id"] for a in toks[k]["top"]][:3]
    # prefill vs cached steps: the same float32 sums in another order
    assert np.allclose(got, want, rtol=1e-4, atol=1e-6)


BAD = [
    ("malformed JSON", b'{"messages": [', 400, "not valid JSON"),
    ("not an object", b"[1, 2]", 400, "JSON object"),
    ("NaN temperature", b'{"messages": [{"role": "user", "content": "a"}], "temperature": NaN}', 400, "finite"),
    ("infinite temperature", b'{"messages": [{"role": "user", "content": "a"}], "temperature": 1e999}', 400, "finite"),
    ("negative temperature", {"temperature": -1}, 400, "temperature must be in"),
    ("huge temperature", {"temperature": 1e9}, 400, "temperature must be in"),
    ("huge integer", {"temperature": 10**400}, 400, "temperature must be in"),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
    ("text temperature", {"temperature": "hot"}, 400, "temperature must be a finite number"),
    ("bool top_k", {"top_k": True}, 400, "top_k"),
    ("zero top_k", {"top_k": 0}, 400, "top_k must be in"),
    ("fractional top_k", {"top_k": 1.5}, 400, "top_k must be an integer"),
    ("huge top_k", {"top_k": 10**12}, 400, "top_k must be in"),
    ("zero top_p", {"top_p": 0}, 400, "top_p"),
    ("top_p above 1", {"top_p": 1.5}, 400, "top_p must be in"),
    ("zero max_tokens", {"max_tokens": 0}, 400, "max_tokens must be in"),
    ("huge max_tokens", {"max_tokens": 10**9}, 400, "max_tokens must be in"),
    ("negative seed", {"seed": -1}, 400, "seed must be in"),
    ("no messages", {"messages": []}, 400, "messages must be"),
    ("bad role", {"messages": [{"role": "root", "content": "a"}]}, 400, "role"),
    ("content not text", {"messages": [{"role": "user", "content": 5}]}, 400, "role"),
    ("last not user", {"messages": [{"role": "assistant", "content": "a"}]}, 400, "user's"),
    ("prompt too long", {"messages": [{"role": "user", "content": "a" * 200}]}, 400, "context is 64"),
    ("message too long", {"messages": [{"role": "user", "content": "a" * 30000}]}, 400, "longer than"),
    ("unknown character", {"messages": [{"role": "user", "content": "caf\u00e9 \u20ac"}]}, 400, "character"),
    ("prefix out of range", {"prefix": [10**6]}, 400, "prefix"),
    ("prefix not ids", {"prefix": ["a"]}, 400, "prefix"),
]


@pytest.mark.parametrize("name, body, status, message", BAD, ids=[b[0] for b in BAD])
def test_bad_generate_request_is_a_4xx_with_a_message(server, name, body, status, message):
    if isinstance(body, dict):
        body = json.dumps({"messages": [{"role": "user", "content": "a"}], **body}).encode()
    got, out = request(server, "POST", "/api/generate", raw=body)
    assert got == status and message in out["error"] and "\n" not in out["error"], out
    assert generate(server, max_tokens=1)[-1]["type"] == "end"  # still serving


def test_bad_transport_is_a_4xx(server):
    port = server.server_address[1]
    for path, ids in [("/api/inspect", [80]), ("/api/inspect", []), ("/api/inspect", [0] * 65)]:
        status, out = request(server, "POST", path, {"ids": ids})
        assert status == 400 and "ids" in out["error"]
    assert request(server, "POST", "/api/generate", raw=b"{}", headers={"Content-Type": "text/plain"})[0] == 415
    assert request(server, "POST", "/api/nothing", {})[0] == 404
    assert request(server, "GET", "/api/info", headers={"Host": "evil.example:80"})[0] == 403
    for raw in (
        b"POST /api/generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\r\n",
        b"POST /api/generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(raw)
            head = s.recv(200).decode()
        assert head.split()[1] in ("411", "413"), head


@pytest.mark.parametrize(
    "path",
    ["/../pyproject.toml", "/static/../session.py", "/%2e%2e/%2e%2e/pyproject.toml", "/app.js/../../server.py",
     "//etc/passwd", "/index.html", "/static/app.js", "/__init__.py", "/etc/passwd"],
)  # fmt: skip
def test_no_file_is_reachable_by_path(server, path):
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.split()[1] == b"404", reply[:200]


def test_page_files_are_served_from_the_package(server):
    for path, marker in [("/", "<!doctype html>"), ("/app.js", "use strict"), ("/style.css", "--accent")]:
        status, text = request(server, "GET", path)
        assert status == 200 and marker in text
    assert "serve/static/*" in (ROOT / "pyproject.toml").read_text()  # shipped in the wheel


def test_closed_connection_mid_stream_frees_the_slot(checkpoints):
    with running(checkpoints[0], max_streams=1) as srv:
        body = json.dumps({"messages": [{"role": "user", "content": "a"}], "max_tokens": 60}).encode()
        with socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=30) as s:
            s.sendall(
                b"POST /api/generate HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            assert b"200" in s.recv(100)
        for _ in range(100):  # the server notices at its next write; then the one slot is free again
            status, _ = request(srv, "POST", "/api/generate", {"messages": [{"role": "user", "content": "a"}]})
            if status == 200:
                break
            assert status == 503
            time.sleep(0.1)
        assert status == 200


def test_concurrent_streams_are_not_corrupted(server):
    """Streams interleaved step by step give exactly the reply each gives alone."""
    body = dict(temperature=1.0, max_tokens=30, seed=11)
    alone = generate(server, **body)
    results = [None] * 6
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, generate(server, **body))) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r == alone for r in results)


def test_command_errors_are_one_line(checkpoints, tmp_path, capsys):
    assert cli(["serve", "--checkpoint", str(tmp_path / "nothing"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("npgpt serve: ") and err.count("\n") == 1
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli(["serve", "--checkpoint", str(checkpoints[0]), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"npgpt serve: port {port} on 127.0.0.1 is in use: pick another with --port (0 = any free port)\n"


def test_ctrl_c_stops_cleanly(checkpoints):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "npgpt", "serve", "--checkpoint", str(checkpoints[0]), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    assert line.startswith("npgpt serve: chat page for") and "http://127.0.0.1:" in line
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == "npgpt serve: stopped\n" and err == ""


def test_a_long_conversation_keeps_the_window_npgpt_chat_keeps(checkpoints):
    """The page resends the whole conversation; the server cuts it where ``npgpt chat`` would."""
    s = load_session(checkpoints[0])
    rng = np.random.default_rng(0)
    words = ["to be", "or not", "that is", "the question", "whether", "tis nobler", "in the mind"]
    for n in (1, 3, 9, 41, 401):  # user, assistant, ..., user
        msgs = [
            {"role": "user" if i % 2 == 0 else "assistant", "content": " ".join(rng.choice(words, rng.integers(1, 6)))}
            for i in range(n)
        ]
        for system in ([], [{"role": "system", "content": "be brief"}]):
            body = {"messages": system + msgs, "max_tokens": 10}
            settings = parse_settings(body, s.vocab, s.max_tokens)
            try:
                want, _, _ = fit_window(system + msgs, s.tokenizer, s.block, min(10, s.block // 4))
            except DataError as e:  # the last message alone is too long: the same message, a 400
                with pytest.raises(RequestError, match=str(e)[:30]):
                    s.prompt_ids(body, settings)
                continue
            assert s.prompt_ids(body, settings)[0] == want, (n, system)
