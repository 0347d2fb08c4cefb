"""Assignment 7: attention (exercises.py to fill in, graded by test_a07_attention.py)."""
