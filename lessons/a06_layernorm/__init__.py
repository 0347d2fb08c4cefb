"""Assignment 5: layer normalization (exercises.py to fill in, graded by test_a05_layernorm.py)."""
