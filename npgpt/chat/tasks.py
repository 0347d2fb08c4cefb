"""The question types of the shipped chat data, and how a reply is graded.

Each task is a question about one line of the Shakespeare corpus whose answer a program can check
(``tools/make_chat_data.py`` writes them). A reply is graded two ways:

* correct: the reply equals the gold answer exactly (after stripping surrounding spaces);
* in format: the model stopped with ``<|end|>`` and the reply has the shape the task asks for
  (a play's name, a speaker's name, one word, capitals, ...) whether or not it is right.
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
