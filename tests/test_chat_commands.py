"""The chat path end to end on a tiny model: npgpt sft, reward, rl, dpo and chat (through a pipe).

A few steps each: these pin down that the commands run, write ordinary checkpoints that carry
the chat tokens, log what they promise and fail with one line on bad input, not that the model
learns (the README's table, from tools/chat_pipeline.py, shows that)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npgpt.chat import rl as rl_mod
from npgpt.chat.model import load_policy
from npgpt.chat.tasks import grade
from npgpt.checkpoint import read_checkpoint
from npgpt.cli import main as cli
from npgpt.train import TrainConfig, train

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("chat")
    cfg = TrainConfig(out_dir=str(d / "base"), n_layer=1, n_head=2, n_embd=16, max_steps=4, warmup_steps=1)
    train(
        TrainConfig(**{**cfg.__dict__, "eval_interval": 4, "eval_batches": 1, "sample_chars": 0, "progress": False}),
        log=lambda *a: None,
    )
    return d


def _run(capsys, *argv):
    rc = cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def tuned(runs):
    """sft -> reward -> rl and dpo, each a few steps, through the command line."""
    d = runs
    assert (
        cli(
            [
                "sft",
                "--init-from",
                f"{d}/base/checkpoint",
                "--out-dir",
                f"{d}/sft",
                "--max-steps",
                "3",
                "--eval-questions",
                "5",
            ]
        )
        == 0
    )
    assert cli(["reward", "--init-from", f"{d}/sft/checkpoint", "--out-dir", f"{d}/rm", "--max-steps", "2"]) == 0
    rl = ["rl", "--init-from", f"{d}/sft/checkpoint", "--reward-model", f"{d}/rm/checkpoint", "--out-dir", f"{d}/rl"]
    assert cli([*rl, "--max-steps", "2", "--prompts", "2", "--samples", "2", "--eval-questions", "0"]) == 0
    assert (
        cli(
            [
                "dpo",
                "--init-from",
                f"{d}/sft/checkpoint",
                "--out-dir",
                f"{d}/dpo",
                "--max-steps",
                "2",
                "--eval-questions",
                "0",
            ]
        )
        == 0
    )
    return d


def test_stages_write_checkpoints_with_chat_tokens(tuned):
    for stage in ("sft", "rl", "dpo", "rm"):
        ck = read_checkpoint(tuned / stage / "checkpoint")
        tok = json.loads(ck["tokenizer_json"])
        assert "<|assistant|>" in json.dumps(tok), stage
        assert ck["config"]["model"]["vocab_size"] == 76 + 4
    assert read_checkpoint(tuned / "rm" / "checkpoint")["config"]["reward_head"] is True


def test_rl_logs_reward_kl_and_accuracy_per_step(tuned):
    rows = [json.loads(line) for line in (tuned / "rl" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert all({"reward", "kl", "accuracy"} <= set(r) for r in rows)


def test_rl_log_kl_zero_at_start_accuracy_is_grade_of_sampled_replies(tuned, tmp_path, monkeypatch):
    """What notebook 15's reward-hacking curves read: at step 1 the policy is the SFT model, so the
    logged KL is exactly 0; the logged accuracy is tasks.grade's over the replies actually sampled.
    A few replies are overwritten with the gold answer, so the accuracy is not trivially 0; with
    --kl-coef 0 (no penalty), which the notebook uses."""
    data = tmp_path / "q.jsonl"
    msgs = [{"role": "user", "content": "First word: Now cracks"}, {"role": "assistant", "content": "Now"}]
    data.write_text(json.dumps({"messages": msgs}) + "\n")
    tok = load_policy(tuned / "sft" / "checkpoint")[1]
    end = tok.special_tokens["<|end|>"]
    sampled = []

    def sample_and_plant(model, prompts, max_new_tokens, end_id, *a, **kw):
        ids, lengths, stopped = real_sample_batch(model, prompts, max_new_tokens, end_id, *a, **kw)
        gold = [*tok.encode("Now"), end]
        for b in (0, 3, 5):  # these replies are the gold answer, ended
            ids[b, :] = end
            ids[b, : len(gold)], lengths[b], stopped[b] = gold, len(gold), True
        sampled.append((ids.copy(), lengths.copy(), stopped.copy()))
        return ids, lengths, stopped

    real_sample_batch = rl_mod.sample_batch
    monkeypatch.setattr(rl_mod, "sample_batch", sample_and_plant)
    out = tmp_path / "rl"
    argv = ["rl", "--init-from", tuned / "sft" / "checkpoint", "--reward-model", tuned / "rm" / "checkpoint"]
    argv += ["--data", data, "--out-dir", out, "--max-steps", "1", "--prompts", "2", "--samples", "4"]
    assert cli([str(a) for a in [*argv, "--kl-coef", "0", "--max-new-tokens", "8", "--eval-questions", "0"]]) == 0
    row = json.loads((out / "log.jsonl").read_text())
    ids, lengths, stopped = sampled[0]
    texts = [tok.decode([int(t) for t in ids[b, : lengths[b] - int(stopped[b])]]) for b in range(len(ids))]
    want = np.mean([grade("first_word", t, "Now", bool(s))[0] for t, s in zip(texts, stopped)])
    assert row["step"] == 1 and row["kl"] == 0.0
    assert row["accuracy"] == want >= 3 / 8


def test_bad_data_is_one_line_and_writes_nothing(runs, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n{"messages": [\n'
    )
    rc, _, err = _run(
        capsys, "sft", "--init-from", runs / "base" / "checkpoint", "--data", bad, "--out-dir", tmp_path / "out"
    )
    assert rc == 2 and err.count("\n") == 1 and err.startswith("npgpt sft: ") and "bad.jsonl:2: not valid JSON" in err
    assert not (tmp_path / "out").exists()
    empty = tmp_path / "pairs.jsonl"
    empty.write_text('{"prompt": "q", "chosen": "", "rejected": "b"}\n')
    rc, _, err = _run(
        capsys, "dpo", "--init-from", runs / "base" / "checkpoint", "--data", empty, "--out-dir", tmp_path / "d"
    )
    assert rc == 2 and "pairs.jsonl:1: empty preference pair" in err and not (tmp_path / "d").exists()


def _chat(checkpoint, text, *flags):
    return subprocess.run(
        [sys.executable, "-m", "npgpt", "chat", "--checkpoint", str(checkpoint), "--seed", "0", *flags],
        input=text,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )


def test_chat_through_a_pipe(tuned):
    text = "Which play? Good night.\nIn capitals: caf\u00e9 \u2603\nWho says: Farewell.\nFinish: To be or\n"
    p = _chat(tuned / "sft" / "checkpoint", text, "--max-new-tokens", "8", "--temperature", "0.9", "--top-k", "20")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("you> ") == 5 and p.stdout.count("bot> ") == 3  # 4 lines, 1 refused; EOF at the 5th
    assert "(not sent: cannot encode 2 character(s)" in p.stdout and "Traceback" not in p.stderr
    assert "dropped the oldest" in p.stdout  # a 64-token window holds about one question and answer


def test_chat_message_too_long_for_the_window(tuned):
    p = _chat(tuned / "sft" / "checkpoint", "x" * 80 + "\n", "--top-p", "0.9")
    assert p.returncode == 0 and "say it shorter" in p.stdout


def test_chat_on_a_base_model_is_one_line(runs):
    p = _chat(runs / "base" / "checkpoint", "hello\n")
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert p.stderr.startswith("npgpt chat: the tokenizer has no chat tokens")


def test_chat_ctrl_c_exits_cleanly(tuned):
    import signal

    p = subprocess.Popen(
        [sys.executable, "-m", "npgpt", "chat", "--checkpoint", str(tuned / "sft" / "checkpoint")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert p.stdout.readline().startswith("chatting with")  # loaded, waiting at "you> "
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "Traceback" not in err, err
