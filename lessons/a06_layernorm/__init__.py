"""Assignment 6: layer normalization (exercises.py to fill in, graded by test_a06_layernorm.py)."""
