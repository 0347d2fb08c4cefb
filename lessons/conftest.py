"""Chooses which implementation the assignment graders test.

    pytest lessons/a01_autograd --lesson-impl=exercises     # a student grading their own work
    NPGPT_LESSON_IMPL=exercises pytest lessons/a01_autograd # the same, by environment variable
    pytest lessons                                          # default: the reference solutions

A grader asks for the ``impl`` fixture: the module ``<its assignment package>.<solutions|exercises>``.
"""

from __future__ import annotations

import pytest

from lessons.grading import ENV_VAR, IMPLS, chosen_impl, load_impl


def pytest_addoption(parser):
    parser.addoption(
        "--lesson-impl",
        choices=IMPLS,
        default=None,
        help=f"which implementation the lesson graders test: solutions (default) or exercises "
        f"(your work); the environment variable {ENV_VAR} does the same",
    )


def pytest_report_header(config):
    return f"lessons: grading the {chosen_impl(config.getoption('--lesson-impl', default=None))} implementation"


@pytest.fixture
def impl(request):
    """The implementation under test, e.g. ``lessons.a01_autograd.exercises``."""
    package = request.module.__name__.rpartition(".")[0]
    return load_impl(package, chosen_impl(request.config.getoption("--lesson-impl", default=None)))


def pytest_configure(config):
    # a bad NPGPT_LESSON_IMPL is a usage error at startup, not an error in every test
    chosen_impl(config.getoption("--lesson-impl", default=None))
