"""Project-wide pytest setup: the lesson notebooks run with nbmake where nbmake is installed.

``--nbmake`` is switched on here rather than in pyproject's ``addopts``: there it made every pytest
command fail with "unrecognized arguments: --nbmake" on a machine without the test extra, a
student's ``pytest lessons/a01_autograd --lesson-impl=exercises`` included.
"""


def pytest_configure(config):
    if config.pluginmanager.hasplugin("nbmake"):
        config.option.nbmake = True


def pytest_report_header(config):
    if not config.pluginmanager.hasplugin("nbmake"):
        return "notebooks: not run, nbmake is not installed (pip install -e '.[test]')"
