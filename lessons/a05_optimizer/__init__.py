"""Assignment 5: the optimizer (AdamW, the learning-rate schedule, gradient clipping)."""
