"""Assignment 6: positional encodings (the sinusoidal table, RoPE's tables, forward and backward)."""
