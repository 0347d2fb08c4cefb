"""The question types of the shipped chat data, and how a reply is graded.

Each task is a question about one line of the Shakespeare corpus whose answer a program can check
(``tools/make_chat_data.py`` writes them). A reply is graded two ways:

* correct: the reply equals the gold answer exactly (after stripping surrounding spaces);
* in format: the model stopped with ``<|end|>`` and the reply has the shape the task asks for
  (a play's name, a speaker's name, one word, capitals, ...) whether or not it is right.

A reply may also decline: exactly ``IDK`` ("I don't know."), ended with ``<|end|>``. ``outcome``
sorts every reply into one of three: correct, abstained (the fixed string), or wrong (anything
else: a wrong answer, a reply out of format, one that never stopped). ``checker_reward`` turns that
into RL's reward: +1 correct, 0 abstained, ``wrong`` (0 or -1) otherwise.
"""

from __future__ import annotations

import re

PLAYS = [
    "Hamlet",
    "Macbeth",
    "Romeo and Juliet",
    "King Lear",
    "Othello",
    "Julius Caesar",
    "The Tempest",
    "A Midsummer Night's Dream",
]

IDK = "I don't know."  # the one abstention a grader recognises

# task name -> (question prefix, longest source line in characters)
TASKS = {
    "play": ("Which play? ", 22),
    "speaker": ("Who says: ", 36),
    "first_word": ("First word: ", 40),
    "capitals": ("In capitals: ", 22),
    "finish": ("Finish: ", 48),
}

_FORMATS = {
    "play": lambda r: r in PLAYS,
    "speaker": lambda r: re.fullmatch(r"[A-Za-z][A-Za-z' ]{0,19}", r) is not None,
    "first_word": lambda r: re.fullmatch(r"\S+", r) is not None,
    "capitals": lambda r: any(c.isalpha() for c in r) and r == r.upper() and "\n" not in r,
    "finish": lambda r: 0 < len(r) <= 60 and "\n" not in r,
}


def task_of(question: str) -> str | None:
    """The task a question belongs to (by its prefix), or None."""
    return next((name for name, (prefix, _) in TASKS.items() if question.startswith(prefix)), None)


def grade(task: str | None, reply: str, gold: str, stopped: bool) -> tuple[bool, bool]:
    """(correct, in_format) of ``reply``; ``stopped`` says whether the model ended its turn.

    A question of no known task (``task`` None) is in format when the model stopped.
    """
    r = reply.strip()
    return r == gold.strip(), bool(stopped and (task is None or _FORMATS[task](r)))


CORRECT, ABSTAINED, WRONG = "correct", "abstained", "wrong"


def outcome(task: str | None, reply: str, gold: str, stopped: bool) -> str:
    """``CORRECT`` (right answer, in format, stopped), ``ABSTAINED`` (exactly ``IDK``, stopped) or ``WRONG``."""
    if stopped and reply.strip() == IDK:
        return ABSTAINED
    correct, in_format = grade(task, reply, gold, stopped)
    return CORRECT if correct and in_format else WRONG


def checker_reward(task: str | None, reply: str, gold: str, stopped: bool, wrong: float = 0.0) -> float:
    """The reward a program checks: 1 if correct and in format, 0 if it abstains, ``wrong`` otherwise.

    ``wrong=0``: plain correctness (abstaining pays as little as a wrong answer). ``wrong=-1``:
    +1 / 0 / -1, so "I don't know." beats a guess whenever the chance of being right is below 1/2.
    """
    return {CORRECT: 1.0, ABSTAINED: 0.0, WRONG: float(wrong)}[outcome(task, reply, gold, stopped)]
