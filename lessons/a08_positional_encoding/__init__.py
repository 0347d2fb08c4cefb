"""Assignment 8: positional encodings (the sinusoidal table, RoPE's tables, forward and backward)."""
