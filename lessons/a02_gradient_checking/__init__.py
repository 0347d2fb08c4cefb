"""Assignment 2: gradient checking (exercises.py to fill in, graded by test_a02_gradient_checking.py)."""
