"""Assignment 1: autograd from scratch (exercises.py to fill in, graded by test_a01_autograd.py)."""
