"""RL on rewards a program checks, abstention, and the numbers the table reports (issue 24).

The checker's reward on known replies; the leave-one-out baseline's policy gradient against the
exact gradient of the expected reward (finite differences, float64); pass@k against its
brute-force expectation; the abstention pairs' order; a short checker run whose reward rises;
the README's table equal to what docs/chat_results.json renders.
"""

import itertools
import json
from math import comb
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from npgpt.chat import results as report
from npgpt.chat.evaluate import pass_at_k
from npgpt.chat.prefs import abstention_pairs
from npgpt.chat.rl import kl_penalized_advantages, write_in
from npgpt.chat.tasks import ABSTAINED, CORRECT, IDK, WRONG, checker_reward, outcome
from npgpt.chat.template import CHAT_TOKENS
from npgpt.cli import main as cli
from npgpt.tokenizers import CharTokenizer
from npgpt.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- the checker
@pytest.mark.parametrize(
    "task, reply, gold, stopped, expected",
    [
        ("play", "Hamlet", "Hamlet", True, CORRECT),
        ("play", " Hamlet ", "Hamlet", True, CORRECT),  # surrounding spaces do not count
        ("play", "Macbeth", "Hamlet", True, WRONG),  # in format, wrong
        ("play", "hamlet", "Hamlet", True, WRONG),  # not a play's name
        ("play", "Hamlet", "Hamlet", False, WRONG),  # never ended its turn
        ("play", IDK, "Hamlet", True, ABSTAINED),
        ("play", IDK, "Hamlet", False, WRONG),  # an abstention must end its turn too
        ("first_word", "I don't know", "Now", True, WRONG),  # not the fixed string
        ("capitals", "TO BE", "TO BE", True, CORRECT),
        ("capitals", "To be", "TO BE", True, WRONG),
        (None, "anything", "anything", True, CORRECT),  # no known task: the exact answer alone
    ],
)
def test_checker_reward_on_known_replies(task, reply, gold, stopped, expected):
    assert outcome(task, reply, gold, stopped) == expected
    for wrong in (0.0, -1.0):
        r = checker_reward(task, reply, gold, stopped, wrong=wrong)
        assert r == {CORRECT: 1.0, ABSTAINED: 0.0, WRONG: wrong}[expected]


# ----------------------------------------------------------------------------- the group baseline
V, K = 4, 3  # a policy over 4 whole replies; 3 replies sampled per prompt
REWARDS = np.array([1.0, 0.0, -1.0, 1.0])


def _expected_reward(theta):
    p = np.exp(theta - theta.max())
    return float((p / p.sum()) @ REWARDS)


def _expected_policy_gradient(theta, loo=True):
    """E over every group of K replies of d(loss)/d(theta), computed exactly by enumeration.

    Each reply is one token drawn from softmax(theta); the loss is the RL loss on it (PPO's
    clipped objective at its first pass, the advantages from ``kl_penalized_advantages``).
    """
    p = np.exp(theta - theta.max())
    p /= p.sum()
    total = np.zeros(V)
    for group in itertools.product(range(V), repeat=K):
        logits = npgpt.tensor(np.tile(theta, (K, 1, 1)), requires_grad=True)  # (K, 1, V)
        targets = np.array(group)[:, None]
        logp = F.token_logprobs(logits, targets)  # (K, 1)
        mask = np.ones((K, 1), dtype=bool)
        scores = REWARDS[list(group)]
        adv = kl_penalized_advantages(scores, logp.numpy(), logp.numpy(), mask, 0.0, K)
        if not loo:  # a baseline that includes the reply's own score: the group mean
            adv = (scores - scores.mean())[:, None]
        F.ppo_clipped_loss(logp, logp.numpy(), adv, mask).backward()
        total += np.prod(p[list(group)]) * logits.grad.sum(axis=(0, 1))
    return total


def test_the_leave_one_out_policy_gradient_is_the_gradient_of_the_expected_reward():
    """E[loss gradient] = -K/N grad E[reward] = -grad J: the baseline adds no bias (N = K tokens)."""
    theta = np.random.default_rng(0).standard_normal(V)
    h = 1e-6
    grad_j = np.array(
        [(_expected_reward(theta + h * e) - _expected_reward(theta - h * e)) / (2 * h) for e in np.eye(V)]
    )
    got = _expected_policy_gradient(theta)
    # central differences of a smooth function of O(1) values: error ~ h^2 + eps / h ~ 1e-10
    np.testing.assert_allclose(-got, grad_j, atol=1e-8)
    # the group mean with the reply's own score in it is biased by (K - 1) / K: the test can tell
    np.testing.assert_allclose(-_expected_policy_gradient(theta, loo=False), grad_j * (K - 1) / K, atol=1e-8)
    assert np.abs(grad_j).max() > 1e-2


# ----------------------------------------------------------------------------- pass@k
@pytest.mark.parametrize("n, c, k", [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 3, 4), (8, 1, 4), (8, 8, 8), (7, 5, 5)])
def test_pass_at_k_is_the_chance_that_k_of_the_n_samples_hold_a_correct_one(n, c, k):
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert len(subsets) == comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12)


def test_pass_at_k_refuses_impossible_counts():
    with pytest.raises(ValueError, match="c <= n and k <= n"):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        pass_at_k(4, 1, 0)


# ----------------------------------------------------------------------------- abstention pairs
def test_abstention_pairs_order_correct_over_idk_over_wrong(monkeypatch):
    from npgpt.chat import prefs

    replies = {
        "q1": [("Hamlet", True), ("Macbeth", True), ("Othello", False), ("Ham<|end|>", True)],  # mixed
        "q2": [("Macbeth", True)] * 2,  # always wrong
        "q3": [("Hamlet", True)] * 2,  # always right
    }

    def fake_replies(model, tok, convs, max_new_tokens, **kw):
        assert kw["temperature"] == 1.0  # sampled, not greedy: the model's own spread of replies
        return [r for q in ("q1", "q2", "q3") for r in replies[q] * (4 // len(replies[q]))]

    monkeypatch.setattr(prefs, "reply_texts", fake_replies)
    questions = [("play", [{"role": "user", "content": f"Which play? {q}"}], "Hamlet") for q in replies]

    class Model:
        config = SimpleNamespace(block_size=64)

        def eval(self):
            pass

    tok = CharTokenizer(sorted(set("".join(q[1][0]["content"] for q in questions) + IDK + "HamletMacbeth")))
    tok = tok.with_special_tokens(list(CHAT_TOKENS))
    pairs = abstention_pairs(Model(), tok, questions, samples=4)
    got = [(p["prompt"][0]["content"][-2:], p["chosen"], p["rejected"], p["kind"]) for p in pairs]
    assert got == [
        ("q1", "Hamlet", IDK, "correct>idk"),
        ("q1", IDK, "Macbeth", "idk>wrong"),  # "Othello" never stopped, "Ham<|end|>" would not encode back
        ("q1", "Hamlet", "Macbeth", "correct>wrong"),
        *[("q2", IDK, "Macbeth", "idk>wrong")] * 4,  # one pair per sampled reply: repeats weigh
        *[("q3", "Hamlet", IDK, "correct>idk")] * 4,
    ]
    Model.config.block_size = 20  # "Which play? q1" leaves no room for "I don't know.": correct > wrong only
    assert [p["kind"] for p in abstention_pairs(Model(), tok, questions[:1], samples=4)] == ["correct>wrong"]
    rank = {CORRECT: 2, ABSTAINED: 1, WRONG: 0}
    for p, (task, _, gold) in zip(pairs, [questions[0]] * 3 + [questions[1]] * 4 + [questions[2]] * 4):
        assert rank[outcome(task, p["chosen"], gold, True)] > rank[outcome(task, p["rejected"], gold, True)]


def test_write_in_puts_the_abstention_in_the_rows_drawn():
    reply = np.array([[5, 9, 9], [6, 7, 9]])
    lengths, stopped = np.array([2, 3]), np.array([True, False])
    idk = np.array([1, 2, 3, 4, 9])
    out = write_in(reply, lengths, stopped, [1], idk, room=10)
    assert out.tolist() == [[5, 9, 9, 9, 9], [1, 2, 3, 4, 9]] and lengths.tolist() == [2, 5] and stopped.all()
    out = write_in(out, lengths, stopped, [0], idk, room=4)  # no room in the context: left as it was
    assert out[0].tolist() == [5, 9, 9, 9, 9] and lengths[0] == 2


# ----------------------------------------------------------------------------- a short run and the CLI
@pytest.fixture(scope="module")
def sft_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("checker")
    cfg = TrainConfig(
        out_dir=str(d / "base"), n_layer=1, n_head=2, n_embd=32, max_steps=2, warmup_steps=1,
        eval_interval=2, eval_batches=1, sample_chars=0, progress=False,
    )  # fmt: skip
    train(cfg, log=lambda *a: None)
    return d


def _copy_task(path, n=40):
    """Questions whose answer is one letter: reachable by a tiny model in a few RL steps."""
    rows = [
        {"messages": [{"role": "user", "content": f"Say {c}"}, {"role": "assistant", "content": c}]}
        for c in "abcdefghij" * (n // 10)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_short_checker_run_raises_the_reward(sft_model, tmp_path, capsys):
    data = _copy_task(tmp_path / "say.jsonl")
    argv = ["--init-from", sft_model / "base" / "checkpoint", "--data", data, "--no-progress"]
    assert cli(["sft", *map(str, argv), "--out-dir", str(tmp_path / "sft"), "--max-steps", "100",
                "--eval-questions", "0", "--lr", "3e-3"]) == 0  # fmt: skip
    argv[1] = tmp_path / "sft" / "checkpoint"
    assert cli(["rl", "--reward", "checker", *map(str, argv), "--out-dir", str(tmp_path / "rl"), "--max-steps",
                "40", "--prompts", "8", "--samples", "4", "--max-new-tokens", "3", "--lr", "3e-3",
                "--kl-coef", "0", "--eval-questions", "0", "--eval-interval", "1"]) == 0  # fmt: skip
    capsys.readouterr()
    rows = [json.loads(line) for line in (tmp_path / "rl" / "log.jsonl").read_text().splitlines()]
    first, last = np.mean([r["reward"] for r in rows[:10]]), np.mean([r["reward"] for r in rows[-10:]])
    assert last > first + 0.2, (first, last)
    assert all(r["reward"] == r["accuracy"] for r in rows)  # checker, wrong = 0: the reward is the accuracy


def _error(capsys, *argv):
    """(exit code, the one line on stderr) of ``npgpt argv``."""
    try:
        rc = cli(list(argv))
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return rc, err[0]


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--reward", "checkers", "argument --reward: invalid choice: 'checkers' (choose from 'model', 'checker')"),
        ("--wrong-reward", "-2", "argument --wrong-reward: must be a finite number in [-1.0, 0.0], got '-2'"),
        ("--wrong-reward", "0.5", "argument --wrong-reward: must be a finite number in [-1.0, 0.0], got '0.5'"),
        ("--wrong-reward", "nan", "argument --wrong-reward: must be a finite number in [-1.0, 0.0], got 'nan'"),
        ("--idk-mix", "1", "argument --idk-mix: must be a finite number in [0, 1), got '1'"),
    ],
)
def test_the_checker_flags_say_their_range_in_one_line(capsys, flag, value, message):
    rc, line = _error(capsys, "rl", flag, value)
    assert rc == 2 and line.startswith("npgpt rl: ") and message in line, line


def test_checker_settings_from_python_are_checked(tmp_path):
    from npgpt.chat.rl import RLConfig, rl

    with pytest.raises(ValueError, match="reward must be one of model, checker, got 'human'"):
        rl(RLConfig(reward="human", out_dir=str(tmp_path / "a")))
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- the table
def test_the_readme_table_is_what_the_results_file_renders():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert report.readme_block(readme) == report.render(report.load()).strip()


def test_the_results_file_holds_every_model_and_seed_on_the_held_out_questions():
    results = report.load()
    assert results["questions"] == 250 and len(results["seeds"]) == 3
    for name, m in results["models"].items():
        assert len(m["greedy"]) == len(m["sampled"]) == 3, name
        for a in m["greedy"]:
            assert a["n"] == 250 and a["correct"] + a["abstained"] + a["wrong"] == pytest.approx(1, abs=1e-12)
    assert all(len(t) == 3 for t in results["cpu_s"].values())


def test_the_table_renders_mean_and_spread():
    assert report.spread([0.1, 0.2, 0.3]) == "20.0 [10.0, 30.0]"
    assert report.spread([0.25]) == "25.0"


# ----------------------------------------------------------------------------- DPO with the chosen reply's NLL
def test_preference_loss_adds_the_chosen_replys_nll_per_token():
    from npgpt import gradcheck
    from npgpt.chat.dpo import preference_loss

    rng = np.random.default_rng(1)
    pc, pr, rc, rr = (rng.standard_normal(4) * 3 for _ in range(4))
    lengths = np.array([2.0, 5.0, 3.0, 7.0])
    dpo = -np.log(1 / (1 + np.exp(-0.5 * ((pc - rc) - (pr - rr))))).mean()
    got = preference_loss(npgpt.tensor(pc), npgpt.tensor(pr), rc, rr, lengths, 0.5, nll_coef=0.3).item()
    assert got == pytest.approx(dpo + 0.3 * np.mean(-pc / lengths), rel=1e-12)
    assert preference_loss(npgpt.tensor(pc), npgpt.tensor(pr), rc, rr, lengths, 0.5).item() == pytest.approx(dpo)
    c, r = (npgpt.tensor(a, requires_grad=True) for a in (pc, pr))
    assert gradcheck(lambda a, b: preference_loss(a, b, rc, rr, lengths, 0.5, 0.3), [c, r]).ok


def test_the_pipeline_runs_end_to_end_and_its_table_renders(sft_model, tmp_path):
    """tools/chat_pipeline.py --quick (two steps a stage, 10 questions) on a tiny base model."""
    import subprocess
    import sys

    out = tmp_path / "chat"
    argv = [sys.executable, str(ROOT / "tools" / "chat_pipeline.py"), "--quick", "--out", str(out), "--seeds", "1"]
    argv += ["--base", str(sft_model / "base" / "checkpoint"), "--base-cpu-s", "1", "--write", str(tmp_path / "r.json")]
    env = {"PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    results = report.load(tmp_path / "r.json")
    assert list(results["models"]) == [
        "base + template", "SFT", "SFT + RL (reward model)", "SFT + RL (checker)",
        "SFT + DPO (abstention pairs)", "SFT + RL (checker +1/0/-1)",
    ]  # fmt: skip
    assert {"base (shared)", "sft", "reward", "rl", "rl-checker", "dpo-abstain", "rl-abstain"} <= set(results["cpu_s"])
    table = report.render(results)
    assert table in p.stdout and table.count("| SFT + RL (checker) |") == 2  # overall and per task
