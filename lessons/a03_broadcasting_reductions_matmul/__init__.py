"""Assignment 3: broadcasting, reductions, matmul (exercises.py to fill in, graded by its test file)."""
