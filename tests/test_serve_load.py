"""A load test of ``npgpt serve``: N concurrent streams against 127.0.0.1, a bounded number of
requests, every stream must complete; the tokens per second are printed, never asserted."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest
from serve_fixtures import make_checkpoints, running

pytestmark = pytest.mark.slow
STREAMS, ROUNDS, MAX_TOKENS = 8, 2, 40  # 16 requests in all


def stream(port, seed):
    """(events, seconds) of one streamed reply, read event by event as the page reads them."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = {"messages": [{"role": "user", "content": "Finish: to be"}], "seed": seed, "max_tokens": MAX_TOKENS}
    t0 = time.perf_counter()
    conn.request("POST", "/api/generate", json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200, r.read()
    events = []
    for line in r:
        if line.startswith(b"data: "):
            events.append(json.loads(line[6:]))
    conn.close()
    return events, time.perf_counter() - t0


def test_concurrent_streams_all_complete(tmp_path, capsys):
    chat, _ = make_checkpoints(tmp_path)
    results, errors = [], []

    def client(i):
        try:
            for r in range(ROUNDS):
                results.append(stream(port, seed=100 * i + r))
        except Exception as e:  # reported below with the others
            errors.append(repr(e))

    with running(chat, max_streams=STREAMS) as server:
        port = server.server_address[1]
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(STREAMS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        wall = time.perf_counter() - t0
    assert not errors, errors
    assert len(results) == STREAMS * ROUNDS
    for events, _ in results:  # every stream started, streamed, and ended
        assert events[0]["type"] == "start" and events[-1]["type"] == "end"
        tokens = [e for e in events if e["type"] == "token"]
        assert 1 <= len(tokens) <= MAX_TOKENS and [t["step"] for t in tokens] == list(range(len(tokens)))
    total = sum(sum(e["type"] == "token" for e in events) for events, _ in results)
    with capsys.disabled():
        print(
            f"\nnpgpt serve load: {STREAMS} concurrent streams x {ROUNDS} rounds, {total} tokens in {wall:.2f} s "
            f"= {total / wall:.0f} tokens/s in all, {total / sum(s for _, s in results):.0f} tokens/s per stream"
        )
