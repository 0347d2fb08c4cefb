"""Assignment 9: the optimizer (AdamW, the learning-rate schedule, gradient clipping)."""
