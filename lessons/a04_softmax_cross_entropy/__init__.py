"""Assignment 4: softmax and cross-entropy (exercises.py to fill in, graded by test_a04_softmax_cross_entropy.py)."""
