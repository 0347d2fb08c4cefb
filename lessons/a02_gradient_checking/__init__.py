"""Assignment 2: gradient checking: checker.py (tasks in tasks.toml, graded by test_a02_gradient_checking.py)."""
